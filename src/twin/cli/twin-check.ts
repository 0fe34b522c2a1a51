/**
 * npm run twin:check [-- --steps 20 --out <dir> --keep]
 *
 * The engine against the PyTorch twin on the same checkpoint and batches (issue 12): the
 * workbench writes the step-0 checkpoint, 20 batch shards, its loss terms, gradients,
 * parameters after one AdamW step and its 20-step loss curve (src/twin/check-data.ts),
 * and, under <dir>/dit, one post-training step of the DiT action expert: its checkpoint,
 * batch, flow draw, loss, velocity, gradients, parameters after one AdamW step and an
 * Euler sample (src/twin/check-dit.ts); the twin (torch/prts_torch/check.py and
 * check_dit.py, Debian's python3-torch) recomputes them and prints the largest relative
 * errors. Ends with the twin's JSON line (the DiT's figures prefixed dit_); exits 1 when
 * a tolerance is missed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineCli } from '../../cli/args.ts';
import { nodeIO } from '../../data/io-node.ts';
import { openRuntime } from '../../engine/autotune.ts';
import { nodeCheckpointIO } from '../../train/checkpoint-node.ts';
import { writeTwinCheck } from '../check-data.ts';
import { writeDitCheck } from '../check-dit.ts';
import { runTwin } from '../python.ts';

const cli = defineCli({
  name: 'twin:check',
  command: 'npm run twin:check --',
  description: 'Cross-check the WebGPU engine against the PyTorch twin: loss terms, gradients, one AdamW step and a 20-step loss curve of pre-training, and one post-training step of the DiT.',
  options: {
    steps: { type: 'int', min: 1, max: 1000, default: 20, metavar: 'N', help: 'training steps of the loss curve' },
    seed: { type: 'int', min: 0, default: 0, help: 'train.seed and the synthetic dataset seed' },
    out: { type: 'string', metavar: 'dir', help: 'keep the checkpoint, shards and expected values here (default a temporary directory, removed)' },
  },
});
const args = cli.parse();
const dir = args.out ?? mkdtempSync(join(tmpdir(), 'prts-twin-check-'));
const rt = await openRuntime();
console.error(`adapter: ${rt.info.vendor} ${rt.info.architecture} (${rt.info.description})`);
let code = 1;
try {
  const out = nodeIO(dir);
  await writeTwinCheck(rt, out, await nodeCheckpointIO(join(dir, 'init')), { steps: args.steps, seed: args.seed });
  const ditDir = join(dir, 'dit');
  await writeDitCheck(rt, nodeIO(ditDir), await nodeCheckpointIO(join(ditDir, 'init')), { seed: args.seed });
  console.error(`workbench side written to ${dir}; running the twin`);
  code = await runTwin(['-m', 'prts_torch.check', '--dir', dir, '--dit', ditDir], { inherit: true });
} finally {
  rt.destroy();
  if (!args.out) rmSync(dir, { recursive: true, force: true });
}
process.exit(code);
