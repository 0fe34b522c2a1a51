/**
 * Tokenizers of the PRTS model and the bundle saved with a checkpoint (tokenizers.json):
 * instruction text, proprio-as-text, FAST actions, and the unified vocabulary they
 * define together.
 */
import { FastTokenizer, type FastFitOptions, type FastJSON, type QuantileStats } from './fast.ts';
import { InstructionTokenizer, type EmbodimentDescriptor, type InstructionFitOptions, type InstructionJSON } from './instruction.ts';
import { ProprioTokenizer, type ProprioJSON } from './proprio.ts';
import { Vocab, layoutDocument, layoutPrefix, type DocumentLayout, type DocumentPrefix, type LayoutOptions, type VocabJSON } from './vocab.ts';

export * from './bpe.ts';
export * from './fast.ts';
export * from './instruction.ts';
export * from './proprio.ts';
export * from './vocab.ts';

export class TokenizerBundleError extends Error {
  override name = 'TokenizerBundleError';
}

export interface TokenizerBundleJSON {
  type: 'prts-tokenizers';
  version: 1;
  embodiment: EmbodimentDescriptor;
  instruction: InstructionJSON;
  proprio: ProprioJSON;
  fast: FastJSON;
  /** Redundant with the three tokenizers; stored so a loader can check the id space did not move. */
  vocab: VocabJSON;
}

export interface BundleFitData {
  instructions: readonly string[];
  /** Action chunks, H * K values each. */
  chunks: readonly ArrayLike<number>[];
  actionStats?: QuantileStats;
  stateStats: QuantileStats;
  embodiment: EmbodimentDescriptor;
}

export interface BundleFitOptions {
  instruction?: Omit<InstructionFitOptions, 'embodiments'>;
  fast: Omit<FastFitOptions, 'stats'>;
  proprioBins?: number;
}

/** One sample to lay out; images enter as patch counts (their pixels go to the vision stem). */
export interface SampleInput {
  imagePatches: readonly number[];
  state: ArrayLike<number>;
  instruction: string;
  /** H * K actions (step-major). */
  actions: ArrayLike<number>;
}

export class TokenizerBundle {
  readonly vocab: Vocab;

  constructor(
    readonly embodiment: EmbodimentDescriptor,
    readonly instruction: InstructionTokenizer,
    readonly proprio: ProprioTokenizer,
    readonly fast: FastTokenizer,
  ) {
    this.vocab = new Vocab({ textSize: instruction.vocabSize, proprioSize: proprio.bins, fastSize: fast.vocabSize });
  }

  static fit(data: BundleFitData, options: BundleFitOptions): TokenizerBundle {
    const instruction = InstructionTokenizer.fit(data.instructions, { ...options.instruction, embodiments: [data.embodiment] });
    const proprio = new ProprioTokenizer(data.stateStats, options.proprioBins ?? 256);
    const fast = FastTokenizer.fit(data.chunks, data.actionStats ? { ...options.fast, stats: data.actionStats } : options.fast);
    return new TokenizerBundle(data.embodiment, instruction, proprio, fast);
  }

  /** Tokenizes a sample and lays it out as one training document. */
  layout(sample: SampleInput, options?: LayoutOptions): DocumentLayout {
    const { prompt, instruction } = this.instruction.encodeWithPrompt(sample.instruction, this.embodiment);
    return layoutDocument(
      this.vocab,
      { imagePatches: sample.imagePatches, proprio: this.proprio.encode(sample.state), prompt, instruction, fast: this.fast.encode(sample.actions) },
      options,
    );
  }

  /**
   * A document around FAST tokens the model produced itself (local ids, e.g. a decoded
   * candidate chunk): the same layout as layout() with those tokens as the action span,
   * so the CRL blocks score exactly what will be executed (value-guided selection).
   */
  layoutTokens(sample: Omit<SampleInput, 'actions'>, fast: ArrayLike<number>, options?: LayoutOptions): DocumentLayout {
    const { prompt, instruction } = this.instruction.encodeWithPrompt(sample.instruction, this.embodiment);
    return layoutDocument(this.vocab, { imagePatches: sample.imagePatches, proprio: this.proprio.encode(sample.state), prompt, instruction, fast }, options);
  }

  /** The inference prompt: everything before the first FAST token (ends with <|action_start|>). */
  prefix(sample: Omit<SampleInput, 'actions'>): DocumentPrefix {
    const { prompt, instruction } = this.instruction.encodeWithPrompt(sample.instruction, this.embodiment);
    return layoutPrefix(this.vocab, { imagePatches: sample.imagePatches, proprio: this.proprio.encode(sample.state), prompt, instruction });
  }

  toJSON(): TokenizerBundleJSON {
    return {
      type: 'prts-tokenizers',
      version: 1,
      embodiment: { ...this.embodiment },
      instruction: this.instruction.toJSON(),
      proprio: this.proprio.toJSON(),
      fast: this.fast.toJSON(),
      vocab: this.vocab.toJSON(),
    };
  }

  static fromJSON(json: unknown): TokenizerBundle {
    const j = json as Partial<TokenizerBundleJSON> | null;
    if (!j || typeof j !== 'object') throw new TokenizerBundleError('TokenizerBundle.fromJSON: expected an object');
    if (j.type !== 'prts-tokenizers') throw new TokenizerBundleError(`TokenizerBundle.fromJSON: field "type" must be "prts-tokenizers", got ${JSON.stringify(j.type)}`);
    if (j.version !== 1) throw new TokenizerBundleError(`TokenizerBundle.fromJSON: unsupported "version" ${JSON.stringify(j.version)} (expected 1)`);
    if (!j.embodiment || typeof j.embodiment !== 'object') throw new TokenizerBundleError('TokenizerBundle.fromJSON: field "embodiment" must be an object');
    const b = new TokenizerBundle(j.embodiment, InstructionTokenizer.fromJSON(j.instruction), ProprioTokenizer.fromJSON(j.proprio), FastTokenizer.fromJSON(j.fast));
    const saved = Vocab.fromJSON(j.vocab);
    for (const f of ['textSize', 'proprioSize', 'fastSize'] as const) {
      if (saved[f] !== b.vocab[f]) {
        throw new TokenizerBundleError(`TokenizerBundle.fromJSON: vocab.${f} is ${saved[f]} but the tokenizers give ${b.vocab[f]}; the file is inconsistent`);
      }
    }
    return b;
  }
}
