/**
 * PRTS checkpoints made in the browser (worker/jobs/pretrain.ts, posttrain.ts), kept in
 * IndexedDB as the checkpoint directory's files (latest.json, step-XXXXXXXX/
 * model.safetensors, config.json, tokenizers.json, ... exactly what
 * src/train/checkpoint.ts writes), so they load with the same loadCheckpoint as a
 * folder from disk. Separate from the Train tab's tensor-only checkpoint store
 * (src/ui/lib/checkpoints.ts): these carry config and tokenizers.
 *
 * Two object stores: `runs` holds each run's files, `summaries` its RunSummary, so
 * listing runs never reads checkpoint bytes. A save writes both in one transaction, so
 * a crash mid-save leaves the previous checkpoint of the run whole. Saves are announced
 * on a BroadcastChannel (runs-channel.ts; worker and page alike), so lists refresh.
 *
 * Plain IndexedDB, no GPU: the worker writes runs, and the Train, Value and Embeddings
 * tabs read the summaries directly to list them.
 */
import { memoryIO } from '../../src/data/index.ts';
import type { WorkbenchConfig } from '../../src/model/config.ts';
import { loadCheckpoint, type CheckpointData } from '../../src/train/checkpoint.ts';
import { announceRunsChange } from './runs-channel.ts';

export { onRunsChanged, type RunsChange } from './runs-channel.ts';

export type RunKind = 'pretrain' | 'posttrain';

export interface RunSummary {
  name: string;
  createdAt: number;
  /** When the latest checkpoint was saved (runs saved before this was recorded: absent). */
  updatedAt?: number;
  dataset: string;
  /** 'pretrain': backbone (BC + CRL); 'posttrain': backbone + DiT action expert. Older runs are 'pretrain'. */
  kind: RunKind;
  /** Optimizer steps completed: the step of the saved checkpoint (post-training steps for a posttrain run). */
  steps: number;
  /** Planned length of the run (its schedule); steps < totalSteps: interrupted or still running. */
  totalSteps?: number;
  /** Whether the backbone was pre-trained with the CRL blocks, and its lambda_crl. */
  withCrl: boolean;
  lambdaCrl: number;
  bytes: number;
  /** Post-training: the pre-training run it started from, and whether the backbone was frozen. */
  source?: string;
  freezeBackbone?: boolean;
  /**
   * The checkpoint's config (a few hundred bytes), so tabs can check a run (cameras,
   * image size, state/action dims, chunk) without reading its files. Absent in runs saved
   * before it was recorded: read config.json from the files then.
   */
  config?: WorkbenchConfig;
  /** The archive file the run was imported from (Train tab, Browser runs). */
  importedFrom?: string;
}

interface RunRecord extends RunSummary {
  files: Record<string, Uint8Array>;
}

const DB = 'prts-runs';
const STORE = 'runs';
const SUMMARIES = 'summaries';
let dbp: Promise<IDBDatabase> | null = null;

/** A summary as stored, with the fields older records lack filled in. */
function normalize(s: RunSummary): RunSummary {
  return { ...s, kind: s.kind ?? 'pretrain' };
}

function summaryOf(rec: RunRecord): RunSummary {
  const { files: _f, ...s } = rec;
  void _f;
  return normalize(s);
}

function open(): Promise<IDBDatabase> {
  dbp ??= new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 2);
    req.onupgradeneeded = (ev) => {
      const db = req.result;
      if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE, { keyPath: 'name' });
      if (!db.objectStoreNames.contains(SUMMARIES)) {
        const sums = db.createObjectStore(SUMMARIES, { keyPath: 'name' });
        // Version 1 kept only full records: derive their summaries once.
        if (ev.oldVersion >= 1) {
          const cur = req.transaction!.objectStore(STORE).openCursor();
          cur.onsuccess = () => {
            const c = cur.result;
            if (!c) return;
            sums.put(summaryOf(c.value as RunRecord));
            c.continue();
          };
        }
      }
    };
    req.onsuccess = () => {
      const db = req.result;
      // Another context upgrading the database: let it, and reopen on the next call.
      db.onversionchange = () => {
        db.close();
        dbp = null;
      };
      resolve(db);
    };
    req.onerror = () => {
      dbp = null;
      reject(new Error(`IndexedDB unavailable: ${req.error?.message ?? 'unknown error'} (private mode or storage disabled?)`));
    };
    req.onblocked = () => console.warn('prts-runs: the database upgrade waits for another tab of the workbench to close');
  });
  return dbp;
}

function wait<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('IndexedDB request failed'));
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted (storage quota?)'));
  });
}


/** Saves (replaces) a run: its files and summary in one transaction. */
export async function putRun(rec: Omit<RunRecord, 'bytes'>): Promise<RunSummary> {
  const db = await open();
  const bytes = Object.values(rec.files).reduce((a, b) => a + b.byteLength, 0);
  const full: RunRecord = { ...rec, bytes };
  const summary = summaryOf(full);
  const tx = db.transaction([STORE, SUMMARIES], 'readwrite');
  tx.objectStore(STORE).put(full);
  tx.objectStore(SUMMARIES).put(summary);
  await done(tx);
  announceRunsChange({ name: rec.name, steps: rec.steps });
  return summary;
}

/** Every run's summary, newest first (by last save). */
export async function listRuns(): Promise<RunSummary[]> {
  const db = await open();
  const all = (await wait(db.transaction(SUMMARIES).objectStore(SUMMARIES).getAll())) as RunSummary[];
  return all.map(normalize).sort((a, b) => (b.updatedAt ?? b.createdAt) - (a.updatedAt ?? a.createdAt));
}

/** One run's summary, or null when there is none of that name. */
export async function getRun(name: string): Promise<RunSummary | null> {
  const db = await open();
  const s = (await wait(db.transaction(SUMMARIES).objectStore(SUMMARIES).get(name))) as RunSummary | undefined;
  return s ? normalize(s) : null;
}

export async function getRunFiles(name: string): Promise<Record<string, Uint8Array>> {
  const db = await open();
  const rec = (await wait(db.transaction(STORE).objectStore(STORE).get(name))) as RunRecord | undefined;
  if (!rec) throw new Error(`no browser checkpoint named "${name}" (it may have been made in another browser profile)`);
  return rec.files;
}

export async function deleteRun(name: string): Promise<void> {
  const db = await open();
  const tx = db.transaction([STORE, SUMMARIES], 'readwrite');
  tx.objectStore(STORE).delete(name);
  tx.objectStore(SUMMARIES).delete(name);
  await done(tx);
  announceRunsChange({ name });
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
