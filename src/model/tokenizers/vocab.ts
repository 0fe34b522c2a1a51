/**
 * The unified id space of the PRTS backbone and the layout of one training document
 * (DESIGN.md 3, PRTS Sec. 3.3).
 *
 *   [0, 8)                          special tokens (SPECIAL_TOKENS order)
 *   [textOffset, +textSize)         instruction tokenizer ids (local 0 = <|unk|>)
 *   [proprioOffset, +proprioSize)   proprio bins
 *   [fastOffset, +fastSize)         FAST action tokens
 *
 * Document layout (one sample):
 *
 *   VISION_STATE  [<|bos|>] <|image|> x patches, per camera ... proprio tokens
 *   INSTRUCTION   embodiment prompt + task instruction
 *   AR_ACTION     <|action_start|> FAST ... <|action_end_ar|>
 *   CRL_ACTION    FAST copy ... <|action_end|>          (positions of the AR span)
 *   CRL_GOAL      task-instruction copy ... <|goal_end|> (positions restart at 0)
 *
 * The CRL blocks sit at the tail, so the BC-only layout (crl: false) is exactly a prefix
 * of the full one and the AR tokens see identical inputs with and without them.
 */
import { Role } from '../../engine/roles.ts';

export { Role };

export class VocabError extends Error {
  override name = 'VocabError';
}

export const SPECIAL_TOKENS = [
  '<|pad|>',
  '<|bos|>',
  '<|action_start|>',
  '<|action_end_ar|>',
  '<|action_end|>',
  '<|goal_end|>',
  '<|image|>',
  '<|eos|>',
] as const;
export type SpecialToken = (typeof SPECIAL_TOKENS)[number];

/** Fixed ids of the special tokens (their index in SPECIAL_TOKENS). */
export const SPECIAL = {
  pad: 0,
  bos: 1,
  actionStart: 2,
  actionEndAr: 3,
  actionEnd: 4,
  goalEnd: 5,
  image: 6,
  eos: 7,
} as const;

/** Label value meaning "no loss at this position". */
export const IGNORE_TARGET = -1;

export interface VocabJSON {
  type: 'vocab';
  version: 1;
  specials: string[];
  textSize: number;
  proprioSize: number;
  fastSize: number;
}

export type TokenKind = 'special' | 'text' | 'proprio' | 'fast';

export class Vocab {
  readonly textSize: number;
  readonly proprioSize: number;
  readonly fastSize: number;
  readonly textOffset: number;
  readonly proprioOffset: number;
  readonly fastOffset: number;
  readonly size: number;

  constructor(sizes: { textSize: number; proprioSize: number; fastSize: number }) {
    for (const f of ['textSize', 'proprioSize', 'fastSize'] as const) {
      const v = sizes[f];
      if (!Number.isInteger(v) || v < 1) throw new VocabError(`${f} must be a positive integer, got ${v}`);
    }
    this.textSize = sizes.textSize;
    this.proprioSize = sizes.proprioSize;
    this.fastSize = sizes.fastSize;
    this.textOffset = SPECIAL_TOKENS.length;
    this.proprioOffset = this.textOffset + this.textSize;
    this.fastOffset = this.proprioOffset + this.proprioSize;
    this.size = this.fastOffset + this.fastSize;
  }

  private static shift(local: ArrayLike<number>, offset: number, size: number, kind: string): Int32Array {
    const out = new Int32Array(local.length);
    for (let i = 0; i < local.length; i++) {
      const v = local[i];
      if (!Number.isInteger(v) || v < 0 || v >= size) throw new VocabError(`${kind} id ${v} at index ${i} is outside [0, ${size})`);
      out[i] = v + offset;
    }
    return out;
  }

  /** Global ids of local instruction-tokenizer ids. */
  text(local: ArrayLike<number>): Int32Array {
    return Vocab.shift(local, this.textOffset, this.textSize, 'text');
  }

  proprio(local: ArrayLike<number>): Int32Array {
    return Vocab.shift(local, this.proprioOffset, this.proprioSize, 'proprio');
  }

  fast(local: ArrayLike<number>): Int32Array {
    return Vocab.shift(local, this.fastOffset, this.fastSize, 'FAST');
  }

  /** Which range a global id falls in and its local id; null when outside the vocabulary. */
  classify(id: number): { kind: TokenKind; local: number } | null {
    if (!Number.isInteger(id) || id < 0 || id >= this.size) return null;
    if (id < this.textOffset) return { kind: 'special', local: id };
    if (id < this.proprioOffset) return { kind: 'text', local: id - this.textOffset };
    if (id < this.fastOffset) return { kind: 'proprio', local: id - this.proprioOffset };
    return { kind: 'fast', local: id - this.fastOffset };
  }

