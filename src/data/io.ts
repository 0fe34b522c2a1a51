/**
 * How dataset files are read and written. This is one of the only two host-specific
 * seams in the project (DESIGN.md 1): everything else in src/data works on these
 * interfaces, so the same reader runs over local files in Node and over HTTP range
 * requests in the browser.
 *
 * Paths are always relative to the dataset root and use '/' separators
 * (e.g. "meta/info.json", "data/chunk-000/file-000.parquet").
 */
export interface DatasetIO {
  /** Whole file. Rejects with an error naming the path when it does not exist. */
  readFile(path: string): Promise<Uint8Array>;
  /** Bytes [start, end) of a file (end exclusive, like Blob.slice). */
  readRange(path: string, start: number, end: number): Promise<Uint8Array>;
  /** File size in bytes. */
  size(path: string): Promise<number>;
  exists(path: string): Promise<boolean>;
}

/** A dataset root that can also be written (Node, or an in-memory store in tests). */
export interface WritableDatasetIO extends DatasetIO {
  /**
   * Replace `path` with `bytes` so that a reader or a crash sees either the old file or
   * the new one, never a mix: write a temp file next to it, fsync, rename, fsync the dir.
   * Temp files end in TEMP_SUFFIX so a later open can sweep what a crash left behind.
   */
  writeFileAtomic(path: string, bytes: Uint8Array): Promise<void>;
  mkdirp(dir: string): Promise<void>;
  /** Remove a file; a missing file is not an error. */
  remove(path: string): Promise<void>;
  /** Names (not paths) of entries directly under `dir`; [] when it does not exist. */
  list(dir: string): Promise<string[]>;
}

/** Suffix of in-progress files written by writeFileAtomic; never part of a dataset. */
export const TEMP_SUFFIX = '.tmp-prts';

export function joinPath(...parts: string[]): string {
  return parts.filter((p) => p.length > 0).join('/').replace(/\/+/g, '/');
}

/** Rejects "..", absolute and backslash paths: a dataset path must stay inside its root. */
export function checkRelativePath(path: string): string {
  if (path.startsWith('/') || path.includes('\\') || path.split('/').some((s) => s === '..')) {
    throw new Error(`dataset path "${path}" must be relative to the dataset root without ".."`);
  }
  return path;
}

type FetchLike = (input: string, init?: { headers?: Record<string, string>; method?: string }) => Promise<{
  ok: boolean;
  status: number;
  statusText: string;
  headers: { get(name: string): string | null };
  arrayBuffer(): Promise<ArrayBuffer>;
}>;

/**
 * How many bytes from a file's end httpIO's size() fetches with the size: one suffix-range
 * GET answers both "how large is it" and the parquet footer read that always follows
 * (openParquet reads this many bytes from the end), so opening a parquet file over HTTP is
 * one request, and a file this small is read whole by it.
 */
export const HTTP_TAIL_BYTES = 64 * 1024;

const PARQUET = /\.parquet$/;

/**
 * Read-only access to a dataset served over HTTP (the workbench server, or any static
 * server that honours Range). Parquet footers and column chunks are fetched with range
 * requests, so opening an episode does not download the whole file. size() is a GET of
 * the last HTTP_TAIL_BYTES (`Range: bytes=-N`), the total taken from Content-Range; those
 * bytes are kept and serve later readRange calls that fall inside them.
 */
