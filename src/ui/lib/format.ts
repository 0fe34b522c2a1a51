/** Small display formatters shared by the tabs. */
export function formatDuration(sec: number | null | undefined): string {
  if (sec === null || sec === undefined || !Number.isFinite(sec)) return '—';
  const s = Math.round(sec);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function formatRate(v: number, unit: string): string {
  if (!Number.isFinite(v) || v <= 0) return `— ${unit}/s`;
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)} M ${unit}/s`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)} k ${unit}/s`;
  return `${v.toFixed(v < 10 ? 2 : 0)} ${unit}/s`;
}

export function formatNumber(v: number | undefined, digits = 4): string {
  if (v === undefined || Number.isNaN(v)) return '—';
  if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5)) return v.toExponential(digits - 1);
  return v.toPrecision(digits);
}

/**
 * The one way the app writes a size: decimal units (kB, MB, GB), the convention the
 * worker's job logs use too, so a run listed as "2.34 MB" is the same number its
 * "saved browser run" log line printed.
 */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '—';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`;
}

export function downloadBytes(bytes: Uint8Array, filename: string, type = 'application/octet-stream'): void {
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