  /**
   * Local FAST ids of a generated AR span: every id up to the first <|action_end_ar|>
   * (or the end). Non-FAST ids map to -1, which FastTokenizer.decode skips and reports
   * as malformed, so model output never throws.
   */
  fastLocalOf(generated: ArrayLike<number>): Int32Array {
    const out: number[] = [];
    for (let i = 0; i < generated.length; i++) {
      const id = generated[i];
      if (id === SPECIAL.actionEndAr) break;
      if (i === 0 && id === SPECIAL.actionStart) continue;
      const c = this.classify(id);
      out.push(c && c.kind === 'fast' ? c.local : -1);
    }
    return Int32Array.from(out);
  }

  /** Human-readable name of a global id (debugging, the UI's token inspector). */
  describe(id: number): string {
    const c = this.classify(id);
    if (!c) return `<invalid ${id}>`;
    return c.kind === 'special' ? SPECIAL_TOKENS[c.local] : `${c.kind}:${c.local}`;
  }

  toJSON(): VocabJSON {
    return { type: 'vocab', version: 1, specials: [...SPECIAL_TOKENS], textSize: this.textSize, proprioSize: this.proprioSize, fastSize: this.fastSize };
  }

  static fromJSON(json: unknown): Vocab {
    const j = json as Partial<VocabJSON> | null;
    if (!j || typeof j !== 'object') throw new VocabError('Vocab.fromJSON: expected an object');
    if (j.type !== 'vocab') throw new VocabError(`Vocab.fromJSON: field "type" must be "vocab", got ${JSON.stringify(j.type)}`);
    if (j.version !== 1) throw new VocabError(`Vocab.fromJSON: unsupported "version" ${JSON.stringify(j.version)} (expected 1)`);
    // Ids of a saved checkpoint are only meaningful with the same special-token order.
    if (!Array.isArray(j.specials) || j.specials.length !== SPECIAL_TOKENS.length || j.specials.some((s, i) => s !== SPECIAL_TOKENS[i])) {
      throw new VocabError(`Vocab.fromJSON: field "specials" must be ${JSON.stringify(SPECIAL_TOKENS)}, got ${JSON.stringify(j.specials)}`);
    }
    for (const f of ['textSize', 'proprioSize', 'fastSize'] as const) {
      if (typeof j[f] !== 'number') throw new VocabError(`Vocab.fromJSON: field "${f}" must be a number`);
    }
    return new Vocab({ textSize: j.textSize!, proprioSize: j.proprioSize!, fastSize: j.fastSize! });
  }
}

/** The pieces of one sample, in local ids of their tokenizers. */
export interface DocumentParts {
  /** Image patches per camera; each becomes that many <|image|> placeholders. */
  imagePatches: readonly number[];
  /** Proprio tokenizer ids (one per state dimension). */
  proprio: ArrayLike<number>;
  /** Embodiment prompt ids (instruction tokenizer). */
  prompt: ArrayLike<number>;
  /** Task instruction ids (instruction tokenizer). */
  instruction: ArrayLike<number>;
  /** FAST ids of the action chunk. */
  fast: ArrayLike<number>;
}

export interface LayoutOptions {
  /** Append the CRL_action and CRL_goal blocks (default true; false = BC-only baseline). */
  crl?: boolean;
  /** Start the document with <|bos|> (default true; it belongs to VISION_STATE). */
  bos?: boolean;
  /** Also copy the embodiment prompt into the CRL_goal block (default false: psi sees the task only, so goals dedupe by task). */
  goalIncludesPrompt?: boolean;
}

/** Half-open index range [start, end) into the document. */
export interface Span {
  start: number;
  end: number;
}

export interface DocumentLayout {
  ids: Int32Array;
  roles: Uint8Array;
  positions: Int32Array;
  /** targets[i] is the next-token label for the logits at i, IGNORE_TARGET elsewhere. */
  targets: Int32Array;
  /** Indices i with targets[i] != IGNORE_TARGET (<|action_start|> .. last FAST token). */
  targetIndices: Int32Array;
  /** Where phi is read (<|action_end|>); -1 without CRL blocks. */
  actionEndIndex: number;
  /** Where psi is read (<|goal_end|>); -1 without CRL blocks. */
  goalEndIndex: number;
  spans: {
    image: Span[];
    proprio: Span;
    prompt: Span;
    instruction: Span;
    /** <|action_start|> .. <|action_end_ar|> inclusive. */
    arAction: Span;
    crlAction: Span | null;
    crlGoal: Span | null;
  };
}

