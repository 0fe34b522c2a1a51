/**
 * PRTS checkpoints made in the browser (worker/jobs/pretrain.ts), kept in IndexedDB as
 * the checkpoint directory's files (model.safetensors, config.json, tokenizers.json,
 * ... exactly what src/train/checkpoint.ts writes), so they load with the same
 * loadCheckpoint as a folder from disk. Separate from the Train tab's tensor-only
 * checkpoint store (src/ui/lib/checkpoints.ts): these carry config and tokenizers.
 *
 * Plain IndexedDB, no GPU: the worker writes runs, and the Value and Embeddings tabs
 * read the summaries directly to list them.
 */
import { memoryIO } from '../../src/data/index.ts';
import { loadCheckpoint, type CheckpointData } from '../../src/train/checkpoint.ts';

export interface RunSummary {
  name: string;
  createdAt: number;
  dataset: string;
  steps: number;
  withCrl: boolean;
  lambdaCrl: number;
  bytes: number;
}

interface RunRecord extends RunSummary {
  files: Record<string, Uint8Array>;
}

const DB = 'prts-runs';
const STORE = 'runs';
let dbp: Promise<IDBDatabase> | null = null;

function open(): Promise<IDBDatabase> {
  dbp ??= new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => {
      if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE, { keyPath: 'name' });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => {
      dbp = null;
      reject(new Error(`IndexedDB unavailable: ${req.error?.message ?? 'unknown error'} (private mode or storage disabled?)`));
    };
  });
  return dbp;
}

function wait<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('IndexedDB request failed'));
  });
}

export async function putRun(rec: Omit<RunRecord, 'bytes'>): Promise<RunSummary> {
  const db = await open();
  const bytes = Object.values(rec.files).reduce((a, b) => a + b.byteLength, 0);
  const full: RunRecord = { ...rec, bytes };
  const tx = db.transaction(STORE, 'readwrite');
  await wait(tx.objectStore(STORE).put(full));
  const { files: _f, ...summary } = full;
  void _f;
  return summary;
}

export async function listRuns(): Promise<RunSummary[]> {
  const db = await open();
  const all = (await wait(db.transaction(STORE).objectStore(STORE).getAll())) as RunRecord[];
  return all.map(({ files: _f, ...s }) => (void _f, s)).sort((a, b) => b.createdAt - a.createdAt);
}

export async function getRunFiles(name: string): Promise<Record<string, Uint8Array>> {
  const db = await open();
  const rec = (await wait(db.transaction(STORE).objectStore(STORE).get(name))) as RunRecord | undefined;
  if (!rec) throw new Error(`no browser checkpoint named "${name}" (it may have been made in another browser profile)`);
  return rec.files;
}

/** Where a job's checkpoint comes from: a browser run, or a dropped checkpoint folder's files. */
export type CheckpointSource = { run: string } | { files: Record<string, Uint8Array>; label: string };

export async function loadCheckpointSource(src: CheckpointSource): Promise<CheckpointData> {
  const files = 'run' in src ? await getRunFiles(src.run) : src.files;
  return loadCheckpoint(memoryIO(new Map(Object.entries(files))));
}

export function describeSource(src: CheckpointSource): string {
  return 'run' in src ? src.run : src.label;
}
