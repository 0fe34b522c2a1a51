/**
 * npm run sim:experts [-- --states 50 --suite goal --task goal/open_drawer]
 * Runs the scripted expert from every fixed initial state of every task and prints
 * per-task success; the last line is one JSON object with the table.
 */
import { defineCli } from '../../cli/args.ts';
import { runExpert } from '../experts/rollout';
import { getInitState, INIT_STATES_PER_TASK } from '../tasks/init';
import { listTasks } from '../tasks/suites';
import { SUITES } from '../tasks/spec';
import { World } from '../world';

const cli = defineCli({
  name: 'sim:experts',
  command: 'npm run sim:experts --',
  description: 'Runs the scripted expert from the fixed initial states of every task and prints per-task success.',
  options: {
    states: { type: 'int', min: 1, max: INIT_STATES_PER_TASK, default: INIT_STATES_PER_TASK, help: 'initial states per task (the first N)' },
    suite: { type: 'string', choices: SUITES, help: 'only the tasks of this suite' },
    task: { type: 'string', metavar: 'ID', help: 'only this task, e.g. goal/open_drawer' },
  },
});
const { states, suite, task: only } = cli.parse();
const tasks = listTasks(suite).filter((t) => !only || t.id === only);
if (tasks.length === 0) cli.fail(`no task matches ${only}`);

const table: Record<string, { success: number; n: number; rate: number; meanSteps: number; failed: number[] }> = {};
const t0 = performance.now();
for (const task of tasks) {
  const world = await World.create(task, { objects: task.objects, fixtures: task.fixtures });
  let ok = 0;
  let steps = 0;
  const failed: number[] = [];
  for (let i = 0; i < states; i++) {
    const r = runExpert(world, getInitState(task, i));
    steps += r.steps;
    if (r.success) ok++;
    else failed.push(i);
  }
  world.delete();
  table[task.id] = { success: ok, n: states, rate: ok / states, meanSteps: Math.round(steps / states), failed };
  const pct = ((100 * ok) / states).toFixed(1).padStart(5);
  console.log(`${task.id.padEnd(34)} ${String(ok).padStart(3)}/${states} ${pct}%  mean steps ${Math.round(steps / states)}${failed.length ? `  failed: ${failed.join(' ')}` : ''}`);
}
const rates = Object.values(table).map((r) => r.rate);
const summary = {
  tasks: tasks.length,
  states_per_task: states,
  min_rate: Math.min(...rates),
  mean_rate: rates.reduce((a, b) => a + b, 0) / rates.length,
  all_at_least_95: rates.every((r) => r >= 0.95),
  seconds: Math.round((performance.now() - t0) / 1000),
  per_task: table,
};
console.log(JSON.stringify(summary));
