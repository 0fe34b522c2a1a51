/**
 * Instruction text tokenizer and the embodiment-aware prompt (Qwen-VLA Sec. 2.3).
 *
 * Text is lower-cased and split into runs of letters, single digits and single
 * punctuation marks ("Put the bowl on the plate, 2x." -> put the bowl on the plate , 2 x .).
 * Digits are split one by one and always in the vocabulary, so any control rate or chunk
 * size in an embodiment prompt encodes without <|unk|>.
 *
 * Two modes, both fitted on the dataset's instruction strings (plus the prompts):
 * - 'word': one id per distinct piece, most frequent first; unseen words become <|unk|>.
 *   LIBERO-style instruction sets have a few hundred words, so this is the default.
 * - 'bpe': character-level BPE (./bpe.ts) inside each piece, with an end-of-word symbol,
 *   so paraphrases with unseen words still encode into known sub-words; only characters
 *   never seen in fitting become <|unk|>.
 *
 * Local id 0 is <|unk|>; the unified vocabulary (./vocab.ts) places these ids in its
 * text range and owns the structural special tokens (<|pad|>, <|bos|>, ...).
 */
import { Bpe, type BpeJSON } from './bpe.ts';

export class InstructionError extends Error {
  override name = 'InstructionError';
}

export const UNK_TOKEN = '<|unk|>';
export const UNK_ID = 0;

/** What the embodiment prompt says about the robot (Qwen-VLA's template fields). */
export interface EmbodimentDescriptor {
  /** Robot tag, e.g. "panda". */
  robot: string;
  /** Number of arms (1 = single arm). */
  arms: number;
  /** Control convention, e.g. "ee-delta" or "joint-abs". */
  control: string;
  /** Control frequency in Hz. */
  rateHz: number;
  /** Action chunk length H the policy predicts. */
  chunk: number;
  /** Action channels actually used (c <= K). */
  actionDims: number;
  /** Optional modifiers, e.g. ["waist", "mobile base"]. */
  modifiers?: string[];
}

/** 'none': no prompt, for single-embodiment data where it says the same thing in every sample and only costs tokens. */
export type PromptStyle = 'compact' | 'qwen' | 'none';

function checkEmbodiment(e: EmbodimentDescriptor): void {
  if (typeof e.robot !== 'string' || e.robot.trim() === '') throw new InstructionError('embodiment.robot must be a non-empty string');
  if (typeof e.control !== 'string' || e.control.trim() === '') throw new InstructionError('embodiment.control must be a non-empty string');
  for (const f of ['arms', 'chunk', 'actionDims'] as const) {
    if (!Number.isInteger(e[f]) || e[f] < 1) throw new InstructionError(`embodiment.${f} must be a positive integer, got ${e[f]}`);
  }
  if (!(Number.isFinite(e.rateHz) && e.rateHz > 0)) throw new InstructionError(`embodiment.rateHz must be a positive number, got ${e.rateHz}`);
}

/**
 * The embodiment prompt prepended to the instruction. 'compact' (default) keeps it short
 * for a small model: "robot: panda; arms: 1; control: ee-delta 20 hz; chunk: 8; action
 * dims: 7; task:". 'qwen' is Qwen-VLA's template sentence. 'none' is empty.
 */
export function embodimentPrompt(e: EmbodimentDescriptor, style: PromptStyle = 'compact'): string {
  checkEmbodiment(e);
  if (style === 'none') return '';
  const mods = e.modifiers ?? [];
  if (style === 'qwen') {
    const arms = e.arms === 1 ? 'single arm' : e.arms === 2 ? 'dual arms' : `${e.arms} arms`;
    const extra = mods.length === 0 ? '' : mods.length === 1 ? `, and ${mods[0]}` : `, ${mods.slice(0, -1).join(', ')}, and ${mods[mods.length - 1]}`;
    return (
      `The robot is ${e.robot} with ${arms}${extra}. The control frequency is ${e.rateHz} Hz. ` +
      `Please predict the next ${e.chunk} control actions to execute the following task:`
    );
  }
  const modPart = mods.length > 0 ? `; with: ${mods.join(', ')}` : '';
  return `robot: ${e.robot}; arms: ${e.arms}${modPart}; control: ${e.control} ${e.rateHz} hz; chunk: ${e.chunk}; action dims: ${e.actionDims}; task:`;
}

