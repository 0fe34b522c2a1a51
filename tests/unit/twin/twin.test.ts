/**
 * The PyTorch twin (issue 12, DESIGN.md 13): batch shards, numerical parity with the
 * engine, data-parallel training under torchrun, and checkpoints that move both ways.
 * Python is Debian's python3-torch (.ci/run installs it; src/twin/python.ts finds it).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { nodeIO } from '../../../src/data/io-node.ts';
import { Runtime } from '../../../src/engine/runtime.ts';
import { loadCheckpoint, saveCheckpoint, toResume } from '../../../src/train/checkpoint.ts';
import { nodeCheckpointIO } from '../../../src/train/checkpoint-node.ts';
import { Pretrainer } from '../../../src/train/pretrain.ts';
import { decodeSafetensorsTyped, encodeSafetensors } from '../../../src/train/safetensors.ts';
import { twinCheckConfig, twinCheckReader, writeTwinCheck, type TwinCheckExpected } from '../../../src/twin/check-data.ts';
import { exportShards } from '../../../src/twin/export.ts';
import { twinAvailable } from '../../../src/twin/python.ts';
import { lastJson, twin } from './twin.helpers.ts';
import { ROLLOUT_TASKS, simShapedDataset, tinySimConfig } from '../train/rollout.helpers.ts';
import { decodeShard, encodeShard } from '../../../src/twin/shards.ts';

let rt: Runtime;
const dir = mkdtempSync(join(tmpdir(), 'prts-twin-test-'));
const STEPS = 6;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => {
  rt?.destroy();
  rmSync(dir, { recursive: true, force: true });
});


/** The synthetic dataset twin:check trains on. */
const checkDataset = () => twinCheckReader(twinCheckConfig(STEPS));

describe('safetensors with integer tensors', () => {
  test('F32, I32 and U8 round-trip with their dtypes; the f32 reader still rejects integers by name', () => {
    const bytes = encodeSafetensors(
      [
        { name: 'w', shape: [2, 2], data: new Float32Array([1.5, -2, 3, 4]) },
        { name: 'ids', shape: [3], data: new Int32Array([-1, 7, 2 ** 30]) },
        { name: 'roles', shape: [3], data: new Uint8Array([0, 4, 255]) },
      ],
      { format: 'x' },
    );
    const { tensors, metadata } = decodeSafetensorsTyped(bytes);
    const by = new Map(tensors.map((t) => [t.name, t]));
    expect(metadata.format).toBe('x');
    expect(by.get('w')!.data).toEqual(new Float32Array([1.5, -2, 3, 4]));
    expect(by.get('ids')!.data).toEqual(new Int32Array([-1, 7, 2 ** 30]));
    expect(by.get('roles')!.data).toEqual(new Uint8Array([0, 4, 255]));
  });
});

describe('batch shards', () => {
  test('a packed batch survives the shard: ids, roles, targets, image rows and their features', async () => {
    const trainer = await Pretrainer.create(rt, twinCheckConfig(STEPS), await checkDataset(), { steps: STEPS });
    try {
      const b = await trainer.nextBatch();
      const s = decodeShard(encodeShard(b, { step: 0 }));
      const t = (n: string) => s.tensors.get(n)!.data;
      expect(t('ids')).toEqual(b.ids);
      expect(t('roles')).toEqual(b.roles);
      expect(t('targets')).toEqual(b.targets);
      expect(t('goal_of')).toEqual(b.goalOf);
      const rows = t('patch_rows') as Int32Array;
      const feats = t('patch_features') as Float32Array;
      const width = b.patchFeatures!.length / b.n;
      // Scattering the stored rows back gives the batch's dense features exactly (the rest are zero).
      const dense = new Float32Array(b.n * width);
      rows.forEach((r, i) => dense.set(feats.subarray(i * width, (i + 1) * width), r * width));
      expect(dense).toEqual(b.patchFeatures);
      expect(s.metadata.with_crl).toBe('true');
      expect(t('episodes')).toEqual(b.episodes);
      // Without train.lambdaGrounding a shard carries no grounding rows (the twin then skips the term).
      expect(s.tensors.has('grounding_rows')).toBe(false);
      b.grounding = { rows: new Int32Array([3, 9]), labels: new Int32Array([1, 0]) };
      const g = decodeShard(encodeShard(b, { step: 0 }));
      expect(g.tensors.get('grounding_rows')!.data).toEqual(b.grounding.rows);
      expect(g.tensors.get('grounding_labels')!.data).toEqual(b.grounding.labels);
      expect(() => decodeShard(encodeSafetensors([{ name: 'ids', shape: [1], data: new Int32Array(1) }]), 'x.safetensors')).toThrow(/x.safetensors: metadata format/);
    } finally {
      trainer.dispose();
    }
  });
});

