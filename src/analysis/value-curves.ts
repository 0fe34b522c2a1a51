/**
 * The CRL value and embeddings of a checkpoint on dataset chunks (PRTS Fig. 5, Fig. 9;
 * DESIGN.md 4): V(s_t, a_t, l) = phi(s_t, a_t) . psi(l), the cosine of the unit-norm
 * CRL embeddings before the temperature. Runs wherever an engine Runtime lives (the GPU
 * worker for the Value and Embeddings tabs, Node for docs/results.md).
 *
 * The checkpoint's own trainer does the batch assembly (tokenizers, layout with the CRL
 * blocks, patch features), so the documents are laid out exactly as in training; the
 * optimizer it also builds is never stepped.
 */
import type { LeRobotReader } from '../data/index.ts';
import type { Runtime } from '../engine/runtime.ts';
import { gatherRows } from '../engine/ops/embedding.ts';
import { Scope } from '../engine/tensor.ts';
import { SampleIndex, type Sample } from '../model/batch.ts';
import { toResume, type CheckpointData } from '../train/checkpoint.ts';
import { backboneCheckpoint } from '../train/posttrain.ts';
import { Pretrainer } from '../train/pretrain.ts';
import { valueCurveMetrics, type EpisodeValueMetrics } from './value.ts';

export interface CrlProbeOptions {
  /** Samples per forward pass (memory bound). Default 8. */
  batch?: number;
  /** Called after each forward pass with (done, total) samples. */
  onProgress?: (done: number, total: number) => void | Promise<void>;
  /** Also return the backbone's hidden state at <|action_end|> (what phi's MLP reads; PRTS Fig. 5 plots it). */
  hidden?: boolean;
}

/** A checkpoint ready to embed chunks of one dataset. */
export class CrlProbe {
  private constructor(
    readonly trainer: Pretrainer,
    readonly index: SampleIndex,
  ) {}

  static async create(rt: Runtime, ckpt: CheckpointData, reader: LeRobotReader, stride = 1): Promise<CrlProbe> {
    // A post-trained run reads through its backbone (the DiT plays no part in phi / psi).
    const trainer = await Pretrainer.create(rt, ckpt.config, reader, { resume: toResume(backboneCheckpoint(ckpt)) });
    try {
      const index = await SampleIndex.fromReader(reader, { horizon: ckpt.config.model.chunkLength, cameras: ckpt.config.model.cameras, stride });
      return new CrlProbe(trainer, index);
    } catch (e) {
      trainer.dispose();
      throw e;
    }
  }

  /** The index's samples of one dataset episode, in time order. */
  episodeSamples(episode: number): Sample[] {
    const out: Sample[] = [];
    for (let id = 0; id < this.index.size; id++) {
      const s = this.index.sample(id);
      if (s.episode === episode) out.push(s);
    }
    if (!out.length) throw new RangeError(`episode ${episode} has no samples in this dataset (it has ${this.trainer.reader.episodes.length} episodes)`);
    return out.sort((a, b) => a.t - b.t);
  }

  /**
   * phi of every sample and psi of every sample's instruction (unit rows, embedDim
   * wide), and V = phi . psi per sample. Samples are laid out with their `instruction`,
   * so a wrong instruction is a sample with the instruction replaced.
   */
  async embed(
    samples: readonly Sample[],
    opts: CrlProbeOptions = {},
  ): Promise<{ dim: number; phi: Float32Array; psi: Float32Array; value: Float32Array; hidden?: Float32Array; hiddenDim: number }> {
    const B = Math.max(1, opts.batch ?? 8);
    const dim = this.trainer.config.model.crlDim;
    const phiAll = new Float32Array(samples.length * dim);
    const psiAll = new Float32Array(samples.length * dim);
    const value = new Float32Array(samples.length);
    const hiddenDim = this.trainer.config.model.dModel;
    const hiddenAll = opts.hidden ? new Float32Array(samples.length * hiddenDim) : undefined;
    const model = this.trainer.model;
    for (let s0 = 0; s0 < samples.length; s0 += B) {
      const chunk = samples.slice(s0, s0 + B);
      const batch = await this.trainer.assemble(chunk, true);
      const map = model.blockMap(batch);
      const scope = new Scope();
      try {
        const { phi, psi, hAt } = scope.run(() => {
          const h = model.hidden(batch, map);
          return { phi: model.phi(h, batch), psi: model.psi(h, batch), hAt: hiddenAll ? gatherRows(h, batch.actionEndIndex) : null };
        });
        const [ph, ps] = (await Promise.all([phi.read(), psi.read()])) as [Float32Array, Float32Array];
        if (hAt && hiddenAll) hiddenAll.set((await hAt.read()) as Float32Array, s0 * hiddenDim);
        for (let i = 0; i < chunk.length; i++) {
          const g = batch.goalOf[i];
          let v = 0;
          for (let d = 0; d < dim; d++) {
            const a = ph[i * dim + d];
            const b = ps[g * dim + d];
            phiAll[(s0 + i) * dim + d] = a;
            psiAll[(s0 + i) * dim + d] = b;
            v += a * b;
          }
          value[s0 + i] = v;
        }
      } finally {
        scope.dispose();
        map.release();
      }
      await opts.onProgress?.(Math.min(samples.length, s0 + B), samples.length);
    }
    return { dim, phi: phiAll, psi: psiAll, value, hidden: hiddenAll, hiddenDim };
  }

  dispose(): void {
    this.trainer.dispose();
  }
}

export interface EpisodeValueCurves {
  episode: number;
  /** Chunk start of each point. */
  t: number[];
  T: number;
  instruction: string;
  wrongInstruction: string;
  vTrue: number[];
  vWrong: number[];
  metrics: EpisodeValueMetrics;
}

/** V under the episode's instruction and under `wrongInstruction` at every chunk start (PRTS Fig. 9). */
export async function episodeValueCurves(probe: CrlProbe, episode: number, wrongInstruction: string, opts: CrlProbeOptions = {}): Promise<EpisodeValueCurves> {
  const samples = probe.episodeSamples(episode);
  const instruction = samples[0].instruction;
  if (wrongInstruction === instruction) throw new RangeError('the wrong instruction is the episode\'s own instruction; pick another task');
  // True and wrong documents of the same chunk in one forward pass: two goals per batch.
  const both = samples.flatMap((s) => [s, { ...s, instruction: wrongInstruction }]);
  const { value } = await probe.embed(both, { ...opts, batch: 2 * Math.max(1, Math.floor((opts.batch ?? 8) / 2)) });
  const vTrue = samples.map((_, i) => value[2 * i]);
  const vWrong = samples.map((_, i) => value[2 * i + 1]);
  return {
    episode,
    t: samples.map((s) => s.t),
    T: samples[0].T,
    instruction,
    wrongInstruction,
    vTrue,
    vWrong,
    metrics: valueCurveMetrics(vTrue, vWrong),
  };
}
