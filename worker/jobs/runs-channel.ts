/**
 * Announcements of browser-run saves and deletions (worker/jobs/runs.ts) on a
 * BroadcastChannel, heard by every page and worker of the origin: run lists refresh and
 * the Train tab shows the step a running job last saved. No imports, so the page's
 * stores can listen without loading the checkpoint code.
 */
export const RUNS_CHANNEL = 'prts-runs';

export interface RunsChange {
  name: string;
  /** The step just saved; absent when the run was deleted. */
  steps?: number;
}

export function announceRunsChange(change: RunsChange): void {
  if (typeof BroadcastChannel === 'undefined') return;
  const ch = new BroadcastChannel(RUNS_CHANNEL);
  ch.postMessage({ type: 'runs-changed', ...change });
  ch.close();
}

/** Calls `cb` whenever a run is saved or deleted in this origin (any tab or worker). Returns an unsubscribe. */
export function onRunsChanged(cb: (change: RunsChange) => void): () => void {
  if (typeof BroadcastChannel === 'undefined') return () => {};
  const ch = new BroadcastChannel(RUNS_CHANNEL);
  ch.onmessage = (e: MessageEvent<{ type?: string; name?: string; steps?: number }>) => {
    if (e.data?.type === 'runs-changed') cb({ name: String(e.data.name ?? ''), ...(typeof e.data.steps === 'number' ? { steps: e.data.steps } : {}) });
  };
  return () => ch.close();
}
