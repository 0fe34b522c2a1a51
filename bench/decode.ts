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
import { defineCli } from '../src/cli/args.ts';
import { openRuntime } from '../src/engine/autotune.ts';
import { SPECIAL } from '../src/model/tokenizers/index.ts';
import { prtsPolicyFromCheckpoint, type ArDecodeResult } from '../src/train/inference.ts';
import { randomCheckpoint, randomPolicyInputs } from '../src/train/random-policy.ts';
import { median } from './timing.ts';

const cli = defineCli({
  name: 'bench:decode',
  command: 'npm run bench:decode --',
  description: "AR chunk decoding with and without the KV cache on the same random model and inputs; ends with one JSON line.",
  options: {
    rows: { type: 'int', min: 1, default: 4, help: 'environments decoded per call' },
    d: { type: 'int', min: 1, default: 64, help: 'model width' },
    layers: { type: 'int', min: 1, default: 2, help: 'transformer layers' },
    'head-dim': { type: 'int', choices: [32, 64], default: 32, help: 'attention head width' },
    image: { type: 'int', min: 1, default: 32, help: 'camera image size' },
    patch: { type: 'int', min: 1, default: 4, help: 'image patch size' },
    tokens: { type: 'int', min: 1, default: 32, help: 'FAST tokens per chunk' },
    reps: { type: 'int', min: 1, default: 3, help: 'timed calls per path' },
    warmup: { type: 'int', min: 0, default: 1, help: 'untimed calls per path' },
    seed: { type: 'int', min: 0, default: 0, help: 'random seed' },
  },
});
const args = cli.parse();
// Annotated so that TypeScript knows a call does not return.
const fail: (message: string) => never = cli.fail;
const { rows, d, layers, image, patch, reps, warmup, seed } = args;
const headDim = args['head-dim'];
const fastTokens = args.tokens;
if (d % headDim !== 0) fail(`--d (${d}) must be a multiple of --head-dim (${headDim})`);
if (image % patch !== 0) fail(`--image (${image}) must be a multiple of --patch (${patch})`);

const rt = await openRuntime();
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
