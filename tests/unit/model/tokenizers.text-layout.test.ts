import { describe, expect, it } from 'vitest';
import {
  IGNORE_TARGET,
  InstructionTokenizer,
  ProprioTokenizer,
  Role,
  SPECIAL,
  SPECIAL_TOKENS,
  TokenizerBundle,
  UNK_ID,
  Vocab,
  embodimentPrompt,
  layoutDocument,
  layoutPrefix,
  splitWords,
  type EmbodimentDescriptor,
} from '../../../src/model/tokenizers/index.ts';
import { Rng } from '../../../src/engine/random.ts';
import { chunksOf, syntheticEpisodes } from './tokenizers.synthetic.ts';

const panda: EmbodimentDescriptor = { robot: 'panda', arms: 1, control: 'ee-delta', rateHz: 20, chunk: 8, actionDims: 7 };
const instructions = [
  'Put the bowl on the plate.',
  'put the black bowl in the top drawer of the cabinet',
  'Open the top drawer, then put the bowl inside',
  'pick up the ketchup and place it in the basket',
];

describe('proprio as text', () => {
  const stats = { q01: [-1, 0, 2, 5], q99: [1, 0.5, 4, 5] };
  const tok = new ProprioTokenizer(stats, 256);

  it('round-trips within half a bin and emits one token per dimension', () => {
    const rng = new Rng(3);
    const half = tok.halfBinWidth();
    for (let n = 0; n < 500; n++) {
      const s = stats.q01.map((lo, d) => lo + rng.next() * (stats.q99[d] - lo));
      const ids = tok.encode(s);
      expect(ids).toHaveLength(4);
      expect(ids.every((b) => b >= 0 && b < 256)).toBe(true);
      const back = tok.decode(ids);
      expect(back.valid).toBe(true);
      for (let d = 0; d < 4; d++) expect(Math.abs(back.state[d] - s[d])).toBeLessThanOrEqual(half[d] + 1e-6);
    }
  });

  it('clips outside [q01, q99], maps a constant dimension to its value, and survives JSON', () => {
    expect(Array.from(tok.encode([-5, 9, 2, 5]))).toEqual([0, 255, 0, 128]);
    expect(tok.decode(tok.encode([0, 0.25, 3, 5])).state[3]).toBe(5);
    const back = ProprioTokenizer.fromJSON(JSON.parse(JSON.stringify(tok)));
    expect(Array.from(back.encode([0.3, 0.1, 3.3, 5]))).toEqual(Array.from(tok.encode([0.3, 0.1, 3.3, 5])));
  });

  it('decodes malformed ids without throwing, and rejects bad states clearly', () => {
    for (const ids of [[], [1, 2], [1, 2, 3, 4, 5], [-3, 300, NaN, 2.5]]) {
      const r = tok.decode(ids);
      expect(r.valid).toBe(false);
      expect(r.state.every((v) => Number.isFinite(v))).toBe(true);
    }
    expect(() => tok.encode([0, 0, 0])).toThrow(/state has 3 values, expected 4/);
    expect(() => tok.encode([0, NaN, 0, 0])).toThrow(/state dimension 1 is NaN/);
    expect(() => new ProprioTokenizer({ q01: [1], q99: [0] })).toThrow(/dimension 0 must be finite with q01 <= q99/);
  });
});

