/**
 * A policy's tool path next to the scripted expert's, from the same initial state
 * (docs/results.md round 10, issue 10): replays the kept actions of two evaluation results
 * (`npm run eval -- --keep-actions`) and prints, every second step, the tool position (cm)
 * and the first three action channels (dx, dy, dz in [-1, 1]) of both, so one sees where a
 * failing rollout leaves the expert's path.
 *
 *   node scripts/run.mjs scripts/probe/trajectory-vs-expert.ts policy.eval.json expert.eval.json reach/touch_blue#6 [task#state ...]
 */
import { readFileSync } from 'node:fs';
import { applyPerturbation, getInitState, getTask } from '../../src/sim/index.ts';
import { World } from '../../src/sim/world.ts';
import { parseResults } from '../../src/train/eval-results.ts';
import type { EpisodeResult } from '../../src/train/eval-results.ts';

const [policyFile, expertFile, ...keys] = process.argv.slice(2);
if (!policyFile || !expertFile || !keys.length) {
  console.error('usage: trajectory-vs-expert.ts <policy results.json> <expert results.json> <task#state> [...]');
  process.exit(2);
}
const load = (f: string) => parseResults(JSON.parse(readFileSync(f, 'utf8')), f).episodes;
const [policy, expert] = [load(policyFile), load(expertFile)];

/** Tool positions and actions of one episode's replay, and where the named block stands. */
async function replay(e: EpisodeResult): Promise<{ tool: number[][]; actions: number[][]; goal: number[] }> {
  if (!e.actions) throw new Error(`${e.taskId}#${e.initState} has no actions: evaluate with --keep-actions`);
  const task = getTask(e.taskId);
  const cfg = applyPerturbation(task, getInitState(task, e.initState), e.perturbationRecord);
  const world = await World.create(cfg.task, cfg.scene, cfg.goal);
  try {
    world.reset(cfg.init);
    const tool: number[][] = [];
    for (const a of e.actions) {
      world.step(a);
      tool.push([...world.proprio().eePos]);
    }
    return { tool, actions: e.actions.map((a) => a.slice(0, 3)), goal: [...world.objectPos(`${e.taskId.split('_').pop()}_block`)] };
  } finally {
    world.delete();
  }
}

const pick = (list: EpisodeResult[], key: string) => {
  const [task, state] = key.split('#');
  const e = list.find((x) => x.taskId === task && x.initState === Number(state));
  if (!e) throw new Error(`${key} is not in the results`);
  return e;
};
const cm = (v?: number[]) => (v ? v.map((x) => (x * 100).toFixed(1).padStart(6)).join('') : ' '.repeat(18));
const act = (v?: number[]) => (v ? v.map((x) => x.toFixed(2).padStart(6)).join('') : ' '.repeat(18));
for (const key of keys) {
  const [a, b] = [await replay(pick(policy, key)), await replay(pick(expert, key))];
  console.log(`${key}: named block at (${cm(a.goal.slice(0, 2))}) cm; columns: step | policy tool x y z (cm), dx dy dz | expert the same`);
  for (let t = 0; t < Math.max(a.tool.length, b.tool.length); t += 2) console.log(`${String(t).padStart(3)} ${cm(a.tool[t])} ${act(a.actions[t])} | ${cm(b.tool[t])} ${act(b.actions[t])}`);
}
