/**
 * The browser side of checkpoint archives without IndexedDB (the e2e test covers the
 * Download button and the import): run.json, how an archive becomes a browser run's
 * files, dropped archives in the Value/Embeddings/Sim pickers, the Sim tab's peek from a
 * run summary, the Train tab's default job and the forms for an imported run.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { memoryIO } from '../../../src/data/index.ts';
import { PRESETS, validateConfig } from '../../../src/model/config.ts';
import { Runtime } from '../../../src/engine/runtime.ts';
import { loadCheckpoint, saveCheckpoint, type CheckpointData } from '../../../src/train/checkpoint.ts';
import { packCheckpoint, RUN_INFO_FILE, unpackCheckpoint } from '../../../src/train/checkpoint-archive.ts';
import { Pretrainer } from '../../../src/train/pretrain.ts';
import { peekCheckpointFiles } from '../../../src/train/rollout-record.ts';
import { runPeek } from '../../../src/ui/tabs/sim/policyParams.ts';
import { defaultJobKind, posttrainForm, pretrainForm } from '../../../src/ui/tabs/train/prtsJobs.ts';
import { parseRunInfo, runFilesOf } from '../../../src/ui/tabs/train/runArchive.ts';
import { collectDropped } from '../../../src/ui/lib/fileIO.ts';
import { droppedCheckpointFiles, keepDroppedCheckpoint, sourceFor, useCheckpoints } from '../../../src/ui/tabs/value/checkpoints.ts';
import type { RunSummary } from '../../../worker/jobs/runs.ts';
import { makeFixture } from '../model/batch.dataset.ts';
import { tinyConfig } from '../train/pretrain.helpers.ts';

let files: Map<string, Uint8Array>;
let data: CheckpointData;

beforeAll(async () => {
  const rt = await Runtime.create();
  const fx = await makeFixture();
  const io = memoryIO();
  try {
    const tr = await Pretrainer.create(rt, tinyConfig({ steps: 2, warmupSteps: 1 }), fx.reader);
    try {
      await tr.step();
      await saveCheckpoint(io, await tr.checkpoint());
    } finally {
      tr.dispose();
    }
  } finally {
    rt.destroy();
  }
  files = io.files;
  data = await loadCheckpoint(io);
}, 120_000);

const summary = (o: Partial<RunSummary> = {}): RunSummary => ({ name: 'r', createdAt: 0, dataset: 'demo', kind: 'pretrain', steps: 1, totalSteps: 1, withCrl: true, lambdaCrl: 1, bytes: 1, ...o });

describe('browser runs and archives', () => {
  test('run.json: fields that check out are kept, anything else is ignored', () => {
    const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
    expect(parseRunInfo(enc({ type: 'prts-browser-run', version: 1, name: 'a', dataset: 'demo7', createdAt: 5, totalSteps: 3, source: 'p' }))).toEqual({ name: 'a', dataset: 'demo7', createdAt: 5, totalSteps: 3, source: 'p' });
    expect(parseRunInfo(enc({ type: 'prts-browser-run', name: 7, dataset: null, createdAt: 'x' }))).toEqual({});
    expect(parseRunInfo(enc({ name: 'no type' }))).toEqual({});
    expect(parseRunInfo(new TextEncoder().encode('{oops'))).toEqual({});
    expect(parseRunInfo(undefined)).toEqual({});
  });

  test('a run directory is kept as is (run.json dropped); a lone step directory is laid out as a run', async () => {
    const withInfo = new Map([...files, [RUN_INFO_FILE, new Uint8Array(2)]]);
    const kept = runFilesOf(withInfo, data);
    expect(Object.keys(kept).sort()).toEqual([...files.keys()].sort());
    const step = new Map([...files].filter(([p]) => p.startsWith('step-00000001/')).map(([p, b]) => [p.slice(14), b]));
    const laid = runFilesOf(await unpackCheckpoint(packCheckpoint(step), 'step.zip'), data);
    expect(Object.keys(laid).sort()).toEqual([...files.keys()].sort());
    const again = await loadCheckpoint(memoryIO(new Map(Object.entries(laid))));
    expect(again.trainer).toEqual(data.trainer);
    expect(again.params.map((t) => t.name)).toEqual(data.params.map((t) => t.name));
  });

  test('a dropped .prts.zip gives the checkpoint files; a folder beside it wins; junk is named', async () => {
    const zip = new File([packCheckpoint(files) as BlobPart], 'my-run.prts.zip');
    const got = await droppedCheckpointFiles(new Map([['my-run.prts.zip', zip]]));
    expect(got.label).toBe('my-run');
    expect(Object.keys(got.files).sort()).toEqual([...files.keys()].sort());
    expect(peekCheckpointFiles(got.files).step).toBe(1);
    const folder = new Map<string, File>([...files].map(([p, b]) => [`dir/${p}`, new File([b as BlobPart], p.split('/').pop()!)]));
    folder.set('other.zip', new File([new Uint8Array(3)], 'other.zip'));
    expect((await droppedCheckpointFiles(folder)).label).toBe('dir');
    await expect(droppedCheckpointFiles(new Map([['x.zip', new File([new Uint8Array(8)], 'x.zip')]]))).rejects.toThrow(/x\.zip is not a ZIP archive/);
    await expect(droppedCheckpointFiles(new Map([['a/model.safetensors', new File([], 'model.safetensors')]]))).rejects.toThrow(/no latest\.json or trainer\.json .* or a \.prts\.zip archive/);
  });

  test('a drop on the Sim or Value tab: the file of a drop with no file-system entry counts, the checkpoint is kept under a free id, a bad one is not', async () => {
    const zip = new File([packCheckpoint(files) as BlobPart], 'my-run.prts.zip');
    const item = (f: File) => ({ kind: 'file', webkitGetAsEntry: () => null, getAsFile: () => f });
    const text = { kind: 'string', webkitGetAsEntry: () => null, getAsFile: () => null };
    const collected = await collectDropped([item(zip), text] as unknown as DataTransferItemList);
    expect([...collected.keys()]).toEqual(['my-run.prts.zip']);

    const before = Object.keys(useCheckpoints.getState().dropped);
    const id = await keepDroppedCheckpoint(() => droppedCheckpointFiles(collected));
    expect(id).toBe('dropped:my-run');
    const again = await keepDroppedCheckpoint(() => droppedCheckpointFiles(collected));
    expect(again).toBe('dropped:my-run-2');
    // The id is what the Sim tab's policy selection resolves to a job source.
    const src = sourceFor(again, useCheckpoints.getState().dropped);
    expect(src && 'files' in src ? Object.keys(src.files).sort() : src).toEqual([...files.keys()].sort());
    expect(src && 'files' in src ? peekCheckpointFiles(src.files).step : null).toBe(1);

    const junk = new Map([['x.zip', new File([new Uint8Array(8)], 'x.zip')]]);
    await expect(keepDroppedCheckpoint(() => droppedCheckpointFiles(junk))).rejects.toThrow(/x\.zip is not a ZIP archive/);
    expect(Object.keys(useCheckpoints.getState().dropped)).toEqual([...before, id, again]);
  });

  test('the Sim tab reads a run from its summary as from its files', () => {
    const fromFiles = peekCheckpointFiles(Object.fromEntries(files));
    expect(runPeek(summary({ config: data.config, steps: data.trainer.step }))).toEqual(fromFiles);
    expect(runPeek(summary({ kind: 'posttrain', config: data.config }))?.hasDit).toBe(true);
    // Runs saved before summaries had the config: the files must be read.
    expect(runPeek(summary())).toBeNull();
  });

  test('the Train tab opens on PRTS pre-training unless the worker has no WebGPU adapter', () => {
    expect(defaultJobKind('ready')).toBe('pretrain');
    expect(defaultJobKind('starting')).toBe('pretrain');
    expect(defaultJobKind('restarting')).toBe('pretrain');
    expect(defaultJobKind('error')).toBe('cpu-mlp');
  });

  test('an imported run without a dataset says how to continue it', () => {
    const runs = [summary({ name: 'imp', dataset: '', steps: 3, totalSteps: 5 }), summary({ name: 'imp-post', kind: 'posttrain', dataset: '', steps: 2, totalSteps: 4, source: '' })];
    const ctx = { datasets: ['demo'], runs, config: validateConfig(PRESETS.tiny) };
    const pre = pretrainForm({ mode: 'continue', dataset: '', steps: 5, name: '', run: 'imp' }, 50, ctx);
    expect(pre.spec).toBeNull();
    expect(pre.errors.dataset).toMatch(/run "imp" records no dataset \(imported .*\): continue it with npm run train -- --resume/);
    const post = posttrainForm({ mode: 'continue', source: '', dataset: '', steps: 4, seed: 0, freezeBackbone: false, name: '', run: 'imp-post' }, 50, ctx);
    expect(post.errors.dataset).toMatch(/records no dataset/);
    // Post-training a new run from it works once a dataset is chosen.
    const fresh = posttrainForm({ mode: 'new', source: 'imp', dataset: 'demo', steps: 2, seed: 0, freezeBackbone: false, name: '', run: '' }, 50, ctx);
    expect(fresh.errors).toEqual({});
  });
});