describe('instruction tokenizer and embodiment prompt', () => {
  it('splits lower-cased words, single digits and punctuation', () => {
    expect(splitWords('Put the Bowl, 20Hz ee-delta!')).toEqual(['put', 'the', 'bowl', ',', '2', '0', 'hz', 'ee', '-', 'delta', '!']);
  });

  it('writes the embodiment prompt in the compact and the Qwen-VLA style', () => {
    expect(embodimentPrompt(panda)).toBe('robot: panda; arms: 1; control: ee-delta 20 hz; chunk: 8; action dims: 7; task:');
    expect(embodimentPrompt({ ...panda, robot: 'aloha', arms: 2, modifiers: ['waist', 'mobile base'] }, 'qwen')).toBe(
      'The robot is aloha with dual arms, waist, and mobile base. The control frequency is 20 Hz. ' +
        'Please predict the next 8 control actions to execute the following task:',
    );
    expect(() => embodimentPrompt({ ...panda, chunk: 0 })).toThrow(/embodiment.chunk must be a positive integer, got 0/);
  });

  it('word mode: frequency-ordered vocabulary, <|unk|> for unseen words, digits always known', () => {
    const tok = InstructionTokenizer.fit(instructions, { embodiments: [panda] });
    const ids = tok.encode('Put the bowl on the plate.');
    expect(tok.decode(ids)).toBe('put the bowl on the plate .');
    expect(ids.includes(UNK_ID)).toBe(false);
    expect(Array.from(tok.encode('put the zebra'))[2]).toBe(UNK_ID);
    const { prompt, instruction } = tok.encodeWithPrompt('Put the bowl on the plate.', { ...panda, rateHz: 15, chunk: 16 });
    expect(prompt.includes(UNK_ID)).toBe(false);
    expect(Array.from(instruction)).toEqual(Array.from(ids));
    const back = InstructionTokenizer.fromJSON(JSON.parse(JSON.stringify(tok)));
    expect(Array.from(back.encode(instructions[2]))).toEqual(Array.from(tok.encode(instructions[2])));
  });

  it('bpe mode: unseen words split into known pieces, text round-trips up to normalization', () => {
    const tok = InstructionTokenizer.fit(instructions, { mode: 'bpe', bpeVocabSize: 120, embodiments: [panda] });
    const text = 'place the plates inside the drawer';
    const ids = tok.encode(text);
    expect(ids.includes(UNK_ID)).toBe(false);
    expect(tok.decode(ids)).toBe(text);
    expect(ids.length).toBeLessThan(text.replace(/ /g, '').length);
    expect(Array.from(tok.encode('put the bowl §'))).toContain(UNK_ID);
    const back = InstructionTokenizer.fromJSON(JSON.parse(JSON.stringify(tok)));
    expect(Array.from(back.encode(text))).toEqual(Array.from(ids));
  });
});

