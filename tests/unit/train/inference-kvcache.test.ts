/**
 * AR decoding with the KV cache against the uncached path (the backbone re-run over the
 * whole span per token) on a tiny random model: a batch of rows whose prompts differ in
 * length, crossing the decode kernel's 64-key chunk and the 32-token attention tile.
 * Both must pick exactly the same tokens, with logits equal to f32 rounding, and stop
 * per row at <|action_end_ar|> or maxArTokens.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Runtime } from '../../../src/engine/runtime.ts';
import { SPECIAL, TokenizerBundle } from '../../../src/model/tokenizers/index.ts';
import type { CheckpointData } from '../../../src/train/checkpoint.ts';
import { prtsPolicyFromCheckpoint, type ArDecodeResult, type PrtsPolicy } from '../../../src/train/inference.ts';
import type { PolicyInput } from '../../../src/train/policy.ts';
import { randomCheckpoint, randomPolicyInputs } from '../../../src/train/random-policy.ts';

const MAX_AR = 12;
const IMAGE = 8;

let rt: Runtime;
let data: CheckpointData;
let inputs: PolicyInput[];
let policy: PrtsPolicy;

beforeAll(async () => {
  rt = await Runtime.create();
  const made = await randomCheckpoint(rt, { dModel: 64, layers: 2, headDim: 32, imageSize: IMAGE, tasks: 3, seed: 5 });
  data = made.data;
  // Instructions of different lengths (unseen words tokenize into more pieces), so prompts differ.
  inputs = randomPolicyInputs(3, ['open', made.instructions[1], 'pick up the red block and put it in the blue bowl'], IMAGE, 1);
  policy = await prtsPolicyFromCheckpoint(data, { mode: 'ar', rt, maxArTokens: MAX_AR });
}, 120_000);
afterAll(() => {
  policy?.dispose();
  rt?.destroy();
});

/** |a - b| <= 1e-4 * max(|b|, 1): relative, with logits near 0 judged on the unit scale. */
function expectLogitsClose(a: Float32Array, b: Float32Array, what: string): void {
  let worst = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const err = Math.abs(a[i] - b[i]) / Math.max(Math.abs(b[i]), 1);
    if (!(err <= worst)) [worst, at] = [err, i];
  }
  expect(worst, `${what}: worst relative error at vocab id ${at} (${a[at]} vs ${b[at]})`).toBeLessThanOrEqual(1e-4);
}

function expectSameDecoding(cached: ArDecodeResult, uncached: ArDecodeResult): void {
  expect(cached.tokens).toEqual(uncached.tokens);
  expect(cached.constrained).toEqual(uncached.constrained);
  cached.tokens.forEach((toks, b) => {
    expect(cached.logits![b]).toHaveLength(toks.length);
    toks.forEach((_, t) => expectLogitsClose(cached.logits![b][t], uncached.logits![b][t], `row ${b} token ${t}`));
  });
}

/** Every row stops at its first <|action_end_ar|>, or at exactly maxArTokens without one. */
function expectStops(res: ArDecodeResult): void {
  for (const toks of res.tokens) {
    const end = toks.indexOf(SPECIAL.actionEndAr);
    if (end >= 0) expect(end).toBe(toks.length - 1);
    else expect(toks).toHaveLength(MAX_AR);
  }
}

