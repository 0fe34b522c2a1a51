/**
 * npm run train -- --config <file | tiny | small | base> --data <dataset dir> --out <run dir>
 *                  [--steps N] [--resume] [--checkpoint-every K] [--log-every L]
 *
 * PRTS pre-training in Node on Dawn (docs/training.md). Prints one progress line per
 * logged step with every loss term, the temperature, tokens/s and ETA; checkpoints every
 * K steps (train.checkpointEvery, default 100) and at the end into <out>/step-XXXXXXXX
 * with <out>/latest.json pointing at the newest. Ctrl-C finishes the current step,
 * writes a checkpoint and exits (a second Ctrl-C exits at once). --resume continues
 * from <out>'s latest checkpoint with its config and tokenizers (--config is then
 * optional; --steps may extend the run). The last line is a JSON summary.
 */
import { defineCli } from '../../cli/args.ts';
import { readConfigSpec } from '../../cli/config-spec.ts';
import { LeRobotReader } from '../../data/index.ts';
import { nodeIO } from '../../data/io-node.ts';
import { openRuntime } from '../../engine/autotune.ts';
import type { WorkbenchConfig } from '../../model/config.ts';
import { loadCheckpoint, toResume } from '../checkpoint.ts';
import { nodeCheckpointIO } from '../checkpoint-node.ts';
import { formatStep } from '../metrics.ts';
import { Pretrainer, resolveTrainOptions } from '../pretrain.ts';
import { runCheckpointedLoop } from './checkpointed-loop.ts';

const cli = defineCli({
  name: 'train',
  command: 'npm run train --',
  description: 'PRTS pre-training in Node on Dawn (docs/training.md). Ctrl-C finishes the current step and writes a checkpoint; the last line is a JSON summary.',
  options: {
    config: { type: 'string', metavar: 'file|tiny|small|base', help: 'config JSON file or preset (required unless --resume; with --resume it must keep the model)' },
    data: { type: 'string', required: true, metavar: 'dataset dir', help: 'LeRobot dataset' },
    out: { type: 'string', required: true, metavar: 'run dir', help: 'run directory: step-XXXXXXXX checkpoints and latest.json' },
    steps: { type: 'int', min: 1, metavar: 'N', help: 'training steps (default train.steps of the config; may extend a resumed run)' },
    resume: { type: 'boolean', help: "continue --out's latest checkpoint with its config and tokenizers" },
    'checkpoint-every': { type: 'int', min: 0, metavar: 'K', help: 'checkpoint every K steps, 0 = at the end only (default train.checkpointEvery, 100)' },
    'log-every': { type: 'int', min: 1, default: 1, metavar: 'L', help: 'print every L-th step' },
  },
});
const args = cli.parse();
// Annotated so that TypeScript knows a call does not return.
const fail: (message: string) => never = cli.fail;

const readConfig = (spec: string): WorkbenchConfig => readConfigSpec(spec, fail);

const { data: dataDir, out: outDir, resume, config: configSpec, steps: stepsArg } = args;
const logEvery = args['log-every'];

const out = await nodeCheckpointIO(outDir);
if (out.archive) fail(`--out ${outDir} is a checkpoint archive: --out needs a run directory (unzip the archive there to --resume it)`);
const saved = resume ? await loadCheckpoint(out).catch((e: Error) => fail(`--resume: ${e.message}`)) : null;
if (!resume && (await out.exists('latest.json'))) fail(`${outDir} already holds a run (latest.json); pass --resume to continue it or choose another --out`);
let config: WorkbenchConfig;
if (saved) {
  config = saved.config;
  if (configSpec) {
    const given = readConfig(configSpec);
    if (JSON.stringify(given.model) !== JSON.stringify(config.model)) fail(`--config ${configSpec} has a different model than the checkpoint in ${outDir}; omit --config to resume with the saved one`);
    config = given;
  }
} else {
  if (!configSpec) fail('--config <file|preset> is required (unless --resume)');
  config = readConfig(configSpec);
}
const checkpointEvery = args['checkpoint-every'] ?? resolveTrainOptions(config).checkpointEvery;

const rt = await openRuntime();
console.error(`adapter: ${rt.info.vendor} ${rt.info.architecture} (${rt.info.description})`);
const reader = await LeRobotReader.open(nodeIO(dataDir)).catch((e: Error) => fail(`--data ${dataDir}: ${e.message}`));
const trainer = await Pretrainer.create(rt, config, reader, {
  steps: stepsArg,
  resume: saved ? toResume(saved) : undefined,
  onProgress: (m) => console.error(m),
}).catch((e: Error) => fail(e.message));
const total = trainer.options.steps;
console.error(
  `config "${config.name}": ${total} steps, batch ${config.train.batchSize} (${trainer.options.tasksPerBatch} tasks x ${trainer.options.samplesPerTask}), ` +
    `lambda_crl ${config.train.lambdaCrl}, gamma ${config.train.gamma}; checkpoints every ${checkpointEvery || 'end only'} into ${out.root}`,
);

const { interrupted: stopping, exitCode } = await runCheckpointedLoop(trainer, { name: 'train', out, logEvery, checkpointEvery, format: (m) => formatStep(m, total) });
const last = trainer.history[trainer.history.length - 1];
console.log(
  JSON.stringify({
    run: 'pretrain',
    config: config.name,
    steps: trainer.completedSteps,
    of: total,
    interrupted: stopping,
    final: last ? { total: last.total, bc: last.bc, saL: last.saL, lSa: last.lSa, accuracy: last.accuracy, temperature: last.temperature } : null,
    tokens: trainer.tokens,
    tokens_per_s: Math.round(trainer.tokens / Math.max(trainer.seconds, 1e-9)),
    checkpoint: out.root,
  }),
);
trainer.dispose();
rt.destroy();
process.exit(stopping ? 130 : exitCode);
