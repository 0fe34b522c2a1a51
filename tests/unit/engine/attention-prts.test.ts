/**
 * The PRTS isolation properties (DESIGN.md 3) checked at the attention level, on the
 * block-sparse GPU path with several packed documents.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Runtime } from '../../../src/engine/runtime';
import { fromArray, tidy } from '../../../src/engine/tensor';
import { Rng } from '../../../src/engine/random';
import { Role } from '../../../src/engine/roles';
import { buildBlockMap, uploadBlockMap } from '../../../src/engine/blockmap';
import { attentionForward } from '../../../src/engine/ops/attention';
import { ATTENTION_FAMILIES, forceAttentionKernels, layoutOf, randomQkv, type DocSpec, type Layout } from './attention-fixtures';

const H = 2;
const D = 32;
const TILE = 32;

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt?.destroy());

async function forward(layout: Layout, qkv: Float32Array[]): Promise<Float32Array> {
  const gmap = uploadBlockMap(rt, buildBlockMap(layout.doc, layout.role, { tile: TILE }));
  const n = layout.doc.length;
  const o = tidy(() => {
    const [q, k, v] = qkv.map((a) => fromArray(rt, a, [n, H, D]));
    return attentionForward(q, k, v, gmap).o;
  });
  const out = await o.toFloat32();
  o.dispose();
  gmap.release();
  return out;
}

/** Largest |a - b| over the rows (tokens) selected by `rows`, mapping row i of a to row map(i) of b. */
function maxRowDiff(a: Float32Array, b: Float32Array, rows: number[], map: (i: number) => number = (i) => i): number {
  const w = H * D;
  let worst = 0;
  for (const i of rows) for (let c = 0; c < w; c++) worst = Math.max(worst, Math.abs(a[i * w + c] - b[map(i) * w + c]));
  return worst;
}

function rowsWithRole(layout: Layout, roles: number[]): number[] {
  const out: number[] = [];
  layout.role.forEach((r, i) => roles.includes(r) && out.push(i));
  return out;
}

/** A copy of `x` ([n, H, D]) where the rows selected by `pick` get fresh random values. */
function perturbRows(rng: Rng, x: Float32Array, n: number, pick: (i: number) => boolean): Float32Array {
  const y = Float32Array.from(x);
  const w = H * D;
  for (let i = 0; i < n; i++) if (pick(i)) for (let c = 0; c < w; c++) y[i * w + c] = rng.normal() * 3;
  return y;
}

const DOCS: DocSpec[] = [
  { vision: 45, instruction: 11, action: 9, crl: true },
  { vision: 23, instruction: 7, action: 12, crl: true },
  { vision: 61, instruction: 14, action: 8, crl: true },
];

describe.each(ATTENTION_FAMILIES)('PRTS properties of role-aware attention (%s kernels)', (family) => {
  forceAttentionKernels(family);
  test('VISION_STATE, INSTRUCTION and AR_ACTION outputs are identical with and without the CRL blocks', async () => {
    const rng = new Rng(31);
    const withCrl = layoutOf(DOCS);
    const without = layoutOf(DOCS.map((d) => ({ ...d, crl: false })));
    // Token t of the CRL-free layout is token index[t] of the full one (same values there).
    const index: number[] = [];
    withCrl.role.forEach((r, i) => r <= Role.AR_ACTION && index.push(i));
    expect(index.length).toBe(without.doc.length);
    const full = randomQkv(rng, withCrl.doc.length, H, D);
    const w = H * D;
    const reduced = full.map((x) => {
      const y = new Float32Array(index.length * w);
      index.forEach((src, t) => y.set(x.subarray(src * w, (src + 1) * w), t * w));
      return y;
    });
    const a = await forward(without, reduced);
    const b = await forward(withCrl, full);
    const rows = Array.from({ length: index.length }, (_, t) => t);
    expect(maxRowDiff(a, b, rows, (t) => index[t])).toBeLessThanOrEqual(1e-6);
  });

  test('CRL_GOAL outputs depend only on the CRL_GOAL tokens of their document', async () => {
    const rng = new Rng(32);
    const layout = layoutOf(DOCS);
    const n = layout.doc.length;
    const qkv = randomQkv(rng, n, H, D);
    const changed = qkv.map((x) => perturbRows(rng, x, n, (i) => layout.role[i] !== Role.CRL_GOAL));
    const goals = rowsWithRole(layout, [Role.CRL_GOAL]);
    const a = await forward(layout, qkv);
    const b = await forward(layout, changed);
    expect(maxRowDiff(a, b, goals)).toBeLessThanOrEqual(1e-6);
    // The change must be visible elsewhere, or the check above is vacuous.
    expect(maxRowDiff(a, b, rowsWithRole(layout, [Role.AR_ACTION]))).toBeGreaterThan(1e-2);
  });

  test('CRL_GOAL outputs of one document ignore the CRL_GOAL tokens of the others', async () => {
    const rng = new Rng(33);
    const layout = layoutOf(DOCS);
    const n = layout.doc.length;
    const qkv = randomQkv(rng, n, H, D);
    const changed = qkv.map((x) => perturbRows(rng, x, n, (i) => layout.doc[i] !== 1));
    const goalsOfDoc1 = rowsWithRole(layout, [Role.CRL_GOAL]).filter((i) => layout.doc[i] === 1);
    const a = await forward(layout, qkv);
    const b = await forward(layout, changed);
    expect(maxRowDiff(a, b, goalsOfDoc1)).toBeLessThanOrEqual(1e-6);
  });

  test('CRL_ACTION outputs do not change when the INSTRUCTION tokens change (nor the AR action)', async () => {
    const rng = new Rng(34);
    const layout = layoutOf(DOCS);
    const n = layout.doc.length;
    const qkv = randomQkv(rng, n, H, D);
    const changed = qkv.map((x) => perturbRows(rng, x, n, (i) => layout.role[i] === Role.INSTRUCTION || layout.role[i] === Role.AR_ACTION));
    const actions = rowsWithRole(layout, [Role.CRL_ACTION]);
    const a = await forward(layout, qkv);
    const b = await forward(layout, changed);
    expect(maxRowDiff(a, b, actions)).toBeLessThanOrEqual(1e-6);
    expect(maxRowDiff(a, b, rowsWithRole(layout, [Role.AR_ACTION]))).toBeGreaterThan(1e-2);
  });
});
