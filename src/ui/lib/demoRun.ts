/**
 * The pre-trained demo run that ships with the app (src/train/demo-run.ts, DESIGN.md 9):
 * on the first open of a browser profile, the archive under the app's demo folder is
 * imported as a browser run through the Train tab's own import (importRunArchive), and
 * the Sim, Value and Embeddings tabs then preselect it and its dataset (useDemoDefaults)
 * so a newcomer sees a policy succeed, a value curve and t-SNE clusters without training.
 *
 * Once per profile: a marker in localStorage records the import, so a demo run the user
 * deleted stays deleted; a Web Lock and a look for the run's name keep two tabs opened
 * at once (or a marker lost with the run kept) from importing it twice. When the files
 * are missing or the fetch fails (offline, a build without them), the app works as
 * before: the console gets a line, the page nothing.
 */
import { useEffect, useRef } from 'react';
import { create } from 'zustand';
import { listRuns, type RunSummary } from '../../../worker/jobs/runs.ts';
import { isZipBytes } from '../../train/checkpoint-archive.ts';
import { DEMO_ARCHIVE, DEMO_DATASET, DEMO_DIR, DEMO_NAME, DEMO_RECORD, DEMO_SUITE, demoModeOf, parseDemoRecord, type DemoRecord } from '../../train/demo-run.ts';
import { importRunArchive } from '../tabs/train/runArchive.ts';
import { useCheckpoints } from '../tabs/value/checkpoints.ts';
import { replaceParams } from './useRoute.ts';

/** The browser run's name (run names are letters, digits, ".", "_" and "-"). */
export const DEMO_RUN = `${DEMO_NAME}-demo`;
/** The browser run of the demo's proposer (DemoRecord.proposer), when it acts as a pair. */
export const DEMO_POLICY_RUN = `${DEMO_NAME}-policy-demo`;
/** The demo folder's URL, relative to the app (public/demo is served as demo/). */
export const DEMO_URL = `${DEMO_DIR.replace(/^public\//, '')}/`;
/** The episode the Sim tab shows unless the recorded evaluation says it failed. */
export const DEMO_PREFERRED = { task: `${DEMO_SUITE}/touch_red`, state: 0 } as const;
// v2: the demo became a pair (a proposer beside the critic run); v3: the demo moved to the
// reach4 suite under new run names (reach4-cpu-demo), so a profile that imported the reach
// demo imports the new one once (the old runs stay until the user deletes them).
export const MARKER_KEY = 'prts.demoRun.v3';
const LOCK = 'prts-demo-run-import';

/** What the tabs preselect: the run, its dataset and, for the Sim tab, a recorded episode. */
export interface DemoDefaults {
  run: string;
  dataset: string;
  task: string;
  state: number;
  /** The head the recorded evaluation used (absent: the checkpoint's default, the DiT). */
  mode?: 'dit' | 'ar';
  /** The recorded evaluation's value-guided selection (absent: the plain policy). */
  candidates?: number;
  selectCalls?: number;
  coherent?: boolean;
  /** The proposer's run when the demo acts as a pair (the Sim tab's policy, with `run` as its critic). */
  policyRun?: string;
}

export type DemoStatus = { status: 'checking' } | { status: 'ready'; defaults: DemoDefaults } | { status: 'absent'; why: string };

export const useDemoRun = create<DemoStatus>(() => ({ status: 'checking' }));

/**
 * The Sim tab's episode: the preferred one (reach4/touch_red from initial state 0) when the
 * recorded evaluation scored it a success or there is no record, else the first recorded
 * success, so "Roll out" shows the policy succeeding; the preferred one when none did.
 */
export function demoEpisode(record: DemoRecord | null): { task: string; state: number } {
  const eps = record?.eval.episodes ?? [];
  const preferred = eps.find((e) => e.taskId === DEMO_PREFERRED.task && e.initState === DEMO_PREFERRED.state);
  if (!record || preferred?.success) return { ...DEMO_PREFERRED };
  const ok = eps.find((e) => e.success);
  return ok ? { task: ok.taskId, state: ok.initState } : { ...DEMO_PREFERRED };
}

/** The marker's defaults when it holds valid ones (anything else reads as no marker). */
export function parseMarker(text: string | null): DemoDefaults | null {
  if (!text) return null;
  try {
    const m = JSON.parse(text) as Partial<DemoDefaults>;
    const ok = typeof m.run === 'string' && typeof m.dataset === 'string' && typeof m.task === 'string' && Number.isInteger(m.state) && (m.mode === undefined || m.mode === 'dit' || m.mode === 'ar') && (m.candidates === undefined || Number.isInteger(m.candidates)) && (m.selectCalls === undefined || Number.isInteger(m.selectCalls)) && (m.coherent === undefined || typeof m.coherent === 'boolean') && (m.policyRun === undefined || typeof m.policyRun === 'string');
    return ok ? (m as DemoDefaults) : null;
  } catch {
    return null;
  }
}

/** What ensureDemoRun needs from the page; tests pass fakes. */
export interface DemoDeps {
  fetch: typeof fetch;
  storage: Pick<Storage, 'getItem' | 'setItem'>;
  listRuns(): Promise<RunSummary[]>;
  /** Imports an archive as the browser run `name`. */
  importRun(bytes: Uint8Array, runs: readonly RunSummary[], target: { file: string; name: string }): Promise<unknown>;
  /** Runs `f` while no other tab of this origin runs it (navigator.locks), or just runs it. */
  exclusive<T>(f: () => Promise<T>): Promise<T>;
  /** Where quiet notes go (the console). */
  note(message: string): void;
}

