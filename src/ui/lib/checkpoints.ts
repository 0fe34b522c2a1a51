/**
 * Checkpoints in IndexedDB: they survive reloads and crashes and can be large (tens of
 * MB), which rules out localStorage. Stored as raw ArrayBuffers per tensor; listing
 * reads only the small summary records, so the list stays fast with many checkpoints.
 */
import type { NamedTensor } from '../../train/safetensors.ts';

export interface CheckpointSummary {
  id: number;
  name: string;
  jobKind: string;
  step: number;
  createdAt: number;
  bytes: number;
  tensorCount: number;
  metadata: Record<string, string>;
}

export interface Checkpoint extends CheckpointSummary {
  tensors: NamedTensor[];
}

const DB = 'prts-workbench';
const VERSION = 1;
const SUMMARIES = 'checkpoint-summaries';
const BLOBS = 'checkpoint-tensors';

let dbp: Promise<IDBDatabase> | null = null;

function open(): Promise<IDBDatabase> {
  dbp ??= new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, VERSION);
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains(SUMMARIES)) db.createObjectStore(SUMMARIES, { keyPath: 'id', autoIncrement: true });
      if (!db.objectStoreNames.contains(BLOBS)) db.createObjectStore(BLOBS);
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => {
      dbp = null;
      reject(new Error(`IndexedDB unavailable: ${req.error?.message ?? 'unknown error'} (private mode or storage disabled?)`));
    };
  });
  return dbp;
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted (storage quota exceeded?)'));
  });
}

function req<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

export async function saveCheckpoint(c: Omit<Checkpoint, 'id' | 'bytes' | 'tensorCount'>): Promise<CheckpointSummary> {
  const db = await open();
  const tx = db.transaction([SUMMARIES, BLOBS], 'readwrite');
  const bytes = c.tensors.reduce((a, t) => a + t.data.byteLength, 0);
  const summary = { name: c.name, jobKind: c.jobKind, step: c.step, createdAt: c.createdAt, bytes, tensorCount: c.tensors.length, metadata: c.metadata };
  const id = (await req(tx.objectStore(SUMMARIES).add(summary))) as number;
  // One transaction for both stores: a crash leaves either the whole checkpoint or none.
  tx.objectStore(BLOBS).put(
    c.tensors.map((t) => ({ name: t.name, shape: t.shape, data: t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength) })),
    id,
  );
  await done(tx);
  return { id, ...summary };
}

export async function listCheckpoints(): Promise<CheckpointSummary[]> {
  const db = await open();
  const all = (await req(db.transaction(SUMMARIES).objectStore(SUMMARIES).getAll())) as CheckpointSummary[];
  return all.sort((a, b) => b.createdAt - a.createdAt);
}

export async function loadCheckpoint(id: number): Promise<Checkpoint> {
  const db = await open();
  const tx = db.transaction([SUMMARIES, BLOBS]);
  const [summary, raw] = await Promise.all([
    req(tx.objectStore(SUMMARIES).get(id)) as Promise<CheckpointSummary | undefined>,
    req(tx.objectStore(BLOBS).get(id)) as Promise<{ name: string; shape: number[]; data: ArrayBuffer }[] | undefined>,
  ]);
  if (!summary || !raw) throw new Error(`checkpoint ${id} not found (deleted in another tab?)`);
  return { ...summary, tensors: raw.map((t) => ({ name: t.name, shape: t.shape, data: new Float32Array(t.data) })) };
}

export async function deleteCheckpoint(id: number): Promise<void> {
  const db = await open();
  const tx = db.transaction([SUMMARIES, BLOBS], 'readwrite');
  tx.objectStore(SUMMARIES).delete(id);
  tx.objectStore(BLOBS).delete(id);
  await done(tx);
}