export function httpIO(baseUrl: string, fetchFn: FetchLike = globalThis.fetch as unknown as FetchLike): DatasetIO {
  const base = baseUrl.endsWith('/') ? baseUrl : baseUrl + '/';
  const url = (path: string) => base + checkRelativePath(path).split('/').map(encodeURIComponent).join('/');
  // One size request per path, shared by concurrent callers; a failed one is forgotten.
  const sizes = new Map<string, Promise<number>>();
  /** The end of each sized file: `bytes` are the file's bytes from `start` to its end. */
  const tails = new Map<string, { start: number; bytes: Uint8Array }>();
  const fail = (path: string, res: { status: number; statusText: string }) =>
    Object.assign(new Error(`GET ${url(path)} failed: HTTP ${res.status} ${res.statusText}`), { status: res.status });

  /** Bytes [start, end) of a file by an explicit Range GET. */
  async function fetchRange(path: string, start: number, end: number): Promise<Uint8Array> {
    const res = await fetchFn(url(path), { headers: { Range: `bytes=${start}-${end - 1}` } });
    if (!res.ok) throw fail(path, res);
    const bytes = new Uint8Array(await res.arrayBuffer());
    // A server that ignores Range answers 200 with the whole file; slice rather than
    // silently hand hyparquet the wrong bytes.
    if (res.status === 200) return bytes.slice(start, end);
    if (bytes.length !== end - start) {
      throw new Error(`range ${start}-${end - 1} of ${url(path)} returned ${bytes.length} bytes, expected ${end - start}`);
    }
    return bytes;
  }

  async function fetchSize(path: string): Promise<number> {
    const suffix = `bytes=-${HTTP_TAIL_BYTES}`;
    const res = await fetchFn(url(path), { headers: { Range: suffix } });
    const contentRange = res.headers.get('content-range');
    const bad = (problem: string) => new Error(`GET ${url(path)} with Range ${suffix}: ${problem}; cannot tell the file size`);
    if (res.status === 416) {
      const star = /^bytes \*\/(\d+)$/.exec(contentRange?.trim() ?? '');
      if (!star) throw bad(`HTTP 416 ${res.statusText} with ${contentRange === null ? 'no Content-Range' : `Content-Range "${contentRange}"`} (expected "bytes */<size>")`);
      const total = Number(star[1]);
      // No suffix of an empty file is satisfiable: the server answers `bytes */0`.
      if (total === 0) {
        tails.set(path, { start: 0, bytes: new Uint8Array(0) });
        return 0;
      }
      // The suffix was refused on the way although the file is not empty: Chromium's HTTP
      // cache answers a suffix range over a partly cached entry with 416 (seen in the app
      // after the worker had read the same tail). The size is known now; fetch the same
      // tail as an explicit range.
      const start = Math.max(0, total - HTTP_TAIL_BYTES);
      tails.set(path, { start, bytes: await fetchRange(path, start, total) });
      return total;
    }
    if (!res.ok) throw fail(path, res);
    const bytes = new Uint8Array(await res.arrayBuffer());
    // A server without range support answers 200 with the whole file.
    if (res.status !== 206) {
      tails.set(path, { start: 0, bytes });
      return bytes.length;
    }
    const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(contentRange?.trim() ?? '');
    if (!m) throw bad(`HTTP 206 with ${contentRange === null ? 'no Content-Range' : `a malformed Content-Range "${contentRange}"`}`);
    const [first, last, total] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (last !== total - 1 || first > last || bytes.length !== last - first + 1) {
      throw bad(`Content-Range "${contentRange}" with ${bytes.length} bytes is not the end of the file`);
    }
    tails.set(path, { start: first, bytes });
    return total;
  }

  function sizeOf(path: string): Promise<number> {
    let known = sizes.get(path);
    if (!known) {
      known = fetchSize(path);
      sizes.set(path, known);
      const mine = known;
      mine.catch(() => { if (sizes.get(path) === mine) sizes.delete(path); });
    }
    return known;
  }

  return {
    async readFile(path) {
      const res = await fetchFn(url(path));
      if (!res.ok) throw fail(path, res);
      return new Uint8Array(await res.arrayBuffer());
    },
    async readRange(path, start, end) {
      if (end <= start) return new Uint8Array(0);
      const tail = tails.get(path);
      if (tail && start >= tail.start && end <= tail.start + tail.bytes.length) {
        return tail.bytes.slice(start - tail.start, end - tail.start);
      }
      return fetchRange(path, start, end);
    },
    size: sizeOf,
    async exists(path) {
      // A parquet file is always sized and its footer read next: the sizing GET answers
      // "does it exist" too, so the check costs no request of its own.
      if (PARQUET.test(path)) {
        try {
          await sizeOf(path);
          return true;
        } catch (e) {
          if ((e as { status?: number }).status === 404) return false;
          throw e;
        }
      }
      const res = await fetchFn(url(path), { method: 'HEAD' });
      if (res.ok) return true;
      if (res.status === 404) return false;
      throw fail(path, res);
    },
  };
}

/** A dataset held in memory: for tests, and for building a dataset in the browser before upload. */
export function memoryIO(files: Map<string, Uint8Array> = new Map()): WritableDatasetIO & { files: Map<string, Uint8Array> } {
  const get = (path: string) => {
    const f = files.get(checkRelativePath(path));
    if (!f) throw new Error(`no such file in dataset: ${path}`);
    return f;
  };
  return {
    files,
    async readFile(path) { return get(path).slice(); },
    async readRange(path, start, end) { return get(path).slice(start, end); },
    async size(path) { return get(path).length; },
    async exists(path) { return files.has(path); },
    async writeFileAtomic(path, bytes) { files.set(checkRelativePath(path), bytes.slice()); },
    async mkdirp() {},
    async remove(path) { files.delete(path); },
    async list(dir) {
      const prefix = dir === '' ? '' : dir.replace(/\/$/, '') + '/';
      const names = new Set<string>();
      for (const p of files.keys()) if (p.startsWith(prefix)) names.add(p.slice(prefix.length).split('/')[0]);
      return [...names].sort();
    },
  };
}
