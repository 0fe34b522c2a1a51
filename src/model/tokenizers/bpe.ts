/**
 * Byte-pair encoding over integer symbol sequences (no bytes, no strings).
 *
 * FAST feeds BPE the rounded DCT coefficients as small non-negative integers, and the
 * instruction tokenizer can feed it character indices, so the alphabet is simply
 * 0..baseSize-1 and merge r creates symbol baseSize + r. Training is the incremental
 * algorithm (pair counts kept exact under each merge, a lazy max-heap for the best
 * pair, per-pair occurrence lists re-validated when used), so a merge costs time in
 * proportion to the pair's occurrences, not to the corpus: 100k+ symbols train in
 * well under a second. Ties are broken towards the smaller pair (first symbol, then
 * second), so training is a pure function of its input.
 *
 * Merges never cross sequence boundaries: each sequence (one FAST chunk, one word)
 * is its own "word", as in the reference FAST tokenizer where each chunk is one string.
 */

export interface BpeJSON {
  type: 'bpe';
  version: 1;
  baseSize: number;
  /** merges[r] = [left, right]; the merged symbol is baseSize + r. */
  merges: [number, number][];
}

export interface BpeTrainOptions {
  /** Total vocabulary size (base alphabet + merges). Training stops when reached. */
  vocabSize: number;
  /** A pair must occur at least this often to be merged (default 2). */
  minFrequency?: number;
}

// Pair key = left * KEY_MUL + right: exact in a double for ids below 2^21 (2M symbols).
const KEY_MUL = 2 ** 21;
export const BPE_MAX_VOCAB = KEY_MUL;

export class BpeError extends Error {
  override name = 'BpeError';
}