describe('AR decoding with a KV cache', () => {
  test('the rows have prompts of different lengths, past one attention tile and the 64-key decode chunk', () => {
    const bundle = TokenizerBundle.fromJSON(data.tokenizers);
    const lens = inputs.map((x) => bundle.prefix({ imagePatches: [(IMAGE / 2) ** 2], state: x.obs.proprio.state, instruction: x.instruction }).ids.length);
    expect(new Set(lens).size).toBe(lens.length);
    expect(Math.max(...lens) + MAX_AR).toBeGreaterThan(64);
    expect(Math.min(...lens)).toBeGreaterThan(32);
  });

  test('cached and uncached decoding pick the same tokens with logits within 1e-4', async () => {
    const before = policy.inference.stats.arTokens;
    const uncached = await policy.inference.decodeAr(inputs, { kvCache: false, keepLogits: true });
    const cached = await policy.inference.decodeAr(inputs, { keepLogits: true });
    expectSameDecoding(cached, uncached);
    expectStops(cached);
    // Some row runs several cached steps (a random model may also end a row at once).
    expect(Math.max(...cached.tokens.map((t) => t.length))).toBeGreaterThan(3);
    const total = cached.tokens.reduce((a, t) => a + t.length, 0);
    expect(policy.inference.stats.arTokens - before).toBe(2 * total);
    // Subsets and single rows decode the same tokens as in the batch.
    const solo = await policy.inference.decodeAr([inputs[2]], { keepLogits: true });
    expect(solo.tokens[0]).toEqual(cached.tokens[2]);
    expectLogitsClose(solo.logits![0][0], cached.logits![2][0], 'row 2 alone, token 0');
  });

  test('predict() uses the cache by default and gives the chunks of the uncached policy', async () => {
    const uncachedPolicy = await prtsPolicyFromCheckpoint(data, { mode: 'ar', rt, maxArTokens: MAX_AR, kvCache: false });
    // Which kernels each call dispatches tells the two paths apart.
    const dispatch = rt.dispatch.bind(rt);
    let kernels = new Set<string>();
    rt.dispatch = (spec) => {
      kernels.add(spec.kernel);
      dispatch(spec);
    };
    try {
      expect(policy.inference.opts.kvCache).toBe(true);
      const a = await policy.inference.predict(inputs);
      expect(kernels.has('attention.decode')).toBe(true);
      kernels = new Set();
      const b = await uncachedPolicy.inference.predict(inputs);
      expect(kernels.has('attention.decode')).toBe(false);
      // Either attention kernel family ('attention.fwd', or 'attention.fwd.direct...' on a software adapter).
      expect([...kernels].some((k) => k.startsWith('attention.fwd'))).toBe(true);
      expect(a.map((c) => Array.from(c))).toEqual(b.map((c) => Array.from(c)));
    } finally {
      rt.dispatch = dispatch;
      // The runtime is shared: dispose() frees only this policy's parameters.
      uncachedPolicy.dispose();
    }
  });

  test('rows stop at <|action_end_ar|> at different steps, the same way on both paths', async () => {
    // Make <|action_end_ar|> the LM head's echo of a FAST id f that row 0 picks at some step
    // with a positive logit: w_end = 1.5 w_f, so logit_end = 1.5 logit_f beats f (the argmax)
    // there, and row 0 ends at that step at the latest. Other rows end wherever f would have
    // won with a positive logit, or run to maxArTokens.
    // The model's own stops: without the length constraint, which allows the end token only
    // once a span holds H x channels coefficients.
    const free = { constrainLength: false };
    const probe = await policy.inference.decodeAr(inputs, { kvCache: false, keepLogits: true, ...free });
    const row0 = probe.tokens[0];
    const step = row0.findIndex((id, t) => t >= 2 && id !== SPECIAL.actionEndAr && probe.logits![0][t][id] > 0);
    expect(step).toBeGreaterThanOrEqual(2);
    const f = row0[step];
    const w = policy.inference.model.store.tensors.get('lm_head.w')!;
    const [dModel, V] = w.shape;
    const orig = (await w.toFloat32()).slice();
    const edited = orig.slice();
    for (let i = 0; i < dModel; i++) edited[i * V + SPECIAL.actionEndAr] = 1.5 * orig[i * V + f];
    rt.write(w.buffer, edited);
    try {
      const uncached = await policy.inference.decodeAr(inputs, { kvCache: false, keepLogits: true, ...free });
      const cached = await policy.inference.decodeAr(inputs, { keepLogits: true, ...free });
      expectSameDecoding(cached, uncached);
      expectStops(cached);
      expect(cached.tokens[0].at(-1)).toBe(SPECIAL.actionEndAr);
      expect(cached.tokens[0].length).toBeLessThanOrEqual(step + 1);
      // Finished rows leave the batch while the others go on: lengths differ.
      expect(new Set(cached.tokens.map((t) => t.length)).size).toBeGreaterThan(1);
    } finally {
      rt.write(w.buffer, orig);
    }
  });
});