/** A demo file's bytes, or null when it is not there (a 404, or a host answering index.html). */
async function fetchDemoFile(deps: DemoDeps, file: string, looksRight: (b: Uint8Array) => boolean): Promise<Uint8Array | null> {
  let res: Response;
  try {
    res = await deps.fetch(DEMO_URL + file);
  } catch (e) {
    deps.note(`demo run: ${file} could not be fetched (${(e as Error).message})`);
    return null;
  }
  const bytes = res.ok ? new Uint8Array(await res.arrayBuffer()) : null;
  if (bytes && looksRight(bytes)) return bytes;
  deps.note(`demo run: ${file} is not served here (${res.ok ? 'not the file' : `HTTP ${res.status}`}); npm run demo:train makes it`);
  return null;
}

async function fetchRecord(deps: DemoDeps): Promise<DemoRecord | null> {
  const bytes = await fetchDemoFile(deps, DEMO_RECORD, (b) => b[0] === 0x7b /* '{' */);
  if (!bytes) return null;
  try {
    return parseDemoRecord(JSON.parse(new TextDecoder().decode(bytes)));
  } catch (e) {
    deps.note(`demo run: ${(e as Error).message}`);
    return null;
  }
}

async function importOnce(deps: DemoDeps): Promise<DemoStatus> {
  const marked = parseMarker(deps.storage.getItem(MARKER_KEY));
  if (marked) return { status: 'ready', defaults: marked };
  const runs = await deps.listRuns();
  if (!runs.some((r) => r.name === DEMO_RUN)) {
    const bytes = await fetchDemoFile(deps, DEMO_ARCHIVE, isZipBytes);
    if (!bytes) return { status: 'absent', why: `${DEMO_ARCHIVE} is not served` };
    await deps.importRun(bytes, runs, { file: DEMO_ARCHIVE, name: DEMO_RUN });
  }
  let record = await fetchRecord(deps);
  // A pair: the proposer too. Without it the critic run acts alone, as the plain policy
  // (the record's selection was measured for the pair).
  let pair = false;
  const proposer = record?.proposer;
  if (proposer) {
    const now = await deps.listRuns();
    if (now.some((r) => r.name === DEMO_POLICY_RUN)) pair = true;
    else {
      const bytes = await fetchDemoFile(deps, proposer.archive, isZipBytes);
      if (bytes) {
        await deps.importRun(bytes, now, { file: proposer.archive, name: DEMO_POLICY_RUN });
        pair = true;
      }
    }
    if (!pair) record = { ...record!, eval: { ...record!.eval, select: undefined } };
  }
  const sel = record?.eval.select;
  const defaults: DemoDefaults = {
    run: DEMO_RUN,
    dataset: DEMO_DATASET,
    ...demoEpisode(record),
    ...(record ? { mode: demoModeOf(record) } : {}),
    ...(sel ? { candidates: sel.candidates, selectCalls: sel.selectCalls, ...(sel.coherent ? { coherent: true } : {}) } : {}),
    ...(pair ? { policyRun: DEMO_POLICY_RUN } : {}),
  };
  deps.storage.setItem(MARKER_KEY, JSON.stringify(defaults));
  return { status: 'ready', defaults };
}

/** Imports the demo run unless this profile has had it; never throws (a failure is noted and reads as absent). */
export async function ensureDemoRun(deps: DemoDeps): Promise<DemoStatus> {
  let st: DemoStatus;
  try {
    st = await deps.exclusive(() => importOnce(deps));
  } catch (e) {
    deps.note(`demo run: not imported: ${(e as Error).message}`);
    st = { status: 'absent', why: (e as Error).message };
  }
  return st;
}

/** The page's dependencies. */
export function browserDemoDeps(): DemoDeps {
  return {
    fetch: (url) => fetch(new URL(String(url), document.baseURI)),
    storage: localStorage,
    listRuns,
    importRun: (bytes, runs, t) => importRunArchive(bytes, t.file, runs, { name: t.name, dataset: DEMO_DATASET }),
    exclusive: <T,>(f: () => Promise<T>) => (navigator.locks ? (navigator.locks.request(LOCK, f) as Promise<T>) : f()),
    note: (m) => console.info(m),
  };
}

/** Started once at page load (main.tsx); the tabs read the outcome from useDemoRun. */
export async function startDemoRun(): Promise<void> {
  useDemoRun.setState(await ensureDemoRun(browserDemoDeps()));
}

/**
 * Fills the tab's URL with the demo's choices when the tab was entered with no
 * parameters and the demo run is in this browser. Decided once per visit of the tab: any
 * parameter (a shared link, the user's choice, even one made before the import finished)
 * wins, and clearing the fields later does not bring the demo back.
 */
export function useDemoDefaults(params: Record<string, string>, fill: (d: DemoDefaults) => Record<string, string | number | null>): void {
  const demo = useDemoRun();
  const runs = useCheckpoints((s) => s.runs);
  const decided = useRef(false);
  useEffect(() => {
    if (decided.current) return;
    if (Object.keys(params).length) {
      decided.current = true;
      return;
    }
    // Wait for the import, and for the run list to show the run (a deleted demo run is not preselected).
    if (demo.status !== 'ready' || !runs.some((r) => r.name === demo.defaults.run)) return;
    decided.current = true;
    replaceParams(fill(demo.defaults));
  }, [params, demo, runs, fill]);
}