/** Max-heap of (count, key) with ties towards the smaller key. Entries can be stale. */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];

  get size(): number {
    return this.counts.length;
  }

  private better(i: number, j: number): boolean {
    const ci = this.counts[i];
    const cj = this.counts[j];
    return ci > cj || (ci === cj && this.keys[i] < this.keys[j]);
  }

  private swap(i: number, j: number): void {
    const c = this.counts[i];
    this.counts[i] = this.counts[j];
    this.counts[j] = c;
    const k = this.keys[i];
    this.keys[i] = this.keys[j];
    this.keys[j] = k;
  }

  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.counts.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.better(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  /** Removes the top; returns [count, key]. */
  pop(): [number, number] {
    const top: [number, number] = [this.counts[0], this.keys[0]];
    const lastC = this.counts.pop()!;
    const lastK = this.keys.pop()!;
    if (this.counts.length > 0) {
      this.counts[0] = lastC;
      this.keys[0] = lastK;
      let i = 0;
      const n = this.counts.length;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < n && this.better(l, m)) m = l;
        if (r < n && this.better(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

function checkSequences(sequences: readonly ArrayLike<number>[], baseSize: number, what: string): void {
  for (let s = 0; s < sequences.length; s++) {
    const seq = sequences[s];
    for (let i = 0; i < seq.length; i++) {
      const v = seq[i];
      if (!Number.isInteger(v) || v < 0 || v >= baseSize) {
        throw new BpeError(`${what}: sequence ${s} position ${i} has symbol ${v}, outside the base alphabet [0, ${baseSize})`);
      }
    }
  }
}

export class Bpe {
  readonly baseSize: number;
  readonly merges: readonly (readonly [number, number])[];
  /** Pair key -> merge rank. */
  private readonly rank = new Map<number, number>();
  /** Base symbols each vocabulary id expands to (decode table). */
  private readonly expansion: Int32Array[];

  constructor(baseSize: number, merges: readonly (readonly [number, number])[]) {
    if (!Number.isInteger(baseSize) || baseSize < 1) throw new BpeError(`baseSize must be a positive integer, got ${baseSize}`);
    if (baseSize + merges.length > BPE_MAX_VOCAB) {
      throw new BpeError(`vocabulary ${baseSize + merges.length} exceeds the supported maximum ${BPE_MAX_VOCAB}`);
    }
    this.baseSize = baseSize;
    this.merges = merges.map(([a, b]) => [a, b] as const);
    this.expansion = [];
    for (let s = 0; s < baseSize; s++) this.expansion.push(Int32Array.of(s));
    merges.forEach(([a, b], r) => {
      const id = baseSize + r;
      // A merge may only use symbols that exist before it; this also rules out cycles.
      for (const [name, v] of [['left', a], ['right', b]] as const) {
        if (!Number.isInteger(v) || v < 0 || v >= id) {
          throw new BpeError(`merge ${r}: ${name} symbol ${v} must be an integer in [0, ${id})`);
        }
      }
      const key = a * KEY_MUL + b;
      if (this.rank.has(key)) throw new BpeError(`merge ${r}: pair (${a}, ${b}) already merged at rank ${this.rank.get(key)}`);
      this.rank.set(key, r);
      const ea = this.expansion[a];
      const eb = this.expansion[b];
      const e = new Int32Array(ea.length + eb.length);
      e.set(ea, 0);
      e.set(eb, ea.length);
      this.expansion.push(e);
    });
  }

  get vocabSize(): number {
    return this.baseSize + this.merges.length;
  }

  /**
   * Learns merges from `sequences` of base symbols in [0, baseSize). Deterministic:
   * the most frequent adjacent pair is merged first, ties go to the smaller
   * (left, right); occurrences are merged left to right, so "a a a" gives "(aa) a".
   */
  static train(sequences: readonly ArrayLike<number>[], baseSize: number, options: BpeTrainOptions): Bpe {
    const { vocabSize } = options;
    const minFrequency = options.minFrequency ?? 2;
    if (!Number.isInteger(baseSize) || baseSize < 1) throw new BpeError(`train: baseSize must be a positive integer, got ${baseSize}`);
    if (!Number.isInteger(vocabSize) || vocabSize < baseSize || vocabSize > BPE_MAX_VOCAB) {
      throw new BpeError(`train: vocabSize must be an integer in [baseSize = ${baseSize}, ${BPE_MAX_VOCAB}], got ${vocabSize}`);
    }
    if (!Number.isInteger(minFrequency) || minFrequency < 1) {
      throw new BpeError(`train: minFrequency must be a positive integer, got ${minFrequency}`);
    }
    checkSequences(sequences, baseSize, 'train');

    // All sequences in one doubly linked list; -1 links mark sequence boundaries.
    let total = 0;
    for (const s of sequences) total += s.length;
    const sym = new Int32Array(total);
    const prev = new Int32Array(total);
    const next = new Int32Array(total);
    let o = 0;
    for (const s of sequences) {
      for (let i = 0; i < s.length; i++) {
        sym[o + i] = s[i];
        prev[o + i] = i === 0 ? -1 : o + i - 1;
        next[o + i] = i === s.length - 1 ? -1 : o + i + 1;
      }
      o += s.length;
    }

    const counts = new Map<number, number>();
    // Occurrences (left positions) per pair; append-only, checked against `sym` on use.
    const where = new Map<number, number[]>();
    const heap = new PairHeap();
    const bump = (key: number, pos: number) => {
      counts.set(key, (counts.get(key) ?? 0) + 1);
      let list = where.get(key);
      if (!list) where.set(key, (list = []));
      list.push(pos);
    };
    const drop = (key: number) => {
      counts.set(key, counts.get(key)! - 1);
    };
    for (let i = 0; i < total; i++) if (next[i] >= 0) bump(sym[i] * KEY_MUL + sym[next[i]], i);
    for (const [key, c] of counts) if (c >= minFrequency) heap.push(c, key);

    const merges: [number, number][] = [];
    const touched = new Set<number>();
    while (baseSize + merges.length < vocabSize && heap.size > 0) {
      const [c, key] = heap.pop();
      if (counts.get(key) !== c) continue; // stale entry; the current count was pushed when it changed
      if (c < minFrequency) break;
      const a = Math.floor(key / KEY_MUL);
      const b = key - a * KEY_MUL;
      const id = baseSize + merges.length;
      merges.push([a, b]);
      const list = where.get(key)!;
      where.delete(key);
      list.sort((x, y) => x - y); // left to right within each sequence
      touched.clear();
      for (const i of list) {
        // The occurrence may have been consumed by an earlier merge in this loop (overlaps
        // such as "a a a") or rewritten by an earlier merge rank.
        if (sym[i] !== a) continue;
        const j = next[i];
        if (j < 0 || sym[j] !== b) continue;
        const p = prev[i];
        const n = next[j];
        if (p >= 0) { drop(sym[p] * KEY_MUL + a); touched.add(sym[p] * KEY_MUL + a); }
        if (n >= 0) { drop(b * KEY_MUL + sym[n]); touched.add(b * KEY_MUL + sym[n]); }
        drop(key);
        sym[i] = id;
        sym[j] = -1;
        next[i] = n;
        if (n >= 0) prev[n] = i;
        if (p >= 0) { bump(sym[p] * KEY_MUL + id, p); touched.add(sym[p] * KEY_MUL + id); }
        if (n >= 0) { bump(id * KEY_MUL + sym[n], i); touched.add(id * KEY_MUL + sym[n]); }
      }
      counts.delete(key);
      for (const k of touched) {
        const ck = counts.get(k);
        if (ck === undefined) continue;
        if (ck <= 0) { counts.delete(k); where.delete(k); continue; }
        if (ck >= minFrequency) heap.push(ck, k);
      }
    }
    return new Bpe(baseSize, merges);
  }

  /**
   * Applies the merges in rank order, each rank left to right, exactly as training
   * segmented its own sequences. A heap of (rank, position) over a linked list keeps this
   * O(n log n), so long chunks (H = 50, K = 32: 1600 symbols) stay cheap.
   */
  encode(symbols: ArrayLike<number>): Int32Array {
    const n = symbols.length;
    const sym = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const v = symbols[i];
      if (!Number.isInteger(v) || v < 0 || v >= this.baseSize) {
        throw new BpeError(`encode: position ${i} has symbol ${v}, outside the base alphabet [0, ${this.baseSize})`);
      }
      sym[i] = v;
    }
    if (n < 2 || this.merges.length === 0) return sym;
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    // Heap keyed by rank * n + position: lowest rank first, then leftmost. A merge's new
    // symbol only takes part in merges of higher rank, so within one rank the order is
    // left to right, as in training.
    const heap = new PairHeap();
    const rankAt = (i: number): number => {
      const j = next[i];
      if (j < 0) return -1;
      return this.rank.get(sym[i] * KEY_MUL + sym[j]) ?? -1;
    };
    const push = (i: number) => {
      const r = rankAt(i);
      if (r >= 0) heap.push(0, r * n + i);
    };
    for (let i = 0; i + 1 < n; i++) push(i);
    let live = n;
    while (heap.size > 0) {
      const [, key] = heap.pop();
      const r = Math.floor(key / n);
      const i = key - r * n;
      // Stale when the position was consumed or its pair changed since the push.
      if (sym[i] < 0 || rankAt(i) !== r) continue;
      const j = next[i];
      sym[i] = this.baseSize + r;
      sym[j] = -1;
      next[i] = next[j];
      if (next[j] >= 0) prev[next[j]] = i;
      live--;
      if (prev[i] >= 0) push(prev[i]);
      push(i);
    }
    const out = new Int32Array(live);
    let o = 0;
    for (let i = 0; i >= 0; i = next[i]) out[o++] = sym[i];
    return out;
  }

  /** Expands ids to base symbols. Throws on an id outside the vocabulary (see `decodeLenient`). */
  decode(ids: ArrayLike<number>): Int32Array {
    const r = this.decodeLenient(ids);
    if (r.badIds > 0) throw new BpeError(`decode: ${r.badIds} id(s) outside the vocabulary [0, ${this.vocabSize})`);
    return r.symbols;
  }

  /** Expands ids to base symbols, skipping (and counting) ids outside the vocabulary. */
  decodeLenient(ids: ArrayLike<number>): { symbols: Int32Array; badIds: number } {
    let n = 0;
    let badIds = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (Number.isInteger(id) && id >= 0 && id < this.expansion.length) n += this.expansion[id].length;
      else badIds++;
    }
    const out = new Int32Array(n);
    let o = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!(Number.isInteger(id) && id >= 0 && id < this.expansion.length)) continue;
      out.set(this.expansion[id], o);
      o += this.expansion[id].length;
    }
    return { symbols: out, badIds };
  }

  /** Base symbols a vocabulary id stands for (a copy). */
  expand(id: number): Int32Array {
    if (!Number.isInteger(id) || id < 0 || id >= this.expansion.length) {
      throw new BpeError(`expand: id ${id} outside the vocabulary [0, ${this.vocabSize})`);
    }
    return this.expansion[id].slice();
  }

  toJSON(): BpeJSON {
    return { type: 'bpe', version: 1, baseSize: this.baseSize, merges: this.merges.map(([a, b]) => [a, b]) };
  }

  static fromJSON(json: unknown): Bpe {
    const j = json as Partial<BpeJSON> | null;
    if (!j || typeof j !== 'object') throw new BpeError('Bpe.fromJSON: expected an object');
    if (j.type !== 'bpe') throw new BpeError(`Bpe.fromJSON: field "type" must be "bpe", got ${JSON.stringify(j.type)}`);
    if (j.version !== 1) throw new BpeError(`Bpe.fromJSON: unsupported "version" ${JSON.stringify(j.version)} (expected 1)`);
    if (typeof j.baseSize !== 'number') throw new BpeError('Bpe.fromJSON: field "baseSize" must be a number');
    if (!Array.isArray(j.merges)) throw new BpeError('Bpe.fromJSON: field "merges" must be an array of [left, right] pairs');
    j.merges.forEach((m, r) => {
      if (!Array.isArray(m) || m.length !== 2) throw new BpeError(`Bpe.fromJSON: merges[${r}] must be a [left, right] pair`);
    });
    return new Bpe(j.baseSize, j.merges);
  }
}
