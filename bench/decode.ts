/**
 * npm run bench:decode [-- --rows 4 --d 64 --layers 2 --head-dim 32 --image 32 --patch 4
 *                         --tokens 32 --reps 3 --warmup 1 --seed 0]
 *
 * AR chunk decoding ('ar' policy mode) with and without the KV cache, on the same random
 * model (src/train/random-policy.ts), the same inputs and the same device in one run.
 * One timed call decodes one chunk for each of --rows environments
 * (PrtsInference.decodeAr: prompt, then greedy FAST tokens until maxArTokens = --tokens + 1);
 * ms per chunk = call time / rows. The LM head's <|action_end_ar|> column is zeroed so
 * every row decodes the full maxArTokens (a random model would stop at random steps);
 * tokens_per_chunk is measured. Calls alternate which path goes first, so drift on a
 * shared machine hits both alike; medians are reported. The untimed warm-up also checks
 * that both paths decode the same tokens (tokens_match) and how far their logits are apart.
 *
 * Final JSON line: cached_ms_per_chunk, uncached_ms_per_chunk, speedup (uncached / cached),
 * tokens_per_chunk, prompt_tokens (mean), tokens_match, max_logit_rel_err, device, model.
 */
import { Runtime } from '../src/engine/runtime.ts';
import { SPECIAL } from '../src/model/tokenizers/index.ts';
import { prtsPolicyFromCheckpoint, type ArDecodeResult } from '../src/train/inference.ts';
import { randomCheckpoint, randomPolicyInputs } from '../src/train/random-policy.ts';

function fail(msg: string): never {
  console.error(`bench:decode: ${msg}`);
  process.exit(2);
}
function num(name: string, def: number, min = 1): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < min) fail(`--${name} must be an integer >= ${min}, got '${process.argv[i + 1]}'`);
  return v;
}
const rows = num('rows', 4);
const d = num('d', 64);
const layers = num('layers', 2);
const headDim = num('head-dim', 32);
const image = num('image', 32);
const patch = num('patch', 4);
const fastTokens = num('tokens', 32);
const reps = num('reps', 3);
const warmup = num('warmup', 1, 0);
const seed = num('seed', 0, 0);
if (headDim !== 32 && headDim !== 64) fail(`--head-dim must be 32 or 64, got ${headDim}`);
if (d % headDim !== 0) fail(`--d (${d}) must be a multiple of --head-dim (${headDim})`);
if (image % patch !== 0) fail(`--image (${image}) must be a multiple of --patch (${patch})`);

const rt = await Runtime.create();
const device = `${rt.info.vendor}/${rt.info.architecture} (${rt.info.description})`;
console.error(`adapter: ${device}`);
const { data, instructions } = await randomCheckpoint(rt, { dModel: d, layers, headDim, imageSize: image, patchSize: patch, fastTokens, tasks: Math.max(rows, 2), seed });
const maxArTokens = fastTokens + 1;
const policy = await prtsPolicyFromCheckpoint(data, { mode: 'ar', rt, maxArTokens });
const inf = policy.inference;
const w = inf.model.store.tensors.get('lm_head.w')!;
const lm = (await w.toFloat32()).slice();
for (let i = 0; i < w.shape[0]; i++) lm[i * w.shape[1] + SPECIAL.actionEndAr] = 0;
rt.write(w.buffer, lm);

const inputs = randomPolicyInputs(rows, instructions, image, seed + 1);
const promptTokens = inputs.map((x) => inf.bundle.prefix({ imagePatches: [(image / patch) ** 2], state: x.obs.proprio.state, instruction: x.instruction }).ids.length);
const params = inf.model.store.count;
console.error(`model d ${d} x ${layers} layers (${d / headDim} heads of ${headDim}), ${params} parameters; ${rows} rows, prompts of ${promptTokens.join('/')} tokens, maxArTokens ${maxArTokens}`);

let tokensMatch = true;
let maxRelErr = 0;
const ms: Record<'cached' | 'uncached', number[]> = { cached: [], uncached: [] };
let tokensPerChunk = 0;
for (let it = 0; it < warmup + reps; it++) {
  const timed = it >= warmup;
  const order = it % 2 === 0 ? (['cached', 'uncached'] as const) : (['uncached', 'cached'] as const);
  const res: Partial<Record<'cached' | 'uncached', ArDecodeResult>> = {};
  for (const path of order) {
    const t0 = performance.now();
    res[path] = await inf.decodeAr(inputs, { kvCache: path === 'cached', keepLogits: !timed });
    const dt = performance.now() - t0;
    if (timed) ms[path].push(dt);
    console.error(`${timed ? 'rep' : 'warm-up'} ${it}: ${path} ${dt.toFixed(0)} ms`);
  }
  const c = res.cached!;
  const u = res.uncached!;
  if (JSON.stringify(c.tokens) !== JSON.stringify(u.tokens)) tokensMatch = false;
  tokensPerChunk = c.tokens.reduce((a, t) => a + t.length, 0) / rows;
  c.logits?.forEach((perRow, b) =>
    perRow.forEach((a, t) => {
      const ref = u.logits![b][t];
      if (!ref) return;
      for (let i = 0; i < a.length; i++) maxRelErr = Math.max(maxRelErr, Math.abs(a[i] - ref[i]) / Math.max(Math.abs(ref[i]), 1));
    }),
  );
}
policy.dispose();
rt.destroy();

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const cachedCall = median(ms.cached);
const uncachedCall = median(ms.uncached);
const row = (name: string, call: number) =>
  `| ${name.padEnd(8)} | ${call.toFixed(0).padStart(8)} | ${(call / rows).toFixed(1).padStart(12)} | ${((tokensPerChunk * rows) / (call / 1000)).toFixed(1).padStart(8)} |`;
console.log(`| path     | ms/call  | ms per chunk | tokens/s |`);
console.log(`|----------|----------|--------------|----------|`);
console.log(row('cached', cachedCall));
console.log(row('uncached', uncachedCall));
console.log(`speedup ${(uncachedCall / cachedCall).toFixed(2)}x at ${tokensPerChunk} tokens per chunk; tokens match: ${tokensMatch}; max logit relative error ${maxRelErr.toExponential(2)}`);
console.log(
  JSON.stringify({
    bench: 'decode',
    device,
    model: { d, layers, heads: d / headDim, headDim, image, patch, params },
    rows,
    reps,
    prompt_tokens: Number((promptTokens.reduce((a, b) => a + b, 0) / rows).toFixed(1)),
    tokens_per_chunk: tokensPerChunk,
    cached_ms_per_chunk: Number((cachedCall / rows).toFixed(2)),
    uncached_ms_per_chunk: Number((uncachedCall / rows).toFixed(2)),
    cached_ms_per_call: Number(cachedCall.toFixed(1)),
    uncached_ms_per_call: Number(uncachedCall.toFixed(1)),
    speedup: Number((uncachedCall / cachedCall).toFixed(3)),
    tokens_match: tokensMatch,
    max_logit_rel_err: maxRelErr,
  }),
);
