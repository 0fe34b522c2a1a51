/**
 * Checkpoints the Value, Embeddings and Sim tabs can read: browser runs (IndexedDB,
 * written by the pretrain job) and checkpoint folders or archives (.prts.zip) dropped on
 * the page (kept for the session: File contents cannot be persisted). Either becomes a
 * CheckpointSource for a job.
 */
import { create } from 'zustand';
import type { CheckpointSource, RunSummary } from '../../../../worker/jobs/runs.ts';
import { listRuns } from '../../../../worker/jobs/runs.ts';
import { onRunsChanged } from '../../../../worker/jobs/runs-channel.ts';
import { checkpointRoot as findRoot, runNameFromArchive, unpackCheckpoint } from '../../../train/checkpoint-archive.ts';

export const DROPPED_PREFIX = 'dropped:';

/** The root of a dropped checkpoint: the folder holding latest.json (a run) or trainer.json (one step). */
export function checkpointRoot(paths: readonly string[]): string {
  const root = findRoot(paths);
  if (root === null) throw new Error('no latest.json or trainer.json among the dropped files: drop a checkpoint folder (npm run train --out, or a step-XXXXXXXX folder) or a .prts.zip archive');
  return root;
}

/** A dropped checkpoint archive's files (the Train tab's Download, or a zipped run folder). */
export async function archiveCheckpointFiles(file: File): Promise<{ label: string; files: Record<string, Uint8Array> }> {
  const files = await unpackCheckpoint(new Uint8Array(await file.arrayBuffer()), file.name);
  return { label: runNameFromArchive(file.name) || 'checkpoint archive', files: Object.fromEntries(files) };
}

/** A dropped checkpoint folder's files, or, when no folder holds one, the first dropped .zip archive's. */
export async function droppedCheckpointFiles(files: Map<string, File>): Promise<{ label: string; files: Record<string, Uint8Array> }> {
  const zip = [...files].find(([p]) => /\.zip$/i.test(p));
  if (zip && findRoot([...files.keys()]) === null) return archiveCheckpointFiles(zip[1]);
  const root = checkpointRoot([...files.keys()]);
  const out: Record<string, Uint8Array> = {};
  for (const [p, f] of files) if (p.startsWith(root)) out[p.slice(root.length)] = new Uint8Array(await f.arrayBuffer());
  const label = root.replace(/\/$/, '').split('/').pop() || 'dropped checkpoint';
  return { label, files: out };
}

/** Reads a dropped or opened checkpoint and keeps it for the session; its picker id (`dropped:<label>`). */
export async function keepDroppedCheckpoint(read: () => Promise<{ label: string; files: Record<string, Uint8Array> }>): Promise<string> {
  const { label, files } = await read();
  return useCheckpoints.getState().addDropped(label, files);
}

interface CheckpointsState {
  runs: RunSummary[];
  error: string | null;
  dropped: Record<string, Record<string, Uint8Array>>;
  refresh(): Promise<void>;
  addDropped(label: string, files: Record<string, Uint8Array>): string;
}

let listening = false;

export const useCheckpoints = create<CheckpointsState>((set, get) => ({
  runs: [],
  error: null,
  dropped: {},
  async refresh() {
    // From the first refresh on, runs saved or deleted anywhere (the worker, another tab) refresh the list.
    if (!listening && typeof window !== 'undefined') {
      listening = true;
      onRunsChanged(() => void get().refresh());
    }
    try {
      set({ runs: await listRuns(), error: null });
    } catch (e) {
      set({ error: e instanceof Error ? e.message : String(e) });
    }
  },
  addDropped(label, files) {
    let id = `${DROPPED_PREFIX}${label}`;
    for (let k = 2; id in get().dropped; k++) id = `${DROPPED_PREFIX}${label}-${k}`;
    set({ dropped: { ...get().dropped, [id]: files } });
    return id;
  },
}));

/** The job source for a checkpoint id from the URL (a run name, or dropped:<label>); null when gone. */
export function sourceFor(id: string, dropped: Record<string, Record<string, Uint8Array>>): CheckpointSource | null {
  if (id.startsWith(DROPPED_PREFIX)) {
    const files = dropped[id];
    return files ? { files, label: id.slice(DROPPED_PREFIX.length) } : null;
  }
  return id ? { run: id } : null;
}
