/**
 * Are a policy's chunks shorter than the expert's from the same state? (docs/results.md
 * round 11, issue 10: landings 1.4-1.8 cm short, not FAST's rounding.) Replays the scripted
 * expert's kept actions (`npm run eval -- --policy expert --keep-actions`) in the simulator
 * with the cameras on; every `execute` steps it asks the policy for proposals from the
 * expert's own state and compares the planar displacement of the first `execute` actions
 * with the expert's next `execute`: gain = sum(p . e) / sum(|e|^2) over all queries (1: as
 * far as the expert, < 1: shorter or off direction), for the greedy chunk (candidate 0), the
 * mean of the temperature-1 samples and the critic's choice, and the length ratio
 * sum |p| / sum |e| (direction left out). Proposals need a critic to rank them; here only their actions are
 * read, so a BC-only run passes any CRL run with the same tokenizers as --critic.
 *
 *   node scripts/run.mjs scripts/probe/chunk-gain.ts expert.eval.json <policy run> <critic run> [execute=4] [max-step=40]
 */
import { readFileSync } from 'node:fs';
import { openRuntime } from '../../src/engine/autotune.ts';
import { BatchEnv, type Observation } from '../../src/sim/index.ts';
import { loadCheckpoint } from '../../src/train/checkpoint.ts';
import { nodeCheckpointIO } from '../../src/train/checkpoint-node.ts';
import { parseResults } from '../../src/train/eval-results.ts';
import { displacement } from '../../src/train/grounding.ts';
import { prtsPolicyFromCheckpoint } from '../../src/train/inference.ts';

const [resultsFile, run, criticRun, executeArg, maxArg] = process.argv.slice(2);
if (!resultsFile || !run || !criticRun) {
  console.error('usage: chunk-gain.ts <expert results.json> <policy run> <critic run> [execute] [max-step]');
  process.exit(2);
}
const execute = Number(executeArg ?? 4);
const maxStep = Number(maxArg ?? 40);
const C = 8;
const episodes = parseResults(JSON.parse(readFileSync(resultsFile, 'utf8')), resultsFile).episodes;
const rt = await openRuntime();
const data = await loadCheckpoint(await nodeCheckpointIO(run, { create: false }));
const critic = await loadCheckpoint(await nodeCheckpointIO(criticRun, { create: false }));
const policy = await prtsPolicyFromCheckpoint(data, { rt, mode: 'ar', candidates: C, temperature: 1, critic, seed: 0 });
const size = data.config.model.imageSize;
const acc = { greedy: [0, 0], samples: [0, 0], chosen: [0, 0] };
// Length alone (sum |p| / sum |e|): the projection above also shrinks when the direction is off.
const len = { greedy: [0, 0], chosen: [0, 0] };
let queries = 0;
const planar = (chunk: Float32Array) => displacement(chunk, execute);
const add = (k: keyof typeof acc, p: [number, number], e: [number, number]) => {
  acc[k][0] += p[0] * e[0] + p[1] * e[1];
  acc[k][1] += e[0] * e[0] + e[1] * e[1];
  if (k !== 'samples') {
    len[k][0] += Math.hypot(p[0], p[1]);
    len[k][1] += Math.hypot(e[0], e[1]);
  }
};
for (let b = 0; b < episodes.length; b += 12) {
  const part = episodes.slice(b, b + 12);
  const env = await BatchEnv.create(
    part.map((e) => ({ task: e.taskId, initState: e.initState, perturbation: null })),
    { width: size, height: size, device: rt.device, readback: true },
  );
  try {
    let obs: Observation[] = await env.reset();
    const configs = env.configs();
    for (let t = 0; t < maxStep; t++) {
      if (t % execute === 0) {
        // A fresh episode per query: every query is the policy's first re-plan.
        await policy.reset(part.map((e, i) => ({ envId: i, taskId: e.taskId, instruction: configs[i].instruction, initState: e.initState, perturbation: 'nominal', seed: t * 1000 + i })));
        const live = part.flatMap((e, i) => (t + execute <= e.actions!.length ? [i] : []));
        if (live.length) {
          const p = await policy.inference.propose(live.map((i) => ({ envId: i, obs: obs[i], instruction: configs[i].instruction, taskId: part[i].taskId })));
          live.forEach((i, r) => {
            const acts = part[i].actions!;
            const e: [number, number] = [0, 0];
            for (let h = 0; h < execute; h++) {
              e[0] += acts[t + h][0];
              e[1] += acts[t + h][1];
            }
            add('greedy', planar(p.chunks[r * C]), e);
            const s: [number, number] = [0, 0];
            for (let k = 1; k < C; k++) {
              const q = planar(p.chunks[r * C + k]);
              s[0] += q[0] / (C - 1);
              s[1] += q[1] / (C - 1);
            }
            add('samples', s, e);
            add('chosen', planar(p.chunks[r * C + p.chosen[r]]), e);
            queries++;
          });
        }
      }
      const step = part.map((e) => Float32Array.from(e.actions![Math.min(t, e.actions!.length - 1)].map((v, j) => (t < e.actions!.length ? v : j === 6 ? v : 0))));
      obs = (await env.step(step)).map((r) => r.obs);
    }
  } finally {
    env.dispose();
  }
}
const gain = (k: keyof typeof acc) => +(acc[k][0] / acc[k][1]).toFixed(3);
console.log(JSON.stringify({ policy: run, critic: criticRun, queries, execute, max_step: maxStep, gain_greedy: gain('greedy'), gain_sample_mean: gain('samples'), gain_chosen: gain('chosen'), length_greedy: +(len.greedy[0] / len.greedy[1]).toFixed(3), length_chosen: +(len.chosen[0] / len.chosen[1]).toFixed(3) }));
policy.dispose();
rt.destroy();
