/**
 * The job registry of the GPU worker: one entry per JobKind in worker/protocol.ts.
 * An entry is either the job function or `{ unavailable: reason }`, which the Train tab
 * shows instead of a start button.
 */
import type { JobRegistry } from '../runner.ts';
import { cpuMlpJob } from './cpu-mlp.ts';
import { genJob } from './gen.ts';
import { pretrainJob } from './pretrain.ts';
import { posttrainJob } from './posttrain.ts';
import { rolloutJob } from './rollout.ts';
import { tsneJob } from './tsne.ts';
import { valueJob } from './value.ts';
import { selftestJob } from './selftest.ts';
import { tinycheckJob } from './tinycheck.ts';

export const JOBS: JobRegistry = {
  'cpu-mlp': cpuMlpJob,
  gen: genJob,
  pretrain: pretrainJob,
  posttrain: posttrainJob,
  value: valueJob,
  tsne: tsneJob,
  rollout: rolloutJob,
  selftest: selftestJob,
  tinycheck: tinycheckJob,
};

export const THROUGHPUT_UNITS = { 'cpu-mlp': 'samples', tinycheck: 'tokens', selftest: 'kernels', gen: 'frames', pretrain: 'tokens', posttrain: 'tokens', value: 'chunks', tsne: 'iterations', rollout: 'steps' } as const;
