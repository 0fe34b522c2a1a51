/**
 * How much of the first FAST tokens does the target block decide? (docs/results.md round 8, issue 10)
 *
 * For every episode of a reach dataset: the slot of the named block in its initial state
 * (src/train/grounding-labels.ts: the task region nearest the named block) and the first two FAST tokens
 * of its first action chunk under a checkpoint's tokenizer. Prints the plug-in entropies
 * H(token 0), H(token 0 | slot) and H(token 0 | slot, instruction) in nats, so the BC gain
 * a policy gets from finding the named block is H(token 0) - H(token 0 | slot). The
 * conditional plug-in estimates are biased low (few episodes per cell); `cells` says how
 * many there are.
 *
 *   node scripts/run.mjs scripts/probe/token0-slot.ts --data data/reach-shared360 --checkpoint runs/p4 [--labels t0.json]
 * The last line is JSON. --labels also writes {state, colour, slot, token0} per episode, the
 * targets of `binding.py --token0` (the probe asked for the policy's first token instead of the slot).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { LeRobotReader } from '../../src/data/index.ts';
import { nodeIO } from '../../src/data/io-node.ts';
import { TokenizerBundle } from '../../src/model/tokenizers/index.ts';
import { loadCheckpoint } from '../../src/train/checkpoint.ts';
import { nodeCheckpointIO } from '../../src/train/checkpoint-node.ts';
import { getTask } from '../../src/sim/tasks/suites.ts';
import { groundingLabelOf } from '../../src/train/grounding-labels.ts';

const { values } = parseArgs({ options: { data: { type: 'string' }, checkpoint: { type: 'string' }, labels: { type: 'string' } } });
if (!values.data || !values.checkpoint) throw new Error('usage: --data <reach dataset> --checkpoint <run or checkpoint dir>');
const ck = await loadCheckpoint(await nodeCheckpointIO(values.checkpoint));
const bundle = TokenizerBundle.fromJSON(ck.tokenizers);
const H = ck.config.model.chunkLength;
const reader = await LeRobotReader.open(nodeIO(values.data));

/** Plug-in entropy (nats) of `y` within each group of `g`, weighted by group size. */
function conditionalEntropy(y: string[], g: string[]): { h: number; cells: number } {
  const groups = new Map<string, Map<string, number>>();
  y.forEach((v, i) => {
    const m = groups.get(g[i]) ?? new Map<string, number>();
    m.set(v, (m.get(v) ?? 0) + 1);
    groups.set(g[i], m);
  });
  let h = 0;
  for (const m of groups.values()) {
    const n = [...m.values()].reduce((a, b) => a + b, 0);
    for (const c of m.values()) h -= (c / y.length) * Math.log(c / n);
  }
  return { h, cells: groups.size };
}

const tok0: string[] = [];
const tok01: string[] = [];
const slot: string[] = [];
const slotTask: string[] = [];
const labels: { episode: number; state: number; colour: number; slot: number; token0: number }[] = [];
for (let e = 0; e < reader.episodes.length; e++) {
  const meta = reader.episodes[e].meta;
  const task = getTask(String(meta.task_id));
  // A reach task's goal is Touch(<colour>_block); its slot is the region nearest that block.
  const named = task.goal[0]?.args[0];
  if (task.suite !== 'reach' || !named) throw new Error(`episode ${e}: ${task.id} is not a reach task`);
  const s = groundingLabelOf(meta);
  const chunk = await reader.actionChunk(e, 0, H);
  const ids = bundle.fast.encode(chunk.actions);
  labels.push({ episode: reader.episodes[e].index, state: Number(meta.init_index), colour: task.objects.findIndex((o) => o.name === named), slot: s, token0: ids[0] });
  tok0.push(String(ids[0]));
  tok01.push(`${ids[0]},${ids[1]}`);
  slot.push(String(s));
  slotTask.push(`${s}|${task.id}`);
}
if (values.labels) writeFileSync(values.labels, JSON.stringify(labels));
const none = tok0.map(() => '');
const h0 = conditionalEntropy(tok0, none).h;
const h0s = conditionalEntropy(tok0, slot);
const h0st = conditionalEntropy(tok0, slotTask);
const h01 = conditionalEntropy(tok01, none).h;
const h01s = conditionalEntropy(tok01, slot);
console.log(JSON.stringify({
  episodes: tok0.length,
  distinct_token0: new Set(tok0).size,
  h_token0: +h0.toFixed(3),
  h_token0_given_slot: +h0s.h.toFixed(3),
  h_token0_given_slot_task: +h0st.h.toFixed(3),
  cells_slot_task: h0st.cells,
  h_tokens01: +h01.toFixed(3),
  h_tokens01_given_slot: +h01s.h.toFixed(3),
}));
