/**
 * The DiT flow-matching action expert in the PyTorch twin (torch/prts_torch/dit.py,
 * flow.py) against the engine's post-training step (src/twin/check-dit.ts writes it,
 * torch/prts_torch/check_dit.py recomputes it in float64), and property checks of the
 * twin's DiT. Python is Debian's python3-torch (src/twin/python.ts finds it).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { nodeIO } from '../../../src/data/io-node.ts';
import { Runtime } from '../../../src/engine/runtime.ts';
import { nodeCheckpointIO } from '../../../src/train/checkpoint-node.ts';
import { decodeSafetensorsTyped } from '../../../src/train/safetensors.ts';
import { writeDitCheck, type DitCheckOptions } from '../../../src/twin/check-dit.ts';
import { twinAvailable } from '../../../src/twin/python.ts';
import { lastJson, twin } from './twin.helpers.ts';

let rt: Runtime;
const root = mkdtempSync(join(tmpdir(), 'prts-dit-twin-test-'));
beforeAll(async () => {
  const a = twinAvailable();
  if (!a.ok) throw new Error(a.reason);
  rt = await Runtime.create();
});
afterAll(() => {
  rt?.destroy();
  rmSync(root, { recursive: true, force: true });
});


/** Writes the engine's side under root/name, runs check_dit on it; the twin's JSON, the exit code and the tensor names. */
async function check(name: string, opts: DitCheckOptions) {
  const dir = join(root, name);
  const expected = await writeDitCheck(rt, nodeIO(dir), await nodeCheckpointIO(join(dir, 'init')), opts);
  const r = await twin(['-m', 'prts_torch.check_dit', '--dir', dir]);
  const j = lastJson(r.out);
  expect(j, r.err).not.toBeNull();
  const names = decodeSafetensorsTyped(new Uint8Array(readFileSync(join(dir, 'expected.safetensors')))).tensors.map((t) => t.name);
  return { j, r, expected, names };
}

function expectTolerances(j: Record<string, unknown>, err: string): void {
  expect(j.pass, err).toBe(true);
  expect(j.context_ranges_match).toBe(true);
  expect(j.inputs_rel_max).toBeLessThan(1e-6);
  expect(j.loss_rel).toBeLessThan(1e-5);
  expect(j.lr_rel).toBeLessThan(1e-5);
  expect(j.velocity_rel).toBeLessThan(1e-5);
  expect(j.grad_rel_max).toBeLessThan(1e-4);
  expect(j.grad_norm_rel).toBeLessThan(1e-4);
  expect(j.param_rel_max).toBeLessThan(1e-5);
  expect(j.update_rel_max).toBeLessThan(1e-3);
  expect(j.sample_rel).toBeLessThan(1e-4);
}

describe('the DiT in the twin', () => {
  test('twin:check\'s DiT step (backbone trained, dense cross-attention): velocity, loss, every gradient, the AdamW step and an Euler sample match', async () => {
    const { j, r, expected, names } = await check('trained', {});
    expectTolerances(j, r.err);
    expect(j.freeze_backbone).toBe(false);
    expect(j.cross_layout).toBe('dense');
    expect(j.step).toBe(1);
    expect(expected.shape).toEqual([12, 8, 8]);
    // Both padded kinds are present: channel 7 (K = 8 for 7 dataset channels) and steps past an episode's end.
    expect(expected.validEntries).toBeLessThan(12 * 8 * 7);
    const grads = names.filter((n) => n.startsWith('grad.'));
    expect(grads.some((n) => n.startsWith('grad.backbone.'))).toBe(true);
    expect(grads.some((n) => n.startsWith('grad.dit.blocks.1.cross_attn.'))).toBe(true);
    expect(j.grads).toBe(grads.length);
    expect(names.filter((n) => n.startsWith('after.backbone.')).length).toBeGreaterThan(0);
  });

  test('frozen backbone and the batched cross-attention layout: the DiT alone gets gradients and is optimised, and still matches', async () => {
    const { j, r, names } = await check('frozen', {
      freezeBackbone: true,
      dit: { attention: 'batched', dModel: 32, heads: 2, layers: 1, mlpHidden: 64, timeFreqDim: 16 },
    });
    expectTolerances(j, r.err);
    expect(j.freeze_backbone).toBe(true);
    expect(j.cross_layout).toBe('batched');
    const grads = names.filter((n) => n.startsWith('grad.'));
    expect(grads.length).toBeGreaterThan(0);
    expect(grads.every((n) => n.startsWith('grad.dit.'))).toBe(true);
    expect(names.filter((n) => n.startsWith('after.')).every((n) => n.startsWith('after.dit.'))).toBe(true);
  });

  test('properties: velocity 0 at init (adaLN-Zero), padded entries change neither the loss nor any gradient, per-sample context', async () => {
    const r = await twin(['-m', 'prts_torch.check_dit', '--properties']);
    const j = lastJson(r.out);
    expect(j, r.err).not.toBeNull();
    expect(r.code, r.err).toBe(0);
    for (const [k, v] of Object.entries(j)) if (k !== 'dit_properties') expect([k, v]).toEqual([k, true]);
    expect(Object.keys(j)).toEqual(
      expect.arrayContaining([
        'velocity_zero_at_init',
        'padding_invariant_loss_perChannel',
        'padding_invariant_grads_perChannel',
        'padding_invariant_grads_global',
        'context_per_sample',
      ]),
    );
  });
});