/** Lower-cased pieces: letter runs, single digits, single punctuation marks. */
export function splitWords(text: string): string[] {
  return text.toLowerCase().normalize('NFKC').match(/\p{L}+|\p{N}|[^\s\p{L}\p{N}]/gu) ?? [];
}

export interface InstructionFitOptions {
  mode?: 'word' | 'bpe';
  /** Word mode: a word must occur this often to get an id (default 1). */
  minFrequency?: number;
  /** Word mode: cap on distinct words (most frequent kept); default unlimited. */
  maxWords?: number;
  /** BPE mode: BPE vocabulary size over characters + merges (default 512). */
  bpeVocabSize?: number;
  /** Embodiments whose prompts the vocabulary must cover. */
  embodiments?: EmbodimentDescriptor[];
  promptStyle?: PromptStyle;
}

export interface InstructionJSON {
  type: 'instruction';
  version: 1;
  mode: 'word' | 'bpe';
  promptStyle: PromptStyle;
  /** Word mode: the word of each id (id 0 = <|unk|>). BPE mode: the character alphabet (symbol 0 = end of word). */
  pieces: string[];
  bpe?: BpeJSON;
}

const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
const END_OF_WORD = '</w>';

export class InstructionTokenizer {
  readonly mode: 'word' | 'bpe';
  readonly promptStyle: PromptStyle;
  /** Word mode: id -> word. BPE mode: base symbol -> character (symbol 0 = end of word). */
  private readonly pieces: string[];
  private readonly index = new Map<string, number>();
  private readonly bpe: Bpe | null;

  private constructor(mode: 'word' | 'bpe', promptStyle: PromptStyle, pieces: string[], bpe: Bpe | null) {
    this.mode = mode;
    this.promptStyle = promptStyle;
    this.pieces = pieces;
    this.bpe = bpe;
    pieces.forEach((p, i) => {
      if (this.index.has(p)) throw new InstructionError(`duplicate piece ${JSON.stringify(p)} at ${i} (first at ${this.index.get(p)})`);
      this.index.set(p, i);
    });
    if (mode === 'word' && pieces[0] !== UNK_TOKEN) throw new InstructionError(`word mode: piece 0 must be ${UNK_TOKEN}`);
    if (mode === 'bpe') {
      if (!bpe) throw new InstructionError('bpe mode needs a BPE model');
      if (pieces[0] !== END_OF_WORD) throw new InstructionError(`bpe mode: symbol 0 must be ${END_OF_WORD}`);
      if (bpe.baseSize !== pieces.length) throw new InstructionError(`bpe mode: BPE base size ${bpe.baseSize} != alphabet size ${pieces.length}`);
    }
  }

