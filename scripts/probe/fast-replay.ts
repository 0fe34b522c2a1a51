/**
 * Does FAST quantization alone make the reach landings short? (docs/results.md round 11,
 * issue 10.) Replays the scripted expert's kept actions (`npm run eval -- --policy expert
 * --keep-actions`) open loop, once as recorded and once as a chunked policy would execute
 * them: every `execute` steps the next `horizon` actions go through the checkpoint's FAST
 * tokenizer (encode, decode) and the first `execute` decoded actions are executed. Prints
 * successes and the tool's final offset from the named block (cm, along the approach from
 * the start; negative = short) for both, and one JSON line.
 *
 *   node scripts/run.mjs scripts/probe/fast-replay.ts expert.eval.json <run or .prts.zip> [execute=4]
 */
import { readFileSync } from 'node:fs';
import { TokenizerBundle } from '../../src/model/tokenizers/index.ts';
import { applyPerturbation, getInitState, getTask } from '../../src/sim/index.ts';
import { World } from '../../src/sim/world.ts';
import { loadCheckpoint } from '../../src/train/checkpoint.ts';
import { nodeCheckpointIO } from '../../src/train/checkpoint-node.ts';
import { parseResults, type EpisodeResult } from '../../src/train/eval-results.ts';

const [resultsFile, run, executeArg] = process.argv.slice(2);
if (!resultsFile || !run) {
  console.error('usage: fast-replay.ts <expert results.json> <run or .prts.zip> [execute]');
  process.exit(2);
}
const execute = Number(executeArg ?? 4);
const episodes = parseResults(JSON.parse(readFileSync(resultsFile, 'utf8')), resultsFile).episodes;
const data = await loadCheckpoint(await nodeCheckpointIO(run, { create: false }));
const fast = TokenizerBundle.fromJSON(data.tokenizers).fast;
const H = fast.horizon;
const K = fast.actionDim;

/** The actions a chunked policy executes if every chunk is the expert's, FAST round-tripped. */
function roundTripped(actions: number[][]): number[][] {
  const out: number[][] = [];
  for (let t = 0; t < actions.length; t += execute) {
    const chunk = new Float32Array(H * K);
    for (let h = 0; h < H; h++) chunk.set(actions[Math.min(t + h, actions.length - 1)], h * K);
    const dec = fast.decode(fast.encode(chunk));
    for (let h = 0; h < execute && t + h < actions.length; h++) out.push(Array.from(dec.actions.subarray(h * K, (h + 1) * K)));
  }
  return out;
}

async function replay(e: EpisodeResult, actions: number[][]): Promise<{ success: boolean; along: number; dist: number }> {
  const task = getTask(e.taskId);
  const cfg = applyPerturbation(task, getInitState(task, e.initState), e.perturbationRecord);
  const world = await World.create(cfg.task, cfg.scene, cfg.goal);
  try {
    world.reset(cfg.init);
    const start = [...world.proprio().eePos];
    let success = false;
    for (const a of actions) {
      world.step(a);
      if (world.success()) {
        success = true;
        break;
      }
    }
    const end = [...world.proprio().eePos];
    const goal = [...world.objectPos(`${e.taskId.split('_').pop()}_block`)];
    const dx = end[0] - goal[0];
    const dy = end[1] - goal[1];
    const ax = goal[0] - start[0];
    const ay = goal[1] - start[1];
    const n = Math.hypot(ax, ay) || 1;
    return { success, along: (dx * ax + dy * ay) / n, dist: Math.hypot(dx, dy) };
  } finally {
    world.delete();
  }
}

const rows: { key: string; recorded: Awaited<ReturnType<typeof replay>>; fast: Awaited<ReturnType<typeof replay>> }[] = [];
for (const e of episodes) {
  if (!e.actions) throw new Error(`${e.taskId}#${e.initState} has no actions: evaluate with --keep-actions`);
  rows.push({ key: `${e.taskId}#${e.initState}`, recorded: await replay(e, e.actions), fast: await replay(e, roundTripped(e.actions)) });
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const summary = (k: 'recorded' | 'fast') => ({
  successes: rows.filter((r) => r[k].success).length,
  along_cm: +(100 * mean(rows.map((r) => r[k].along))).toFixed(2),
  dist_cm: +(100 * mean(rows.map((r) => r[k].dist))).toFixed(2),
});
for (const r of rows) console.log(`${r.key.padEnd(24)} recorded ${r.recorded.success ? 'ok ' : '-- '} ${(100 * r.recorded.dist).toFixed(1)} cm   fast ${r.fast.success ? 'ok ' : '-- '} ${(100 * r.fast.dist).toFixed(1)} cm`);
console.log(JSON.stringify({ episodes: rows.length, execute, horizon: H, recorded: summary('recorded'), fast: summary('fast') }));