/** Lays out one document's ids, roles and positions (DESIGN.md 3). */
export function layoutDocument(vocab: Vocab, parts: DocumentParts, options: LayoutOptions = {}): DocumentLayout {
  const crl = options.crl ?? true;
  const bos = options.bos ?? true;
  parts.imagePatches.forEach((n, c) => {
    if (!Number.isInteger(n) || n < 0) throw new VocabError(`layoutDocument: imagePatches[${c}] must be a non-negative integer, got ${n}`);
  });
  if (parts.fast.length === 0) throw new VocabError('layoutDocument: fast must hold at least one FAST token');
  if (crl && parts.instruction.length === 0) throw new VocabError('layoutDocument: instruction must not be empty when the CRL_goal block is built');
  const proprio = vocab.proprio(parts.proprio);
  const prompt = vocab.text(parts.prompt);
  const instruction = vocab.text(parts.instruction);
  const fast = vocab.fast(parts.fast);

  const ids: number[] = [];
  const roles: number[] = [];
  const positions: number[] = [];
  const push = (id: number, role: number, pos: number = ids.length) => {
    ids.push(id);
    roles.push(role);
    positions.push(pos);
  };
  const pushRun = (run: ArrayLike<number>, role: number): Span => {
    const start = ids.length;
    for (let i = 0; i < run.length; i++) push(run[i], role);
    return { start, end: ids.length };
  };

  if (bos) push(SPECIAL.bos, Role.VISION_STATE);
  const image: Span[] = parts.imagePatches.map((n) => {
    const start = ids.length;
    for (let i = 0; i < n; i++) push(SPECIAL.image, Role.VISION_STATE);
    return { start, end: ids.length };
  });
  const proprioSpan = pushRun(proprio, Role.VISION_STATE);
  const promptSpan = pushRun(prompt, Role.INSTRUCTION);
  const instructionSpan = pushRun(instruction, Role.INSTRUCTION);
  const arStart = ids.length;
  push(SPECIAL.actionStart, Role.AR_ACTION);
  pushRun(fast, Role.AR_ACTION);
  push(SPECIAL.actionEndAr, Role.AR_ACTION);
  const arAction: Span = { start: arStart, end: ids.length };

  let crlAction: Span | null = null;
  let crlGoal: Span | null = null;
  let actionEndIndex = -1;
  let goalEndIndex = -1;
  if (crl) {
    // Each copied FAST token takes the position of its AR original and <|action_end|>
    // that of <|action_end_ar|>, as in the PRTS code.
    const start = ids.length;
    for (let i = 0; i < fast.length; i++) push(fast[i], Role.CRL_ACTION, positions[arStart + 1 + i]);
    actionEndIndex = ids.length;
    push(SPECIAL.actionEnd, Role.CRL_ACTION, positions[arAction.end - 1]);
    crlAction = { start, end: ids.length };
    // Positions restart at 0 so psi is the same function of the instruction in every
    // document, whatever precedes it.
    const goal = options.goalIncludesPrompt ? [...prompt, ...instruction] : Array.from(instruction);
    const gStart = ids.length;
    goal.forEach((id, i) => push(id, Role.CRL_GOAL, i));
    goalEndIndex = ids.length;
    push(SPECIAL.goalEnd, Role.CRL_GOAL, goal.length);
    crlGoal = { start: gStart, end: ids.length };
  }

  const n = ids.length;
  const targets = new Int32Array(n).fill(IGNORE_TARGET);
  const targetIndices: number[] = [];
  // Logits at <|action_start|> .. the last FAST token predict FAST .. <|action_end_ar|>.
  for (let i = arAction.start; i < arAction.end - 1; i++) {
    targets[i] = ids[i + 1];
    targetIndices.push(i);
  }
  return {
    ids: Int32Array.from(ids),
    roles: Uint8Array.from(roles),
    positions: Int32Array.from(positions),
    targets,
    targetIndices: Int32Array.from(targetIndices),
    actionEndIndex,
    goalEndIndex,
    spans: { image, proprio: proprioSpan, prompt: promptSpan, instruction: instructionSpan, arAction, crlAction, crlGoal },
  };
}

export interface DocumentPrefix {
  ids: Int32Array;
  roles: Uint8Array;
  positions: Int32Array;
}

/**
 * The inference prompt of a document: the full layout up to and including
 * <|action_start|>, identical to that prefix of layoutDocument (so of training), from
 * which the policy decodes FAST tokens until <|action_end_ar|>.
 */
export function layoutPrefix(vocab: Vocab, parts: Omit<DocumentParts, 'fast'>, options: Pick<LayoutOptions, 'bos'> = {}): DocumentPrefix {
  // Lay out with a placeholder FAST token and cut before it: one code path, so the
  // prefix cannot drift from what training saw.
  const full = layoutDocument(vocab, { ...parts, fast: [0] }, { bos: options.bos, crl: false });
  const n = full.spans.arAction.start + 1;
  return { ids: full.ids.slice(0, n), roles: full.roles.slice(0, n), positions: full.positions.slice(0, n) };
}
