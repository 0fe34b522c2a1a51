/**
 * Exports the pre-training batch stream of a run as shards for the PyTorch twin
 * (`npm run export-shards`, DESIGN.md 13): the same sampler, state noise, packing and
 * patch features that `npm run train` would use at those steps, batch k of the stream in
 * shard k, plus `shards.json` (what the twin needs to know about the stream) and the
 * run's starting checkpoint in `init/` (the workbench's initial weights, or the
 * checkpoint it resumes from), so the twin starts from the same parameters.
 */
import type { WritableDatasetIO } from '../data/io.ts';
import type { WorkbenchConfig } from '../model/config.ts';
import type { Pretrainer } from '../train/pretrain.ts';
import { encodeShard, shardName } from './shards.ts';

export const SHARD_INDEX_FORMAT = 'prts-shards/1';

export interface ShardIndex {
  format: typeof SHARD_INDEX_FORMAT;
  /** Shards written: shard-000000 .. shard-(batches-1). */
  batches: number;
  /** Sampler step of shard 0 (0 for a new run; the checkpoint's samplerStep when continuing one). */
  firstSamplerStep: number;
  samplerSeed: number;
  /** Optimizer steps already done by the init checkpoint. */
  initStep: number;
  withCrl: boolean;
  tile: number;
  vocabSize: number;
  /** Real tokens per shard (for throughput figures). */
  tokens: number[];
  config: WorkbenchConfig;
}

export async function exportShards(
  trainer: Pretrainer,
  io: WritableDatasetIO,
  opts: { batches: number; onProgress?: (done: number, total: number) => void },
): Promise<ShardIndex> {
  if (!Number.isInteger(opts.batches) || opts.batches < 1) throw new RangeError(`batches must be a positive integer, got ${opts.batches}`);
  const first = trainer.sampler.step;
  const tokens: number[] = [];
  for (let k = 0; k < opts.batches; k++) {
    const batch = await trainer.nextBatch();
    await io.writeFileAtomic(shardName(k), encodeShard(batch, { step: first + k }));
    tokens.push(batch.n - batch.padTokens);
    opts.onProgress?.(k + 1, opts.batches);
  }
  const index: ShardIndex = {
    format: SHARD_INDEX_FORMAT,
    batches: opts.batches,
    firstSamplerStep: first,
    samplerSeed: trainer.options.samplerSeed,
    initStep: trainer.completedSteps,
    withCrl: trainer.options.withCrl,
    tile: trainer.config.model.attnTile,
    vocabSize: trainer.bundle.vocab.size,
    tokens,
    config: trainer.config,
  };
  await io.writeFileAtomic('shards.json', new TextEncoder().encode(JSON.stringify(index, null, 1) + '\n'));
  return index;
}