  static fit(instructions: readonly string[], options: InstructionFitOptions = {}): InstructionTokenizer {
    const mode = options.mode ?? 'word';
    const style = options.promptStyle ?? 'compact';
    if (mode !== 'word' && mode !== 'bpe') throw new InstructionError(`fit: mode must be "word" or "bpe", got ${JSON.stringify(mode)}`);
    instructions.forEach((s, i) => {
      if (typeof s !== 'string') throw new InstructionError(`fit: instruction ${i} is not a string`);
    });
    const texts = [...instructions, ...(options.embodiments ?? []).map((e) => embodimentPrompt(e, style))];
    const words = texts.flatMap(splitWords);
    if (mode === 'word') {
      const minFrequency = options.minFrequency ?? 1;
      const counts = new Map<string, number>();
      for (const w of words) counts.set(w, (counts.get(w) ?? 0) + 1);
      // Most frequent first, ties alphabetical: the vocabulary is a pure function of the data.
      let kept = [...counts.entries()].filter(([, c]) => c >= minFrequency).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([w]) => w);
      if (options.maxWords !== undefined) kept = kept.slice(0, options.maxWords);
      for (const d of DIGITS) if (!kept.includes(d)) kept.push(d);
      return new InstructionTokenizer('word', style, [UNK_TOKEN, ...kept], null);
    }
    const chars = new Set<string>(DIGITS);
    for (const w of words) for (const ch of w) chars.add(ch);
    const alphabet = [END_OF_WORD, ...[...chars].sort()];
    const charIndex = new Map(alphabet.map((c, i) => [c, i]));
    const seqs = words.map((w) => [...[...w].map((ch) => charIndex.get(ch)!), 0]);
    const vocabSize = Math.max(options.bpeVocabSize ?? 512, alphabet.length);
    const bpe = Bpe.train(seqs, alphabet.length, { vocabSize, minFrequency: 2 });
    return new InstructionTokenizer('bpe', style, alphabet, bpe);
  }

  /** Local text ids span [0, vocabSize); 0 is <|unk|>. */
  get vocabSize(): number {
    return this.mode === 'word' ? this.pieces.length : 1 + this.bpe!.vocabSize;
  }

  encode(text: string): Int32Array {
    if (typeof text !== 'string') throw new InstructionError(`encode: expected a string, got ${typeof text}`);
    const out: number[] = [];
    for (const w of splitWords(text)) {
      if (this.mode === 'word') {
        out.push(this.index.get(w) ?? UNK_ID);
        continue;
      }
      // Known characters are BPE-encoded in runs; an unknown character becomes <|unk|>.
      let run: number[] = [];
      const flush = (end: boolean) => {
        if (end) run.push(0);
        if (run.length > 0) for (const id of this.bpe!.encode(run)) out.push(id + 1);
        run = [];
      };
      for (const ch of w) {
        const s = this.index.get(ch);
        if (s === undefined || s === 0) {
          flush(false);
          out.push(UNK_ID);
        } else run.push(s);
      }
      flush(true);
    }
    return Int32Array.from(out);
  }

  /** Text of ids (pieces joined by spaces); ids outside the vocabulary read as <|unk|>. */
  decode(ids: ArrayLike<number>): string {
    if (this.mode === 'word') {
      return Array.from(ids, (id) => (Number.isInteger(id) && id >= 0 && id < this.pieces.length ? this.pieces[id] : UNK_TOKEN)).join(' ');
    }
    let s = '';
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!(Number.isInteger(id) && id >= 1 && id < this.vocabSize)) {
        s += UNK_TOKEN;
        continue;
      }
      for (const sym of this.bpe!.expand(id - 1)) s += sym === 0 ? ' ' : this.pieces[sym];
    }
    return s.trim();
  }

  /** The embodiment prompt and the task instruction as separate id runs (the CRL goal copies only the task). */
  encodeWithPrompt(instruction: string, embodiment: EmbodimentDescriptor): { prompt: Int32Array; instruction: Int32Array } {
    return { prompt: this.encode(embodimentPrompt(embodiment, this.promptStyle)), instruction: this.encode(instruction) };
  }

  toJSON(): InstructionJSON {
    const j: InstructionJSON = { type: 'instruction', version: 1, mode: this.mode, promptStyle: this.promptStyle, pieces: [...this.pieces] };
    if (this.bpe) j.bpe = this.bpe.toJSON();
    return j;
  }

  static fromJSON(json: unknown): InstructionTokenizer {
    const j = json as Partial<InstructionJSON> | null;
    if (!j || typeof j !== 'object') throw new InstructionError('InstructionTokenizer.fromJSON: expected an object');
    if (j.type !== 'instruction') throw new InstructionError(`InstructionTokenizer.fromJSON: field "type" must be "instruction", got ${JSON.stringify(j.type)}`);
    if (j.version !== 1) throw new InstructionError(`InstructionTokenizer.fromJSON: unsupported "version" ${JSON.stringify(j.version)} (expected 1)`);
    if (j.mode !== 'word' && j.mode !== 'bpe') throw new InstructionError(`InstructionTokenizer.fromJSON: field "mode" must be "word" or "bpe", got ${JSON.stringify(j.mode)}`);
    if (j.promptStyle !== 'compact' && j.promptStyle !== 'qwen' && j.promptStyle !== 'none') {
      throw new InstructionError(`InstructionTokenizer.fromJSON: field "promptStyle" must be "compact", "qwen" or "none", got ${JSON.stringify(j.promptStyle)}`);
    }
    if (!Array.isArray(j.pieces) || j.pieces.some((p) => typeof p !== 'string')) {
      throw new InstructionError('InstructionTokenizer.fromJSON: field "pieces" must be an array of strings');
    }
    return new InstructionTokenizer(j.mode, j.promptStyle, j.pieces, j.mode === 'bpe' ? Bpe.fromJSON(j.bpe) : null);
  }
}
