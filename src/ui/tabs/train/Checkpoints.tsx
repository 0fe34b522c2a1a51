/** Checkpoints stored in IndexedDB: list, inspect, download/import safetensors, continue training, delete. */
import { useEffect, useState } from 'react';
import { FileButton } from '../../components/FileButton.tsx';
import { formatBytes } from '../../lib/format.ts';
import { deleteCheckpoint, listCheckpoints, loadCheckpoint, saveCheckpoint, type Checkpoint, type CheckpointSummary } from '../../lib/checkpoints.ts';
import { downloadBytes, formatNumber } from '../../lib/format.ts';
import { decodeSafetensors, encodeSafetensors } from '../../../train/safetensors.ts';
import { useTrainStore } from '../../stores/train.ts';
import { cpuMlpErrors, useTrainSettings } from '../../stores/trainSettings.ts';

export function Checkpoints() {
  const version = useTrainStore((s) => s.checkpointVersion);
  const start = useTrainStore((s) => s.start);
  const cpuMlp = useTrainSettings((s) => s.cpuMlp);
  const [list, setList] = useState<CheckpointSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState<Checkpoint | null>(null);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    listCheckpoints().then(setList, (e: Error) => setError(e.message));
  }, [version, tick]);

  const act = (f: () => Promise<unknown>) => () => {
    setError(null);
    f().then(() => setTick((t) => t + 1), (e: Error) => setError(e.message));
  };

  const download = (id: number) =>
    act(async () => {
      const c = await loadCheckpoint(id);
      downloadBytes(encodeSafetensors(c.tensors, { ...c.metadata, job: c.jobKind, name: c.name }), `${c.name.replace(/[^A-Za-z0-9_.-]+/g, '_')}.safetensors`);
    });

  const importFile = async (f: File) => {
    const parsed = decodeSafetensors(new Uint8Array(await f.arrayBuffer()));
    await saveCheckpoint({
      name: f.name.replace(/\.safetensors$/, ''),
      jobKind: parsed.metadata.job ?? 'imported',
      step: Number(parsed.metadata.step ?? 0) || 0,
      createdAt: Date.now(),
      metadata: parsed.metadata,
      tensors: parsed.tensors,
    });
  };

  return (
    <div className="panel" data-testid="checkpoints">
      <div className="panel-head">
        <h2>Checkpoints</h2>
        <FileButton label="Import .safetensors…" accept=".safetensors" onFiles={([f]) => act(() => importFile(f))()} />
      </div>
      {error && <p className="field-error">{error}</p>}
      {list === null ? (
        <p className="muted">Loading…</p>
      ) : list.length === 0 ? (
        <p className="muted">None yet. The engine check and CPU MLP jobs save tensor checkpoints here as they run (IndexedDB, kept across reloads); PRTS runs are under Browser runs.</p>
      ) : (
        <div className="scroll">
          <table className="grid" data-testid="checkpoint-list">
            <thead><tr><th>name</th><th className="num">size</th><th /></tr></thead>
            <tbody>
              {list.map((c) => (
                <tr key={c.id} onClick={act(async () => setOpen(await loadCheckpoint(c.id)))}>
                  <td title={new Date(c.createdAt).toLocaleString()}>{c.name}</td>
                  <td className="num">{formatBytes(c.bytes)}</td>
                  <td onClick={(e) => e.stopPropagation()}>
                    <button type="button" onClick={download(c.id)} title="Download as safetensors">⤓</button>{' '}
                    {c.jobKind === 'cpu-mlp' && (
                      <button
                        type="button"
                        title="Continue training from these weights (CPU MLP settings of the job form)"
                        disabled={Object.keys(cpuMlpErrors(cpuMlp)).length > 0}
                        onClick={act(async () => {
                          const ck = await loadCheckpoint(c.id);
                          await start({ kind: 'cpu-mlp', params: { ...cpuMlp, init: ck.tensors } }, `cpu-mlp from ${c.name}`);
                        })}
                      >
                        ▶
                      </button>
                    )}{' '}
                    <button type="button" title="Delete" onClick={act(() => deleteCheckpoint(c.id).then(() => open?.id === c.id && setOpen(null)))}>✕</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {open && (
        <div style={{ marginTop: 8 }}>
          <h3>{open.name}</h3>
          <table className="grid">
            <thead><tr><th>tensor</th><th>shape</th><th className="num">mean</th><th className="num">std</th></tr></thead>
            <tbody>
              {open.tensors.map((t) => {
                let s = 0;
                let s2 = 0;
                for (const v of t.data) {
                  s += v;
                  s2 += v * v;
                }
                const mean = s / t.data.length;
                return (
                  <tr key={t.name}>
                    <td className="mono">{t.name}</td>
                    <td className="mono">[{t.shape.join(', ')}]</td>
                    <td className="num">{formatNumber(mean, 3)}</td>
                    <td className="num">{formatNumber(Math.sqrt(Math.max(0, s2 / t.data.length - mean * mean)), 3)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
