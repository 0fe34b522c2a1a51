/**
 * PRTS batch builder (issue 6, item 2): sample index -> task-balanced sampler -> packed
 * batch with its block map.
 *
 *   const reader = await LeRobotReader.open(io);
 *   const index = await SampleIndex.fromReader(reader, { horizon: cfg.chunkLength, cameras: cfg.cameras });
 *   const builder = new BatchBuilder(index, bundle, {
 *     tasksPerBatch: 4, samplesPerTask: 4, seed: train.seed,
 *     maxTokens: 1024, tile: cfg.attnTile, gamma: train.gamma,
 *     imagePatches: cfg.cameras.map(() => (cfg.imageSize / cfg.patchSize) ** 2),
 *   });
 *   const batch = builder.next();            // PackedBatch, block map included
 *   const images = await decodeFrames(reader, batch.frames.flat());  // sample-major, camera order
 *
 * The no-CRL ablation uses `withCrl: false`: the same samples in the same order (same
 * seed), each document the BC prefix of its CRL version.
 */
import type { TokenizerBundle } from './tokenizers/index.ts';
import { buildBatch, type BuildBatchOptions, type LayoutFn, type PackedBatch } from './batch/pack.ts';
import { TaskBalancedSampler, type SampledBatch, type TaskSamplerOptions } from './batch/sampler.ts';
import type { SampleIndex } from './batch/samples.ts';

export * from './batch/samples.ts';
export * from './batch/sampler.ts';
export * from './batch/pack.ts';

export type BatchBuilderOptions = TaskSamplerOptions & BuildBatchOptions;

export class BatchBuilder {
  readonly sampler: TaskBalancedSampler;

  constructor(
    readonly index: SampleIndex,
    private readonly layout: LayoutFn | TokenizerBundle,
    readonly options: BatchBuilderOptions,
  ) {
    if (options.imagePatches.length !== index.cameras.length) {
      throw new RangeError(`BatchBuilder: imagePatches lists ${options.imagePatches.length} cameras, the sample index has ${index.cameras.length} (${index.cameras.map((c) => c.camera).join(', ') || 'none'})`);
    }
    this.sampler = new TaskBalancedSampler(index.taskOfSample, options);
  }

  /** The next batch of the seeded stream, packed; `drawn` says which samples it holds. */
  next(): PackedBatch & { drawn: SampledBatch } {
    const drawn = this.sampler.next();
    const samples = Array.from(drawn.ids, (id) => this.index.sample(id));
    return { ...buildBatch(samples, this.layout, this.options), drawn };
  }
}
