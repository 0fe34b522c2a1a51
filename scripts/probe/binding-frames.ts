/**
 * node scripts/run.mjs scripts/probe/binding-frames.ts --states 0-999 --size 32 --out scratch/probe/frames.bin
 *
 * The first frames of reach scenes for the colour-binding probe (scripts/probe/binding.py,
 * docs/results.md round 7): both cameras at the initial state, and for each of the six
 * colours the 2 x 3 slot its block stands in. Uses the layout of reach/touch_red; from
 * state 50 on the six reach tasks share a layout, so the labels hold for every colour.
 * Format: a JSON header line, then N x 2 x size x size x 3 uint8 pixels (agentview,
 * wrist), then N x 6 uint8 slots (the task's blocks in its object order, red first; a
 * slot is the index of the task's nearest region, slot_00 .. slot_12).
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { acquireDevice } from '../../src/engine/device.ts';
import { BatchEnv } from '../../src/sim/env.ts';
import { getInitState } from '../../src/sim/tasks/init.ts';
import { getTask } from '../../src/sim/tasks/suites.ts';

const { values } = parseArgs({ options: { states: { type: 'string', default: '0-999' }, size: { type: 'string', default: '32' }, out: { type: 'string', default: 'scratch/probe/frames.bin' } } });
const m = /^(\d+)-(\d+)$/.exec(values.states!);
if (!m) throw new Error(`--states must be A-B, got ${values.states}`);
const [a, b] = [Number(m[1]), Number(m[2])];
const size = Number(values.size);
const task = getTask('reach/touch_red');
// The task's own blocks and slots, so the labels follow the suite's definition.
const blocks = task.objects.map((o) => o.name);
const COLORS = task.objects.map((o) => o.color);
const nearestSlot = ([x, y]: ArrayLike<number>) =>
  task.regions.reduce((best, r, i) => (Math.hypot(x - r.center[0], y - r.center[1]) < Math.hypot(x - task.regions[best].center[0], y - task.regions[best].center[1]) ? i : best), 0);
const { device } = await acquireDevice();
const n = b - a + 1;
const pixels = new Uint8Array(n * 2 * size * size * 3);
const slots = new Uint8Array(n * 6);
const BATCH = 50;
for (let s = a; s <= b; s += BATCH) {
  const idx = Array.from({ length: Math.min(BATCH, b - s + 1) }, (_, k) => s + k);
  const env = await BatchEnv.create(idx.map((i) => ({ task, initState: i })), { width: size, height: size, device });
  const obs = await env.reset();
  obs.forEach((o, k) => {
    const row = idx[k] - a;
    pixels.set(o.images!.agentview, (row * 2) * size * size * 3);
    pixels.set(o.images!.wrist, (row * 2 + 1) * size * size * 3);
    const init = getInitState(task, idx[k]);
    blocks.forEach((name, ci) => (slots[row * 6 + ci] = nearestSlot(init.objects[name].pos)));
  });
  env.dispose();
  console.error(`${s + idx.length - a}/${n}`);
}
mkdirSync(dirname(values.out!), { recursive: true });
const header = new TextEncoder().encode(JSON.stringify({ states: [a, b], size, cameras: ['agentview', 'wrist'], colors: COLORS }) + '\n');
writeFileSync(values.out!, Buffer.concat([header, pixels, slots]));
console.log(JSON.stringify({ out: values.out, scenes: n, bytes: header.length + pixels.length + slots.length }));
