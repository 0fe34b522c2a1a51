/**
 * What a checkpoint's trainer.json and metrics files hold, for both stages. These types
 * live below checkpoint.ts, pretrain.ts and posttrain.ts so that the checkpoint code
 * (which reads and writes them) and the trainers (which fill them) need not import
 * each other.
 */
import type { TauSampling } from '../model/flow.ts';
import type { TokenizerBundle } from '../model/tokenizers/index.ts';
import type { PretrainStepMetrics } from './metrics.ts';
import type { NamedTensor } from './safetensors.ts';

/** Trainer state saved with a checkpoint (trainer.json). */
export interface TrainerState {
  type: 'prts-trainer';
  version: 1;
  kind: 'pretrain';
  /** Optimizer steps completed. */
  step: number;
  /** Planned steps of the run. */
  steps: number;
  /** The batch stream: the sampler is re-seeded and replayed `samplerStep` batches. */
  samplerSeed: number;
  samplerStep: number;
  /** Real tokens and wall seconds spent so far. */
  tokens: number;
  seconds: number;
  withCrl: boolean;
}

/** What Pretrainer needs to continue a run (checkpoint.ts toResume). */
export interface PretrainResume {
  trainer: TrainerState;
  tokenizers: TokenizerBundle;
  params: NamedTensor[];
  optimizer: NamedTensor[];
  optimizerSteps: Record<string, number>;
  metrics: PretrainStepMetrics[];
}

/** Trainer state of a post-training checkpoint (trainer.json); shares TrainerState's fields. */
export interface PostTrainerState extends Omit<TrainerState, 'kind'> {
  kind: 'posttrain';
  /** withCrl (inherited) says whether the BACKBONE was pre-trained with CRL blocks. */
  freezeBackbone: boolean;
  lr: number;
  warmup: number;
  /** Seeds the DiT init and every step's tau / noise draw (mixSeeds(seed, step)). */
  seed: number;
  /** The pre-training checkpoint it started from: its step and run length. */
  pretrainStep: number;
  /** Overrides of DEFAULT_TAU the run draws tau with (absent in checkpoints written before the option: the defaults). */
  tau?: Partial<TauSampling>;
}

export interface PostTrainStepMetrics {
  step: number;
  lr: number;
  /** Masked flow-matching loss. */
  loss: number;
  gradNorm: number;
  samples: number;
  tokens: number;
  ms: number;
  etaSec: number | null;
}
