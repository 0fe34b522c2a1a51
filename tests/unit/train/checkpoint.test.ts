import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { memoryIO } from '../../../src/data/index.ts';
import { Runtime } from '../../../src/engine/runtime.ts';
import { applyParams, CheckpointError, loadCheckpoint, saveCheckpoint, toResume } from '../../../src/train/checkpoint.ts';
import { nodeCheckpointIO } from '../../../src/train/checkpoint-node.ts';
import { Pretrainer } from '../../../src/train/pretrain.ts';
import { makeFixture, type Fixture } from '../model/batch.dataset.ts';
import { tinyConfig } from './pretrain.helpers.ts';

let rt: Runtime;
let fx: Fixture;
beforeAll(async () => {
  rt = await Runtime.create();
  fx = await makeFixture();
});
afterAll(() => rt?.destroy());

describe('checkpoints', () => {
  test('save -> load gives identical parameters, optimizer state and the same next step', async () => {
    const cfg = tinyConfig({ steps: 6 });
    const io = memoryIO();
    const a = await Pretrainer.create(rt, cfg, fx.reader);
    let saved: Awaited<ReturnType<typeof a.checkpoint>>;
    let next: Awaited<ReturnType<typeof a.step>>;
    try {
      for (let k = 0; k < 3; k++) await a.step();
      saved = await a.checkpoint();
      expect(await saveCheckpoint(io, saved)).toBe('step-00000003');
      next = await a.step();
    } finally {
      a.dispose();
    }
    expect([...io.files.keys()].sort()).toEqual(
      ['latest.json', ...['config.json', 'metrics.jsonl', 'model.safetensors', 'optimizer.safetensors', 'tokenizers.json', 'trainer.json'].map((f) => `step-00000003/${f}`)].sort(),
    );
    const data = await loadCheckpoint(io);
    expect(data.trainer).toMatchObject({ step: 3, steps: 6, samplerStep: 3, withCrl: true });
    expect(data.metrics.map((m) => m.step)).toEqual([0, 1, 2]);
    expect(data.config).toEqual(cfg);
    const b = await Pretrainer.create(rt, data.config, fx.reader, { resume: toResume(data) });
    try {
      expect(b.completedSteps).toBe(3);
      const params = await b.parameters();
      expect(params.map((t) => t.name)).toEqual(saved.params.map((t) => t.name));
      params.forEach((t, i) => expect(t.data).toEqual(saved.params[i].data));
      const st = await b.checkpoint();
      st.optimizer.forEach((t, i) => expect(t.data).toEqual(saved.optimizer[i].data));
      expect(st.optimizerSteps).toEqual(saved.optimizerSteps);
      // Resume determinism: the next batch and update are those of the uninterrupted run.
      const m = await b.step();
      expect(m.step).toBe(3);
      expect(m.lr).toBe(next.lr);
      expect(m.tokens).toBe(next.tokens);
      expect(m.total).toBeCloseTo(next.total, 5);
      expect(m.bc).toBeCloseTo(next.bc, 5);
      expect(m.saL!).toBeCloseTo(next.saL!, 5);
      expect(m.lSa!).toBeCloseTo(next.lSa!, 5);
      expect(b.history.length).toBe(4);
    } finally {
      b.dispose();
    }
  });

  test('corrupted, truncated, incomplete or mismatched checkpoints give clear errors', async () => {
    const cfg = tinyConfig({ steps: 2 });
    const tr = await Pretrainer.create(rt, cfg, fx.reader);
    const io = memoryIO();
    try {
      await saveCheckpoint(io, await tr.checkpoint());
      // A second model whose config differs in d_model cannot take these weights.
      const other = await Pretrainer.create(rt, { ...cfg, model: { ...cfg.model, dModel: 64, heads: 2 } }, fx.reader);
      try {
        const data = await loadCheckpoint(io);
        expect(() => applyParams(other.model.store, data.params)).toThrow(/parameter shapes differ.*backbone\.embed: checkpoint \[\d+,32\], model \[\d+,64\]/);
        expect(() => applyParams(other.model.store, data.params.slice(1))).toThrow(/missing from the checkpoint: backbone\.embed/);
      } finally {
        other.dispose();
      }
    } finally {
      tr.dispose();
    }
    const model = 'step-00000000/model.safetensors';
    const good = io.files.get(model)!;
    const flipped = good.slice();
    flipped[flipped.length - 3] ^= 0x40;
    io.files.set(model, flipped);
    await expect(loadCheckpoint(io)).rejects.toThrow(/"step-00000000\/model.safetensors" is corrupted \(FNV-1a/);
    io.files.set(model, good.slice(0, good.length - 8));
    await expect(loadCheckpoint(io)).rejects.toThrow(/has \d+ bytes, the manifest says \d+ \(truncated or replaced\)/);
    io.files.set(model, good);
    io.files.delete('step-00000000/tokenizers.json');
    await expect(loadCheckpoint(io)).rejects.toThrow(CheckpointError);
    await expect(loadCheckpoint(io)).rejects.toThrow(/"step-00000000\/tokenizers.json" is missing/);
    await expect(loadCheckpoint(memoryIO())).rejects.toThrow(/not a checkpoint or run directory/);
  });

  test('on disk: atomic files, latest.json follows the newest step, older steps are pruned', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prts-ckpt-'));
    try {
      const io = await nodeCheckpointIO(dir);
      const tr = await Pretrainer.create(rt, tinyConfig({ steps: 3 }), fx.reader);
      try {
        await saveCheckpoint(io, await tr.checkpoint());
        await tr.step();
        await saveCheckpoint(io, await tr.checkpoint());
        await tr.step();
        await saveCheckpoint(io, await tr.checkpoint());
      } finally {
        tr.dispose();
      }
      expect(readdirSync(dir).sort()).toEqual(['latest.json', 'step-00000001', 'step-00000002']);
      expect(readdirSync(join(dir, 'step-00000002')).some((f) => f.includes('.tmp'))).toBe(false);
      const data = await loadCheckpoint(io);
      expect(data.trainer.step).toBe(2);
      expect((await loadCheckpoint(io, 'step-00000001')).trainer.step).toBe(1);
      // A step directory opened directly is a checkpoint too.
      expect((await loadCheckpoint(await nodeCheckpointIO(join(dir, 'step-00000001')))).trainer.step).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
