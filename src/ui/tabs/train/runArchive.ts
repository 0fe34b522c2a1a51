/**
 * Browser runs in and out as one file (`<run>.prts.zip`, src/train/checkpoint-archive.ts):
 * Download packs the run's checkpoint directory exactly as IndexedDB holds it, plus
 * run.json (what only the run summary knows: dataset, source run, dates); "Import"
 * checks an archive with loadCheckpoint and stores it as a new browser run. No React,
 * no GPU: the UI thread does both (IndexedDB reads and writes, no tensor math).
 */
import { getRun, getRunFiles, putRun, type RunSummary } from '../../../../worker/jobs/runs.ts';
import { memoryIO } from '../../../data/io.ts';
import { loadCheckpoint, stepDirName, type CheckpointData } from '../../../train/checkpoint.ts';
import { archiveFileName, packCheckpoint, RUN_INFO_FILE, runNameFromArchive, unpackCheckpoint } from '../../../train/checkpoint-archive.ts';
import type { PostTrainerState } from '../../../train/trainer-state.ts';
import { uniqueRunName } from './prtsJobs.ts';

/** run.json in a browser run's archive. */
export interface RunInfo {
  type: 'prts-browser-run';
  version: 1;
  name: string;
  dataset: string;
  createdAt: number;
  updatedAt?: number;
  totalSteps?: number;
  source?: string;
}

const enc = new TextEncoder();

/** The archive of a browser run and its file name. */
export async function exportRunArchive(name: string): Promise<{ bytes: Uint8Array; fileName: string }> {
  const run = await getRun(name);
  if (!run) throw new Error(`there is no browser run "${name}" to download`);
  const info: RunInfo = { type: 'prts-browser-run', version: 1, name, dataset: run.dataset, createdAt: run.createdAt, updatedAt: run.updatedAt, totalSteps: run.totalSteps, source: run.source };
  const files = { ...(await getRunFiles(name)), [RUN_INFO_FILE]: enc.encode(JSON.stringify(info, null, 2) + '\n') };
  return { bytes: packCheckpoint(files, run.updatedAt ?? run.createdAt), fileName: archiveFileName(name) };
}

/** run.json's fields that check out; an archive without one (made from a Node run) gives {}. */
export function parseRunInfo(bytes: Uint8Array | undefined): Partial<RunInfo> {
  if (!bytes) return {};
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return {};
  }
  if (!v || typeof v !== 'object' || (v as RunInfo).type !== 'prts-browser-run') return {};
  const o = v as Record<string, unknown>;
  const out: Partial<RunInfo> = {};
  if (typeof o.name === 'string') out.name = o.name;
  if (typeof o.dataset === 'string') out.dataset = o.dataset;
  if (typeof o.source === 'string') out.source = o.source;
  for (const k of ['createdAt', 'updatedAt', 'totalSteps'] as const) if (typeof o[k] === 'number' && Number.isFinite(o[k])) out[k] = o[k] as number;
  return out;
}

/**
 * The files a browser run keeps for a checked checkpoint: a run directory as is; a
 * single step directory moved under its step-XXXXXXXX/ with a latest.json, as
 * saveCheckpoint lays out a run, so continuing it prunes cleanly.
 */
export function runFilesOf(files: Map<string, Uint8Array>, data: CheckpointData): Record<string, Uint8Array> {
  const out = Object.fromEntries([...files].filter(([p]) => p !== RUN_INFO_FILE));
  if ('latest.json' in out) return out;
  const dir = stepDirName(data.trainer.step);
  const moved = Object.fromEntries(Object.entries(out).map(([p, b]) => [`${dir}/${p}`, b]));
  moved['latest.json'] = enc.encode(JSON.stringify({ dir, step: data.trainer.step }) + '\n');
  return moved;
}

/**
 * Stores an archive (a browser run's download, or a zipped Node run or step directory)
 * as a new browser run, named after run.json or the file (made unique among `runs`).
 * `as` overrides what run.json would say (the shipped demo run has none, and is stored
 * under its own name with its dataset). Throws the archive's or the checkpoint's error,
 * naming the file.
 */
export async function importRunArchive(bytes: Uint8Array, fileName: string, runs: readonly RunSummary[], as: { name?: string; dataset?: string } = {}): Promise<RunSummary> {
  const files = await unpackCheckpoint(bytes, fileName);
  const data = await loadCheckpoint(memoryIO(new Map(files))).catch((e: Error) => {
    throw new Error(`${fileName}: ${e.message}`);
  });
  const info = { ...parseRunInfo(files.get(RUN_INFO_FILE)), ...as };
  const now = Date.now();
  const post = data.trainer.kind === 'posttrain' ? (data.trainer as PostTrainerState) : null;
  return putRun({
    name: uniqueRunName(info.name ?? runNameFromArchive(fileName), runs),
    createdAt: info.createdAt ?? now,
    updatedAt: now,
    dataset: info.dataset ?? '',
    kind: data.trainer.kind,
    steps: data.trainer.step,
    totalSteps: info.totalSteps ?? data.trainer.steps,
    withCrl: data.trainer.withCrl,
    lambdaCrl: data.config.train.lambdaCrl,
    ...(post ? { source: info.source ?? '', freezeBackbone: post.freezeBackbone } : {}),
    config: data.config,
    importedFrom: fileName,
    files: runFilesOf(files, data),
  });
}