describe('unified vocabulary and document layout', () => {
  const vocab = new Vocab({ textSize: 50, proprioSize: 256, fastSize: 300 });
  const parts = {
    imagePatches: [4, 3],
    proprio: [10, 20],
    prompt: [7, 8, 9],
    instruction: [11, 12],
    fast: [100, 101, 102],
  };

  it('places specials first and the three ranges after, and survives JSON', () => {
    expect(SPECIAL_TOKENS.indexOf('<|action_end|>')).toBe(SPECIAL.actionEnd);
    expect(vocab.textOffset).toBe(8);
    expect(vocab.proprioOffset).toBe(58);
    expect(vocab.fastOffset).toBe(314);
    expect(vocab.size).toBe(614);
    expect(vocab.classify(315)).toEqual({ kind: 'fast', local: 1 });
    expect(vocab.classify(614)).toBeNull();
    expect(vocab.describe(SPECIAL.goalEnd)).toBe('<|goal_end|>');
    expect(() => vocab.fast([300])).toThrow(/FAST id 300 at index 0 is outside \[0, 300\)/);
    const back = Vocab.fromJSON(JSON.parse(JSON.stringify(vocab)));
    expect(back.size).toBe(vocab.size);
    expect(() => Vocab.fromJSON({ ...vocab.toJSON(), specials: ['<|pad|>'] })).toThrow(/field "specials" must be/);
  });

  it('lays out ids, roles and positions exactly as DESIGN.md 3 says', () => {
    const L = layoutDocument(vocab, parts);
    const V = Role.VISION_STATE, I = Role.INSTRUCTION, A = Role.AR_ACTION, CA = Role.CRL_ACTION, CG = Role.CRL_GOAL;
    const img = SPECIAL.image;
    const t = (x: number) => x + vocab.textOffset;
    const p = (x: number) => x + vocab.proprioOffset;
    const f = (x: number) => x + vocab.fastOffset;
    expect(Array.from(L.ids)).toEqual([
      SPECIAL.bos, img, img, img, img, img, img, img, p(10), p(20),
      t(7), t(8), t(9), t(11), t(12),
      SPECIAL.actionStart, f(100), f(101), f(102), SPECIAL.actionEndAr,
      f(100), f(101), f(102), SPECIAL.actionEnd,
      t(11), t(12), SPECIAL.goalEnd,
    ]);
    expect(Array.from(L.roles)).toEqual([V, V, V, V, V, V, V, V, V, V, I, I, I, I, I, A, A, A, A, A, CA, CA, CA, CA, CG, CG, CG]);
    expect(Array.from(L.positions)).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
      16, 17, 18, 19, // CRL_action copy: the positions of the FAST tokens and <|action_end_ar|>
      0, 1, 2, // CRL_goal restarts at 0
    ]);
    expect(L.actionEndIndex).toBe(23);
    expect(L.ids[L.actionEndIndex]).toBe(SPECIAL.actionEnd);
    expect(L.goalEndIndex).toBe(26);
    expect(L.ids[L.goalEndIndex]).toBe(SPECIAL.goalEnd);
    // Next-token targets: logits at <|action_start|> .. last FAST predict FAST .. <|action_end_ar|>.
    expect(Array.from(L.targetIndices)).toEqual([15, 16, 17, 18]);
    expect(Array.from(L.targets).filter((x) => x !== IGNORE_TARGET)).toEqual([f(100), f(101), f(102), SPECIAL.actionEndAr]);
    expect(L.spans.image).toEqual([{ start: 1, end: 5 }, { start: 5, end: 8 }]);
    expect(L.spans.arAction).toEqual({ start: 15, end: 20 });
  });

  it('keeps CRL_goal positions at 0.. and CRL_action positions equal to the AR span for any prefix length', () => {
    const rng = new Rng(5);
    for (let n = 0; n < 20; n++) {
      const q = {
        imagePatches: Array.from({ length: 1 + rng.int(3) }, () => rng.int(10)),
        proprio: Array.from({ length: rng.int(9) }, () => rng.int(256)),
        prompt: Array.from({ length: rng.int(12) }, () => rng.int(50)),
        instruction: Array.from({ length: 1 + rng.int(12) }, () => rng.int(50)),
        fast: Array.from({ length: 1 + rng.int(30) }, () => rng.int(300)),
      };
      const L = layoutDocument(vocab, q, { bos: rng.next() < 0.5 });
      const ar = L.spans.arAction;
      const ca = L.spans.crlAction!;
      const cg = L.spans.crlGoal!;
      expect(Array.from(L.positions.slice(ca.start, ca.end))).toEqual(Array.from(L.positions.slice(ar.start + 1, ar.end)));
      expect(Array.from(L.ids.slice(ca.start, ca.end - 1))).toEqual(Array.from(L.ids.slice(ar.start + 1, ar.end - 1)));
      expect(Array.from(L.positions.slice(cg.start, cg.end))).toEqual(Array.from({ length: q.instruction.length + 1 }, (_, i) => i));
      expect(Array.from(L.ids.slice(cg.start, cg.end - 1))).toEqual(Array.from(L.ids.slice(L.spans.instruction.start, L.spans.instruction.end)));
      // Everything before the CRL blocks is numbered 0..n-1.
      expect(Array.from(L.positions.slice(0, ar.end))).toEqual(Array.from({ length: ar.end }, (_, i) => i));
    }
  });

  it('BC-only layout is exactly the prefix of the full layout; the inference prompt is its prefix', () => {
    const full = layoutDocument(vocab, parts);
    const bc = layoutDocument(vocab, parts, { crl: false });
    const n = bc.ids.length;
    expect(n).toBe(full.spans.arAction.end);
    expect(Array.from(bc.ids)).toEqual(Array.from(full.ids.slice(0, n)));
    expect(Array.from(bc.roles)).toEqual(Array.from(full.roles.slice(0, n)));
    expect(Array.from(bc.positions)).toEqual(Array.from(full.positions.slice(0, n)));
    expect(Array.from(bc.targets)).toEqual(Array.from(full.targets.slice(0, n)));
    expect(full.targets.slice(n).every((x) => x === IGNORE_TARGET)).toBe(true);
    expect(bc.actionEndIndex).toBe(-1);
    expect(bc.goalEndIndex).toBe(-1);
    const pre = layoutPrefix(vocab, { imagePatches: parts.imagePatches, proprio: parts.proprio, prompt: parts.prompt, instruction: parts.instruction });
    expect(Array.from(pre.ids)).toEqual(Array.from(full.ids.slice(0, full.spans.arAction.start + 1)));
    expect(Array.from(pre.positions)).toEqual(Array.from(full.positions.slice(0, full.spans.arAction.start + 1)));
    expect(pre.ids[pre.ids.length - 1]).toBe(SPECIAL.actionStart);
  });

  it('can copy the embodiment prompt into the goal block, and extracts FAST ids from generated output', () => {
    const L = layoutDocument(vocab, parts, { goalIncludesPrompt: true });
    const cg = L.spans.crlGoal!;
    expect(Array.from(L.ids.slice(cg.start, cg.end - 1))).toEqual([...parts.prompt, ...parts.instruction].map((x) => x + vocab.textOffset));
    const gen = [SPECIAL.actionStart, vocab.fastOffset + 5, vocab.textOffset + 1, vocab.fastOffset + 7, SPECIAL.actionEndAr, vocab.fastOffset + 9];
    expect(Array.from(vocab.fastLocalOf(gen))).toEqual([5, -1, 7]);
    expect(() => layoutDocument(vocab, { ...parts, fast: [] })).toThrow(/fast must hold at least one FAST token/);
    expect(() => layoutDocument(vocab, { ...parts, imagePatches: [2, -1] })).toThrow(/imagePatches\[1\] must be a non-negative integer/);
  });

  it('a fitted bundle tokenizes a sample end to end and reloads from JSON identically', () => {
    const H = 8;
    const chunks = chunksOf(syntheticEpisodes(2, 10, 60), H, 2);
    const bundle = TokenizerBundle.fit(
      { instructions, chunks, stateStats: { q01: [-1, -1, 0], q99: [1, 1, 0.1] }, embodiment: panda },
      { fast: { horizon: H, actionDim: 7, vocabSize: 256 } },
    );
    const sample = { imagePatches: [16, 16], state: [0.1, -0.2, 0.05], instruction: instructions[0], actions: chunks[4] };
    const L = bundle.layout(sample);
    expect(L.ids.every((id) => id >= 0 && id < bundle.vocab.size)).toBe(true);
    const fastIds = bundle.vocab.fastLocalOf(L.ids.slice(L.spans.arAction.start, L.spans.arAction.end));
    const dec = bundle.fast.decode(fastIds);
    expect(dec.valid).toBe(true);
    const maxErr = Math.max(...Array.from(dec.actions, (v, i) => Math.abs(v - chunks[4][i])));
    expect(maxErr).toBeLessThan(0.2);
    const back = TokenizerBundle.fromJSON(JSON.parse(JSON.stringify(bundle)));
    expect(Array.from(back.layout(sample).ids)).toEqual(Array.from(L.ids));
    expect(Array.from(back.prefix(sample).ids)).toEqual(Array.from(L.ids.slice(0, L.spans.arAction.start + 1)));
    const bad = { ...bundle.toJSON(), vocab: { ...bundle.vocab.toJSON(), fastSize: 3 } };
    expect(() => TokenizerBundle.fromJSON(bad)).toThrow(/vocab.fastSize is 3 but the tokenizers give/);
  });
});
