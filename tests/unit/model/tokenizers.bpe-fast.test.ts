import { describe, expect, it } from 'vitest';
import { Bpe, BpeError } from '../../../src/model/tokenizers/bpe.ts';
import { FastError, FastTokenizer, MAX_FIT_CLIP, fastAlphabetBound, fastQuantizationBound, quantileStatsOf } from '../../../src/model/tokenizers/fast.ts';
import { Rng } from '../../../src/engine/random.ts';
import { chunksOf, SYN_DIM, syntheticEpisodes } from './tokenizers.synthetic.ts';

/** Random sequences with structure (repeated motifs) so BPE has something to merge. */
function randomSequences(seed: number, n: number, alphabet: number, maxLen: number): Int32Array[] {
  const rng = new Rng(seed);
  const motifs = Array.from({ length: 6 }, () => Int32Array.from({ length: 2 + rng.int(4) }, () => rng.int(alphabet)));
  return Array.from({ length: n }, () => {
    const s: number[] = [];
    const len = rng.int(maxLen + 1);
    while (s.length < len) {
      if (rng.next() < 0.5) s.push(...motifs[rng.int(motifs.length)]);
      else s.push(rng.int(alphabet));
    }
    return Int32Array.from(s.slice(0, len));
  });
}

/** Textbook BPE: recount every pair after every merge; same tie rule (smaller pair). */
function naiveTrain(seqs: readonly Int32Array[], base: number, vocabSize: number, minFrequency: number): { merges: [number, number][]; words: number[][] } {
  const words = seqs.map((s) => Array.from(s));
  const merges: [number, number][] = [];
  while (base + merges.length < vocabSize) {
    const counts = new Map<string, number>();
    for (const w of words) for (let i = 0; i + 1 < w.length; i++) counts.set(`${w[i]},${w[i + 1]}`, (counts.get(`${w[i]},${w[i + 1]}`) ?? 0) + 1);
    let best: [number, number] | null = null;
    let bestCount = 0;
    for (const [k, c] of counts) {
      const [a, b] = k.split(',').map(Number);
      if (c > bestCount || (c === bestCount && best && (a < best[0] || (a === best[0] && b < best[1])))) {
        best = [a, b];
        bestCount = c;
      }
    }
    if (!best || bestCount < minFrequency) break;
    const id = base + merges.length;
    merges.push(best);
    for (let wi = 0; wi < words.length; wi++) {
      const w = words[wi];
      const out: number[] = [];
      for (let i = 0; i < w.length; i++) {
        if (i + 1 < w.length && w[i] === best[0] && w[i + 1] === best[1]) {
          out.push(id);
          i++;
        } else out.push(w[i]);
      }
      words[wi] = out;
    }
  }
  return { merges, words };
}

