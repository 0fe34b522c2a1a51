/**
 * npm run export-shards -- --data <dataset> --config <file|preset> --out <dir> --batches N
 * npm run export-shards -- --data <dataset> --from <workbench run> --out <dir> --batches N
 *
 * Writes the pre-training batch stream as safetensors shards for the PyTorch twin
 * (torch/README.md): batch k of the stream `npm run train` would draw is shard k, laid out
 * by the workbench's own tokenizers and batch builder. `<out>/init/` is the run's starting
 * checkpoint: fresh weights (seeded as `npm run train` seeds them) or, with --from, the
 * given run's latest checkpoint, whose stream the shards then continue.
 */
import { defineCli } from '../../cli/args.ts';
import { readConfigSpec } from '../../cli/config-spec.ts';
import { LeRobotReader } from '../../data/index.ts';
import { nodeIO } from '../../data/io-node.ts';
import { openRuntime } from '../../engine/autotune.ts';
import { loadCheckpoint, saveCheckpoint, toResume } from '../../train/checkpoint.ts';
import { nodeCheckpointIO } from '../../train/checkpoint-node.ts';
import { Pretrainer } from '../../train/pretrain.ts';
import { exportShards } from '../export.ts';

const cli = defineCli({
  name: 'export-shards',
  command: 'npm run export-shards --',
  description: 'Write the pre-training batch stream as safetensors shards (and the starting checkpoint) for the PyTorch twin.',
  options: {
    data: { type: 'string', required: true, metavar: 'dataset dir', help: 'LeRobot v3 dataset' },
    config: { type: 'string', metavar: 'file|preset', help: 'model and training config (a new run)' },
    from: { type: 'string', metavar: 'run dir', help: 'continue this workbench run: its latest checkpoint becomes init/, the shards continue its stream' },
    out: { type: 'string', required: true, metavar: 'dir', help: 'output directory (shards, shards.json, init/)' },
    batches: { type: 'int', min: 1, max: 1_000_000, required: true, metavar: 'N', help: 'batches (= twin training steps) to write' },
    steps: { type: 'int', min: 1, metavar: 'N', help: 'planned steps of the run (the LR schedule); default the config\'s train.steps' },
  },
});
const args = cli.parse();
const fail: (message: string) => never = cli.fail;
if (!args.config === !args.from) fail('give exactly one of --config (a new run) and --from (continue a workbench run)');

const outIO = await nodeCheckpointIO(args.out);
if (await outIO.exists('shards.json')) fail(`--out ${args.out} already holds shards (shards.json); choose another directory`);
const saved = args.from ? await loadCheckpoint(await nodeCheckpointIO(args.from, { create: false })).catch((e: Error) => fail(`--from ${args.from}: ${e.message}`)) : null;
const config = saved ? saved.config : readConfigSpec(args.config!, fail);

const rt = await openRuntime();
console.error(`adapter: ${rt.info.vendor} ${rt.info.architecture} (${rt.info.description})`);
try {
  const reader = await LeRobotReader.open(nodeIO(args.data)).catch((e: Error) => fail(`--data ${args.data}: ${e.message}`));
  const trainer = await Pretrainer.create(rt, config, reader, {
    steps: args.steps,
    resume: saved ? (() => { try { return toResume(saved); } catch (e) { return fail(`--from ${args.from}: ${(e as Error).message}`); } })() : undefined,
    onProgress: (m) => console.error(m),
  });
  const initIO = await nodeCheckpointIO(`${args.out}/init`);
  await saveCheckpoint(initIO, await trainer.checkpoint());
  const t0 = performance.now();
  let last = 0;
  const index = await exportShards(trainer, outIO, {
    batches: args.batches,
    onProgress: (done, total) => {
      const now = performance.now();
      if (now - last > 2000 || done === total) {
        last = now;
        const rate = done / ((now - t0) / 1000);
        console.error(`shard ${done}/${total}  ${rate.toFixed(1)} batches/s  eta ${Math.round((total - done) / rate)} s`);
      }
    },
  });
  trainer.dispose();
  const tokens = index.tokens.reduce((a, b) => a + b, 0);
  console.log(JSON.stringify({ out: args.out, batches: index.batches, first_sampler_step: index.firstSamplerStep, init_step: index.initStep, tokens, vocab: index.vocabSize, seconds: Math.round((performance.now() - t0) / 100) / 10 }));
} finally {
  rt.destroy();
}