describe('the twin', () => {
  let expected: TwinCheckExpected;
  beforeAll(() => {
    const a = twinAvailable();
    if (!a.ok) throw new Error(a.reason);
  });

  test('twin:check: the same checkpoint and batches give the same losses, gradients, AdamW step and loss curve', async () => {
    expected = await writeTwinCheck(rt, nodeIO(dir), await nodeCheckpointIO(join(dir, 'init')), { steps: STEPS });
    const r = await twin(['-m', 'prts_torch.check', '--dir', dir]);
    const j = lastJson(r.out);
    expect(j, r.err).not.toBeNull();
    expect(j.pass, r.err).toBe(true);
    expect(j.loss_rel_max).toBeLessThan(1e-5);
    expect(Object.keys(j.loss_rel).sort()).toEqual(['bc', 'lsa', 'sal', 'total']);
    expect(j.grad_rel_max).toBeLessThan(1e-4);
    expect(j.param_rel_max).toBeLessThan(1e-5);
    expect(j.curve_steps).toBe(STEPS);
    expect(j.curve_rel_max).toBeLessThan(1e-3);
    expect(j.tensors).toBe(29);
  });

  test('twin:check with model.actionStartGoal and patchPositions on (the reach configs of round 8): same losses, gradients and AdamW step', async () => {
    const sub = join(dir, 'goal');
    const base = twinCheckConfig(STEPS);
    const config = { ...base, model: { ...base.model, actionStartGoal: true, patchPositions: true } };
    await writeTwinCheck(rt, nodeIO(sub), await nodeCheckpointIO(join(sub, 'init')), { steps: STEPS, config });
    const r = await twin(['-m', 'prts_torch.check', '--dir', sub]);
    const j = lastJson(r.out);
    expect(j, r.err).not.toBeNull();
    expect(j.pass, r.err).toBe(true);
    expect(j.loss_rel_max).toBeLessThan(1e-5);
    expect(j.grad_rel_max).toBeLessThan(1e-4);
    expect(j.param_rel_max).toBeLessThan(1e-5);
    expect(j.curve_rel_max).toBeLessThan(1e-3);
  });

  test('twin:check with the grounding loss (model.groundingClasses, train.lambdaGrounding): the same grounding term, gradients (head included) and AdamW step', async () => {
    const sub = join(dir, 'grounding');
    const base = twinCheckConfig(STEPS);
    const config = { ...base, model: { ...base.model, actionStartGoal: true, patchPositions: true, groundingClasses: 6 }, train: { ...base.train, lambdaGrounding: 0.5 } };
    await writeTwinCheck(rt, nodeIO(sub), await nodeCheckpointIO(join(sub, 'init')), { steps: STEPS, config });
    const r = await twin(['-m', 'prts_torch.check', '--dir', sub]);
    const j = lastJson(r.out);
    expect(j, r.err).not.toBeNull();
    expect(j.pass, r.err).toBe(true);
    expect(Object.keys(j.loss_rel).sort()).toEqual(['bc', 'grounding', 'lsa', 'sal', 'total']);
    expect(j.loss_rel_max).toBeLessThan(1e-5);
    expect(j.grad_rel_max).toBeLessThan(1e-4);
    expect(j.param_rel_max).toBeLessThan(1e-5);
    expect(j.curve_rel_max).toBeLessThan(1e-3);
    expect(j.tensors).toBe(31);
  });

  test('per-document attention (the CPU default) equals the dense mask on random packed layouts, values and gradients', async () => {
    const r = await twin(['-m', 'prts_torch.check_attention', '--layouts', '40']);
    const j = lastJson(r.out);
    expect(j, r.err).not.toBeNull();
    expect(j.pass, r.err).toBe(true);
    expect(j.auto_picked_docs).toBe(40);
    expect(j.max_abs_diff).toBeLessThan(1e-12);
    expect(j.split_document_falls_back_to_dense).toBe(true);
  });

  test('torchrun with 2 CPU processes ends where one process with the same global batch (accum 2) does', async () => {
    const ddp = join(dir, 'ddp');
    const one = join(dir, 'one');
    // --redirects/--tee: Debian's torchrun 1.13 on Python 3.11 cannot parse their default "0" (docs/scale-out.md).
    const a = await twin(['-m', 'torch.distributed.run', '--redirects', '2', '--tee', '2', '--log_dir', join(dir, 'logs'), '--nproc_per_node', '2', '-m', 'prts_torch.train', '--shards', dir, '--out', ddp, '--steps', '3', '--threads', '1', '--dtype', 'float64']);
    expect(a.code, a.err).toBe(0);
    const b = await twin(['-m', 'prts_torch.train', '--shards', dir, '--out', one, '--steps', '3', '--accum', '2', '--threads', '1', '--dtype', 'float64']);
    expect(b.code, b.err).toBe(0);
    expect(lastJson(a.out)).toMatchObject({ steps: 3, world: 2, accum: 1 });
    const c = lastJson((await twin(['-m', 'prts_torch.compare', ddp, one])).out);
    expect(c.steps).toEqual([3, 3]);
    expect(c.sampler_steps).toEqual([6, 6]);
    expect(c.optimizer_steps_equal).toBe(true);
    expect(c.param_rel_max).toBeLessThan(1e-6);
    expect(c.moment_rel_max).toBeLessThan(1e-6);
  });

  test('train.accumulate: the engine and the twin (its --accum defaulting to the config) take the same accumulated steps', async () => {
    const acc = join(dir, 'accumulate');
    const base = twinCheckConfig(3);
    const config = { ...base, train: { ...base.train, accumulate: 2 } };
    const reader = await twinCheckReader(config);
    // Two trainers of one config draw the same stream: one writes the shards, the other trains.
    const [writer, engine] = [await Pretrainer.create(rt, config, reader, { steps: 3 }), await Pretrainer.create(rt, config, reader, { steps: 3 })];
    try {
      await saveCheckpoint(await nodeCheckpointIO(join(acc, 'shards', 'init')), await writer.checkpoint());
      await exportShards(writer, nodeIO(join(acc, 'shards')), { batches: 6 });
      const curve: number[] = [];
      while (!engine.done) curve.push((await engine.step()).total);
      expect(engine.state().samplerStep).toBe(6);
      const r = await twin(['-m', 'prts_torch.train', '--shards', join(acc, 'shards'), '--out', join(acc, 'twin'), '--steps', '3', '--threads', '1', '--dtype', 'float64', '--log-every', '1']);
      expect(r.code, r.err).toBe(0);
      expect(lastJson(r.out)).toMatchObject({ steps: 3, world: 1, accum: 2 });
      const got = await loadCheckpoint(await nodeCheckpointIO(join(acc, 'twin')));
      expect(got.trainer.samplerStep).toBe(6);
      const twinCurve = got.metrics.map((m) => m.total);
      expect(twinCurve.length).toBe(3);
      twinCurve.forEach((t, k) => expect(Math.abs(t - curve[k]) / Math.abs(curve[k]), `step ${k}: twin ${t}, engine ${curve[k]}`).toBeLessThan(1e-3));
      // Accumulating is not one batch: the twin without it (--accum 1) follows another curve.
      const one = await twin(['-m', 'prts_torch.train', '--shards', join(acc, 'shards'), '--out', join(acc, 'twin1'), '--steps', '3', '--accum', '1', '--threads', '1', '--dtype', 'float64']);
      expect(one.code, one.err).toBe(0);
      const other = (await loadCheckpoint(await nodeCheckpointIO(join(acc, 'twin1')))).metrics.map((m) => m.total);
      expect(Math.abs(other[2] - curve[2]) / Math.abs(curve[2])).toBeGreaterThan(1e-3);
      // Under torchrun the config's 2 are split over the processes; 3 over 2 is refused by name.
      const odd = join(acc, 'odd');
      await saveCheckpoint(await nodeCheckpointIO(odd), { ...(await loadCheckpoint(await nodeCheckpointIO(join(acc, 'shards', 'init')))), config: { ...config, train: { ...config.train, accumulate: 3 } } });
      const bad = await twin(['-m', 'torch.distributed.run', '--redirects', '2', '--tee', '2', '--log_dir', join(acc, 'logs'), '--nproc_per_node', '2', '-m', 'prts_torch.train', '--shards', join(acc, 'shards'), '--init', odd, '--out', join(acc, 'odd-run'), '--steps', '1', '--threads', '1']);
      expect(bad.code).not.toBe(0);
      expect(bad.out + bad.err).toMatch(/train\.accumulate \(3\) is not a multiple of the 2 processes/);
    } finally {
      writer.dispose();
      engine.dispose();
    }
  });

  test('--threads sizes OpenBLAS\'s own pool too (Debian\'s torch multiplies through it; torch.set_num_threads alone leaves it at the core count)', async () => {
    const code = 'import json, sys; from prts_torch.threads import set_cpu_threads; print(json.dumps({"runs": [set_cpu_threads(int(n)) for n in sys.argv[1:]]}))';
    const r = await twin(['-c', code, '2', '1']);
    expect(r.code, r.err).toBe(0);
    const got = (lastJson(r.out) as { runs: { torch: number; openblas: number | null }[] }).runs;
    expect(got.map((g) => g.torch)).toEqual([2, 1]);
    // .ci/run installs OpenBLAS (libopenblas0-pthread); where it is the BLAS, its pool follows.
    if (existsSync('/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3')) expect(got.map((g) => g.openblas)).toEqual([2, 1]);
    const bad = await twin(['-c', 'from prts_torch.threads import set_cpu_threads; set_cpu_threads(0)']);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/threads must be >= 1, got 0/);
  });

  test('resuming a twin run continues it: 2 + 1 steps end where 3 straight steps do', async () => {
    const straight = join(dir, 'straight');
    const split = join(dir, 'split');
    for (const args of [
      ['--out', straight, '--steps', '3'],
      ['--out', split, '--steps', '2'],
      ['--out', split, '--steps', '3', '--resume'],
    ]) {
      const r = await twin(['-m', 'prts_torch.train', '--shards', dir, '--threads', '1', ...args]);
      expect(r.code, r.err).toBe(0);
    }
    const c = lastJson((await twin(['-m', 'prts_torch.compare', straight, split])).out);
    expect(c.sampler_steps).toEqual([3, 3]);
    expect(c.param_rel_max).toBeLessThan(1e-6);
    expect(c.moment_rel_max).toBeLessThan(1e-6);
  });

  test('a checkpoint the twin wrote resumes in the workbench, whose next step gives the engine\'s own loss', async () => {
    const run = join(dir, 'handoff');
    const r = await twin(['-m', 'prts_torch.train', '--shards', dir, '--out', run, '--steps', '3', '--threads', '1']);
    expect(r.code, r.err).toBe(0);
    const saved = await loadCheckpoint(await nodeCheckpointIO(run, { create: false }));
    expect(saved.trainer).toMatchObject({ step: 3, samplerStep: 3, kind: 'pretrain' });
    expect(saved.metrics.map((m) => m.step)).toEqual([0, 1, 2]);
    const trainer = await Pretrainer.create(rt, saved.config, await checkDataset(), { resume: toResume(saved) });
    try {
      const m = await trainer.step();
      expect(m.step).toBe(3);
      expect(Math.abs(m.total - expected.curve[3].total) / expected.curve[3].total).toBeLessThan(1e-5);
    } finally {
      trainer.dispose();
    }
    expect(JSON.parse(readFileSync(join(run, 'latest.json'), 'utf8'))).toEqual({ dir: 'step-00000003', step: 3 });
  });

  test('npm run eval evaluates a checkpoint the twin trained on simulator-shaped data', async () => {
    const sim = join(dir, 'sim');
    const trainer = await Pretrainer.create(rt, tinySimConfig(1), await simShapedDataset());
    try {
      await saveCheckpoint(await nodeCheckpointIO(join(sim, 'shards', 'init')), await trainer.checkpoint());
      await exportShards(trainer, nodeIO(join(sim, 'shards')), { batches: 1 });
    } finally {
      trainer.dispose();
    }
    const r = await twin(['-m', 'prts_torch.train', '--shards', join(sim, 'shards'), '--out', join(sim, 'run'), '--threads', '1']);
    expect(r.code, r.err).toBe(0);
    const results = join(sim, 'results.json');
    const ev = spawnSync(process.execPath, ['scripts/run.mjs', 'src/train/cli/eval.ts', '--checkpoint', join(sim, 'run'), '--mode', 'ar', '--tasks', ROLLOUT_TASKS[0], '--states', '0', '--max-steps', '8', '--out', results], { encoding: 'utf8' });
    expect(ev.status, ev.stderr).toBe(0);
    const res = JSON.parse(readFileSync(results, 'utf8'));
    expect(res.episodes).toHaveLength(1);
    expect(res.episodes[0]).toMatchObject({ taskId: ROLLOUT_TASKS[0], steps: 8 });
  });

  test('bad input is refused with the file named', async () => {
    const r = await twin(['-m', 'prts_torch.train', '--shards', join(dir, 'init'), '--out', join(dir, 'bad')]);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/shards.json is missing \(run npm run export-shards\)/);
  });
});