describe('BPE over integer symbols', () => {
  const seqs = randomSequences(1, 300, 12, 40);

  it('round-trips random sequences, including unseen ones and the empty sequence', () => {
    const bpe = Bpe.train(seqs, 12, { vocabSize: 80 });
    expect(bpe.vocabSize).toBe(80);
    const fresh = randomSequences(2, 200, 12, 60);
    let symbols = 0;
    let tokens = 0;
    for (const s of [...seqs, ...fresh, new Int32Array(0)]) {
      const ids = bpe.encode(s);
      expect(Array.from(bpe.decode(ids))).toEqual(Array.from(s));
      symbols += s.length;
      tokens += ids.length;
    }
    expect(tokens).toBeLessThan(0.8 * symbols);
  });

  it('learns exactly the merges of the textbook algorithm (ties to the smaller pair)', () => {
    for (const [seed, alphabet] of [[3, 5], [4, 12], [5, 3]] as const) {
      const data = randomSequences(seed, 120, alphabet, 30);
      const fast = Bpe.train(data, alphabet, { vocabSize: alphabet + 40, minFrequency: 2 });
      const ref = naiveTrain(data, alphabet, alphabet + 40, 2);
      expect(fast.merges.map((m) => [...m])).toEqual(ref.merges);
      // The encoder segments each training sequence exactly as training did.
      data.forEach((s, i) => expect(Array.from(fast.encode(s))).toEqual(ref.words[i]));
    }
  });

  it('handles runs of one symbol ("a a a a") like the textbook algorithm', () => {
    const data = [Int32Array.of(0, 0, 0, 0, 0), Int32Array.of(0, 0, 0), Int32Array.of(1, 0, 0, 0, 1)];
    const bpe = Bpe.train(data, 2, { vocabSize: 6, minFrequency: 1 });
    const ref = naiveTrain(data, 2, 6, 1);
    expect(bpe.merges.map((m) => [...m])).toEqual(ref.merges);
    data.forEach((s, i) => expect(Array.from(bpe.encode(s))).toEqual(ref.words[i]));
    for (const s of data) expect(Array.from(bpe.decode(bpe.encode(s)))).toEqual(Array.from(s));
  });

  it('is deterministic and independent of the order of the sequences', () => {
    const a = Bpe.train(seqs, 12, { vocabSize: 100 });
    const b = Bpe.train(seqs, 12, { vocabSize: 100 });
    const shuffled = [...seqs].reverse();
    const c = Bpe.train(shuffled, 12, { vocabSize: 100 });
    expect(JSON.stringify(b.toJSON())).toBe(JSON.stringify(a.toJSON()));
    expect(JSON.stringify(c.toJSON())).toBe(JSON.stringify(a.toJSON()));
  });

  it('stops at minFrequency and never merges across sequence boundaries', () => {
    const data = [Int32Array.of(0, 1), Int32Array.of(2, 3), Int32Array.of(0, 1)];
    const bpe = Bpe.train(data, 4, { vocabSize: 50, minFrequency: 2 });
    // (0,1) occurs twice; (1,2) and (1,0) would only exist across boundaries.
    expect(bpe.merges.map((m) => [...m])).toEqual([[0, 1]]);
    expect(Bpe.train(data, 4, { vocabSize: 50, minFrequency: 3 }).merges).toHaveLength(0);
  });

  it('serializes to JSON and back with identical encodings', () => {
    const bpe = Bpe.train(seqs, 12, { vocabSize: 90 });
    const back = Bpe.fromJSON(JSON.parse(JSON.stringify(bpe)));
    for (const s of seqs.slice(0, 50)) expect(Array.from(back.encode(s))).toEqual(Array.from(bpe.encode(s)));
  });

  it('rejects bad input with messages naming the problem', () => {
    const bpe = Bpe.train(seqs, 12, { vocabSize: 40 });
    expect(() => bpe.encode([0, 12])).toThrow(/position 1 has symbol 12, outside the base alphabet \[0, 12\)/);
    expect(() => Bpe.train([Int32Array.of(0, -1)], 4, { vocabSize: 10 })).toThrow(BpeError);
    expect(() => Bpe.train(seqs, 12, { vocabSize: 5 })).toThrow(/vocabSize must be an integer in \[baseSize = 12/);
    expect(() => Bpe.fromJSON({ type: 'bpe', version: 1, baseSize: 3, merges: [[0, 3]] })).toThrow(/merge 0: right symbol 3 must be an integer in \[0, 3\)/);
    expect(() => Bpe.fromJSON({ type: 'bpe', version: 1, baseSize: 3, merges: [[0, 1], [0, 1]] })).toThrow(/already merged/);
    expect(() => Bpe.fromJSON({ type: 'bpe', version: 2 })).toThrow(/unsupported "version"/);
    expect(() => bpe.decode([0, 999])).toThrow(/1 id\(s\) outside the vocabulary/);
    expect(bpe.decodeLenient([0, 999, -1, 1.5]).badIds).toBe(3);
  });

  it('fits 100k+ symbols quickly', () => {
    const rng = new Rng(9);
    const big = Array.from({ length: 2000 }, () => Int32Array.from({ length: 56 }, (_, j) => Math.max(0, Math.min(58, Math.round(29 + rng.normal() * (j < 7 ? 8 : 1))))));
    const t0 = performance.now();
    const bpe = Bpe.train(big, 59, { vocabSize: 1024 });
    const ms = performance.now() - t0;
    expect(bpe.vocabSize).toBe(1024);
    // About 0.25 s measured on one core; the bound leaves room for a loaded shared machine.
    expect(ms).toBeLessThan(5000);
  });
});

describe('FAST action tokenizer', () => {
  const H = 8;
  const K = SYN_DIM;
  const episodes = syntheticEpisodes(7, 40, 120);
  const chunks = chunksOf(episodes, H);
  // Stats from the full range, so no value is clipped and the error is rounding alone.
  const stats = (() => {
    const q01 = new Array<number>(K).fill(Infinity);
    const q99 = new Array<number>(K).fill(-Infinity);
    for (const c of chunks) for (let i = 0; i < c.length; i++) {
      q01[i % K] = Math.min(q01[i % K], c[i]);
      q99[i % K] = Math.max(q99[i % K], c[i]);
    }
    return { q01, q99 };
  })();
  const tok = FastTokenizer.fit(chunks, { horizon: H, actionDim: K, stats, vocabSize: 1024 });

  it('uses the orthonormal DCT-II, flattened frequency-major', () => {
    const t = FastTokenizer.fit([new Float32Array(H * 2)], { horizon: H, actionDim: 2, stats: { q01: [-1, -1], q99: [1, 1] }, vocabSize: 59 });
    // Constant chunks: only the DC term, sum / sqrt(H) * scale, channel 0 then channel 1.
    const chunk = new Float32Array(H * 2);
    for (let s = 0; s < H; s++) {
      chunk[s * 2] = 0.5;
      chunk[s * 2 + 1] = -0.25;
    }
    const c = Array.from(t.coefficients(chunk));
    const norm = (v: number) => ((v + 1) / (2 + 1e-6)) * 2 - 1;
    expect(c.slice(0, 2)).toEqual([Math.round(10 * Math.sqrt(H) * norm(0.5)), Math.round(10 * Math.sqrt(H) * norm(-0.25))]);
    expect(c.slice(2).every((v) => v === 0)).toBe(true);
    // A single cosine of frequency 1 on channel 1 lands at index 1 * channels + 1 = 3.
    for (let s = 0; s < H; s++) {
      chunk[s * 2] = 0;
      chunk[s * 2 + 1] = 0.5 * Math.cos((Math.PI * (2 * s + 1)) / (2 * H));
    }
    const c2 = Array.from(t.coefficients(chunk));
    const nz = c2.map((v, i) => [v, i]).filter(([v]) => Math.abs(v) > 1).map(([, i]) => i);
    expect(nz).toEqual([3]);
    expect(c2[3]).toBe(Math.round(10 * 0.5 * Math.sqrt(H / 2)));
  });

  it('round-trips within the rounding bound, and the error shrinks as the scale grows', () => {
    const sample = chunks.filter((_, i) => i % 4 === 0);
    let prevMean = Infinity;
    for (const scale of [5, 10, 20, 50]) {
      const t = scale === 10 ? tok : FastTokenizer.fit(sample, { horizon: H, actionDim: K, stats, scale, vocabSize: 512 });
      const r = t.roundTripError(sample);
      expect(r.clippedFraction).toBe(0);
      expect(r.maxAbsNorm).toBeLessThanOrEqual(fastQuantizationBound(H, scale) + 1e-5);
      expect(r.boundNorm).toBeCloseTo(0.5 * Math.sqrt(H) / scale, 12);
      expect(r.meanAbsNorm).toBeLessThan(prevMean);
      prevMean = r.meanAbsNorm;
    }
  });

  it('compresses smooth chunks below H * K tokens', () => {
    const r = tok.roundTripError(chunks);
    expect(r.meanTokens).toBeLessThan(H * K / 2);
    expect(r.maxTokens).toBeLessThan(H * K);
    expect(r.compressionRatio).toBeGreaterThan(2);
  });

  it('with clip 1 (the reference FAST) clips values outside [q01, q99] and reports them', () => {
    const fitted = FastTokenizer.fit(chunks, { horizon: H, actionDim: K, vocabSize: 256, clip: 1 });
    const s = quantileStatsOf(chunks, K);
    expect(Array.from(fitted.q01)).toEqual(s.q01);
    const r = fitted.roundTripError(chunks);
    expect(r.clippedFraction).toBeGreaterThan(0);
    expect(r.clippedFraction).toBeLessThan(0.05);
    // Quantization error is still bounded; the total error includes the clipping.
    expect(r.maxAbsNorm).toBeLessThanOrEqual(fitted.quantizationBound + 1e-5);
    expect(r.maxAbsActionTotal).toBeGreaterThan(r.maxAbsAction);
  });

  it('fit() picks a clip bound that covers every fitted value, so no training action is cut (issue 10)', () => {
    const fitted = FastTokenizer.fit(chunks, { horizon: H, actionDim: K, vocabSize: 512 });
    const s = quantileStatsOf(chunks, K);
    let worst = 0;
    for (const c of chunks) for (let i = 0; i < c.length; i++) {
      const d = i % K;
      worst = Math.max(worst, Math.abs(((c[i] - s.q01[d]) / (s.q99[d] - s.q01[d] + 1e-6)) * 2 - 1));
    }
    expect(fitted.clip).toBeGreaterThanOrEqual(Math.min(worst, MAX_FIT_CLIP));
    expect(fitted.clip).toBeLessThan(Math.max(1, worst) + 0.25 + 1e-9);
    expect((fitted.clip * 4) % 1).toBe(0);
    expect(fitted.bound).toBe(fastAlphabetBound(H, fitted.scale, fitted.clip));
    const r = fitted.roundTripError(chunks);
    expect(r.clippedFraction).toBe(0);
    expect(r.maxAbsNorm).toBeLessThanOrEqual(fitted.quantizationBound + 1e-5);
    expect(r.maxAbsActionTotal).toBeCloseTo(r.maxAbsAction, 6);
    // A chunk reaching past the fitted range is clipped at the bound, never an unknown symbol.
    const far = chunks[0].slice();
    far[2] = s.q99[2] + 100 * (s.q99[2] - s.q01[2]);
    const back = fitted.decode(fitted.encode(far));
    expect(back.valid).toBe(true);
    const top = ((fitted.clip + 1) / 2) * (s.q99[2] - s.q01[2] + 1e-6) + s.q01[2];
    expect(back.actions[2]).toBeLessThanOrEqual(top + 0.05 * (s.q99[2] - s.q01[2]));
    // The clip travels with the tokenizer; a version-1 file (no clip field) means clip 1.
    expect(FastTokenizer.fromJSON(JSON.parse(JSON.stringify(fitted.toJSON()))).clip).toBe(fitted.clip);
    const v1 = FastTokenizer.fit(chunks, { horizon: H, actionDim: K, vocabSize: 256, clip: 1 }).toJSON();
    const { clip: _clip, ...rest } = v1;
    expect(FastTokenizer.fromJSON({ ...rest, version: 1 }).clip).toBe(1);
    expect(() => FastTokenizer.fromJSON({ ...fitted.toJSON(), clip: undefined })).toThrow(/field "clip" must be a number/);
    expect(() => FastTokenizer.fit(chunks, { horizon: H, actionDim: K, clip: 0.5 })).toThrow(/clip must be a finite number >= 1/);
  });

  it('decodes any id sequence without throwing and flags malformed ones', () => {
    const rng = new Rng(11);
    const good = tok.encode(chunks[5]);
    expect(tok.decode(good).valid).toBe(true);
    const garbage: ArrayLike<number>[] = [
      [],
      good.slice(0, good.length - 1),
      [...good, ...good],
      [-1, 3, 1e9, 2.5, NaN, Infinity],
      Array.from({ length: 500 }, () => rng.int(tok.vocabSize)),
      Array.from({ length: 40 }, () => rng.int(4000) - 1000),
    ];
    for (const ids of garbage) {
      const d = tok.decode(ids);
      expect(d.valid).toBe(false);
      expect(d.reason).toMatch(/coefficients|outside the FAST vocabulary/);
      expect(d.actions).toHaveLength(H * K);
      expect(d.actions.every((v) => Number.isFinite(v))).toBe(true);
    }
    // Dropping the last token loses high-frequency coefficients, which are zero-filled.
    const cut = tok.decode(good.slice(0, good.length - 1));
    expect(cut.reason).toMatch(/zero-padded/);
  });

  it('encodes only valid channels and decodes padded channels to zero', () => {
    const Kp = 9; // 7 real channels padded to 9, Qwen-VLA style
    const padded = chunks.filter((_, i) => i % 3 === 0).map((c) => {
      const p = new Float32Array(H * Kp);
      for (let s = 0; s < H; s++) {
        for (let d = 0; d < K; d++) p[s * Kp + d] = c[s * K + d];
        p[s * Kp + 7] = 123; // junk in the padding must not matter
      }
      return p;
    });
    const t = FastTokenizer.fit(padded, { horizon: H, actionDim: Kp, validChannels: K, vocabSize: 512 });
    expect(t.numValidChannels).toBe(K);
    expect(Array.from(t.channelMask)).toEqual([1, 1, 1, 1, 1, 1, 1, 0, 0]);
    const p = padded[3];
    const q = p.slice();
    for (let s = 0; s < H; s++) q[s * Kp + 8] = -5;
    expect(Array.from(t.encode(q))).toEqual(Array.from(t.encode(p)));
    const d = t.decode(t.encode(p));
    expect(d.valid).toBe(true);
    for (let s = 0; s < H; s++) {
      expect(d.actions[s * Kp + 7]).toBe(0);
      expect(d.actions[s * Kp + 8]).toBe(0);
    }
    // A mask need not be a prefix.
    const t2 = FastTokenizer.fit(padded, { horizon: H, actionDim: Kp, validChannels: [1, 1, 1, 1, 1, 1, 0, 1, 0], vocabSize: 512 });
    expect(t2.numValidChannels).toBe(7);
  });

  it('survives JSON (as saved in a checkpoint) with identical encodings and decodings', () => {
    const back = FastTokenizer.fromJSON(JSON.parse(JSON.stringify(tok)));
    for (const c of chunks.slice(0, 40)) {
      const ids = tok.encode(c);
      expect(Array.from(back.encode(c))).toEqual(Array.from(ids));
      expect(Array.from(back.decode(ids).actions)).toEqual(Array.from(tok.decode(ids).actions));
    }
  });

  it('rejects malformed data and options with messages naming the field', () => {
    expect(() => tok.encode(new Float32Array(H * K - 1))).toThrow(/chunk has 55 values, expected horizon \* actionDim = 8 \* 7 = 56/);
    const nan = chunks[0].slice();
    nan[3 * K + 2] = NaN;
    expect(() => tok.encode(nan)).toThrow(/step 3, channel 2 is NaN/);
    expect(() => FastTokenizer.fit([], { horizon: H, actionDim: K })).toThrow(FastError);
    expect(() => FastTokenizer.fit(chunks, { horizon: H, actionDim: K, vocabSize: 40, clip: 1 })).toThrow(/vocabSize must be an integer >= the coefficient alphabet .* = 59, got 40/);
    expect(() => FastTokenizer.fit(chunks, { horizon: H, actionDim: K, validChannels: 8 })).toThrow(/validChannels: a channel count must be an integer in \[1, actionDim = 7\]/);
    expect(() => FastTokenizer.fit(chunks, { horizon: H, actionDim: K, stats: { q01: [0], q99: [1] } })).toThrow(/stats.q01 has length 1, expected actionDim = 7/);
    expect(() => FastTokenizer.fit(chunks, { horizon: H, actionDim: K, stats: { q01: [1, 0, 0, 0, 0, 0, 0], q99: [0, 1, 1, 1, 1, 1, 1] } })).toThrow(/channel 0: q99 \(0\) is below q01 \(1\)/);
    expect(() => FastTokenizer.fromJSON({ ...tok.toJSON(), scale: 'x' })).toThrow(/field "scale" must be a number/);
  });
});

describe('BPE encoder on long sequences', () => {
  it('round-trips 1600-symbol chunks (H = 50, K = 32) quickly', () => {
    const rng = new Rng(21);
    const data = Array.from({ length: 60 }, () => Int32Array.from({ length: 1600 }, (_, j) => Math.max(0, Math.min(20, Math.round(10 + rng.normal() * (j < 64 ? 4 : 0.6))))));
    const bpe = Bpe.train(data, 21, { vocabSize: 300 });
    const t0 = performance.now();
    let tokens = 0;
    for (const s of data) {
      const ids = bpe.encode(s);
      tokens += ids.length;
      expect(Array.from(bpe.decode(ids))).toEqual(Array.from(s));
    }
    expect(tokens).toBeLessThan(data.length * 1600);
    // About 1 ms per chunk measured; the bound allows for a loaded machine.
    expect(performance.now() - t0).toBeLessThan(5000);
  });
});
