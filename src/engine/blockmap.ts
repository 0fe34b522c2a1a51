/**
 * Block map for role-aware block-sparse attention (DESIGN.md 3; FlexAttention's
 * BlockMask). Built once per batch on the CPU from per-token (doc, role) and shared by
 * every layer. Each (q-tile, k-tile) pair is EMPTY (never visited), FULL (every element
 * allowed: the kernels skip the per-element rule) or PARTIAL (per-element rule).
 *
 * Classification works on maximal runs of equal (doc, role): inside one run-pair
 * rectangle the rule is a single boolean and the causal condition a staircase, so a tile
 * pair costs (runs in the q-tile) x (runs in the k-tile) instead of tile^2 elements.
 *
 * Padding: the sequence is padded to whole tiles and padded rows/columns count as
 * disallowed, so a tile that contains padding is never FULL. That keeps FULL tiles free
 * of bounds checks and makes padded query rows (which see no key) come out as zero.
 */
import type { Runtime } from './runtime';
import { PRTS_RULE, ROLE_COUNT, assertRule, ruleBits, type MaskRule } from './roles';

export const TileClass = { EMPTY: 0, PARTIAL: 1, FULL: 2 } as const;
export type TileClass = (typeof TileClass)[keyof typeof TileClass];

export const SUPPORTED_TILES: readonly number[] = [32, 64];

/** Compressed rows (FlexAttention's kv_num_blocks/kv_indices and full_kv_*): the tiles of row r
 * are indices[offsets[r] .. offsets[r+1]). */
export interface TileCsr {
  offsets: Uint32Array;
  indices: Uint32Array;
}

/** Per-row FULL and PARTIAL lists; a row is a q-tile (byQuery) or a k-tile (byKey, transposed). */
export interface TileLists {
  full: TileCsr;
  partial: TileCsr;
}

export interface BlockMap {
  /** Real (unpadded) tokens. */
  readonly n: number;
  readonly tile: number;
  readonly numTiles: number;
  readonly rule: MaskRule;
  readonly doc: Int32Array;
  readonly role: Uint8Array;
  /** classes[qTile * numTiles + kTile]. */
  readonly classes: Uint8Array;
  /** For the forward and dQ passes: per q-tile, its k-tiles. */
  readonly byQuery: TileLists;
  /** For the dK/dV pass: per k-tile, its q-tiles. */
  readonly byKey: TileLists;
  readonly fullTiles: number;
  readonly partialTiles: number;
  /** (FULL + PARTIAL) / numTiles^2: the share of the dense tile grid a kernel computes. */
  readonly visitedFraction: number;
  /** Allowed (query, key) element pairs: the useful work, for reporting efficiency. */
  readonly allowedPairs: number;
  /** True when every tile is PARTIAL on purpose (the dense masked reference path). */
  readonly dense: boolean;
}

export interface BlockMapOptions {
  tile?: number;
  rule?: MaskRule;
}

interface Runs {
  start: Int32Array;
  end: Int32Array;
  doc: Int32Array;
  role: Int32Array;
  /** firstRun[t]: the run that contains token t * tile. */
  firstRun: Int32Array;
}

function validate(
  doc: ArrayLike<number>,
  role: ArrayLike<number>,
  opts: BlockMapOptions,
): { n: number; tile: number; rule: MaskRule } {
  const n = doc.length;
  if (n === 0) throw new RangeError('buildBlockMap: doc is empty; attention needs at least one token');
  if (role.length !== n) throw new RangeError(`buildBlockMap: role has ${role.length} entries, doc has ${n}`);
  const tile = opts.tile ?? 64;
  if (!SUPPORTED_TILES.includes(tile)) {
    throw new RangeError(`buildBlockMap: tile ${tile} is not supported (use ${SUPPORTED_TILES.join(' or ')})`);
  }
  const rule = opts.rule ?? PRTS_RULE;
  assertRule(rule);
  for (let i = 0; i < n; i++) {
    const d = doc[i];
    // The kernels pack doc and role into one u32 (doc << 3 | role).
    if (!Number.isInteger(d) || d < 0 || d >= 1 << 28) {
      throw new RangeError(`buildBlockMap: doc[${i}] = ${d}; document ids must be integers in [0, 2^28)`);
    }
    const r = role[i];
    if (!Number.isInteger(r) || r < 0 || r >= ROLE_COUNT) {
      throw new RangeError(`buildBlockMap: role[${i}] = ${r}; roles are integers in [0, ${ROLE_COUNT})`);
    }
  }
  return { n, tile, rule };
}

function findRuns(doc: Int32Array, role: Uint8Array, tile: number, numTiles: number): Runs {
  const starts: number[] = [];
  for (let i = 0; i < doc.length; i++) {
    if (i === 0 || doc[i] !== doc[i - 1] || role[i] !== role[i - 1]) starts.push(i);
  }
  const m = starts.length;
  const runs: Runs = {
    start: Int32Array.from(starts),
    end: new Int32Array(m),
    doc: new Int32Array(m),
    role: new Int32Array(m),
    firstRun: new Int32Array(numTiles),
  };
  for (let r = 0; r < m; r++) {
    runs.end[r] = r + 1 < m ? starts[r + 1] : doc.length;
    runs.doc[r] = doc[starts[r]];
    runs.role[r] = role[starts[r]];
  }
  let r = 0;
  for (let t = 0; t < numTiles; t++) {
    while (runs.end[r] <= t * tile) r++;
    runs.firstRun[t] = r;
  }
  return runs;
}

/** Allowed pairs of the staircase j <= i inside rows [qa, qb) x columns [ka, kb). */
function causalPairs(qa: number, qb: number, ka: number, kb: number): number {
  let c = 0;
  for (let i = qa; i < qb; i++) c += Math.max(0, Math.min(i + 1, kb) - ka);
  return c;
}

function classify(
  runs: Runs,
  rule: MaskRule,
  n: number,
  tile: number,
  qt: number,
  kt: number,
): { cls: TileClass; allowed: number } {
  // Whole k-tile after the whole q-tile: causality rules out every pair.
  if (kt > qt) return { cls: TileClass.EMPTY, allowed: 0 };
  const q0 = qt * tile;
  const q1 = Math.min(q0 + tile, n);
  const k0 = kt * tile;
  const k1 = Math.min(k0 + tile, n);
  let anyDisallowed = q1 - q0 < tile || k1 - k0 < tile;
  let allowed = 0;
  for (let qr = runs.firstRun[qt]; qr < runs.start.length && runs.start[qr] < q1; qr++) {
    const qa = Math.max(runs.start[qr], q0);
    const qb = Math.min(runs.end[qr], q1);
    for (let kr = runs.firstRun[kt]; kr < runs.start.length && runs.start[kr] < k1; kr++) {
      const ka = Math.max(runs.start[kr], k0);
      const kb = Math.min(runs.end[kr], k1);
      if (runs.doc[qr] !== runs.doc[kr] || !rule[runs.role[qr]][runs.role[kr]]) {
        anyDisallowed = true;
        continue;
      }
      const c = causalPairs(qa, qb, ka, kb);
      allowed += c;
      if (c < (qb - qa) * (kb - ka)) anyDisallowed = true;
    }
  }
  const cls = allowed === 0 ? TileClass.EMPTY : anyDisallowed ? TileClass.PARTIAL : TileClass.FULL;
  return { cls, allowed };
}

function csrFrom(rows: number[][]): TileCsr {
  const offsets = new Uint32Array(rows.length + 1);
  for (let r = 0; r < rows.length; r++) offsets[r + 1] = offsets[r] + rows[r].length;
  const indices = new Uint32Array(offsets[rows.length]);
  rows.forEach((row, r) => indices.set(row, offsets[r]));
  return { offsets, indices };
}

function listsFrom(classes: Uint8Array, numTiles: number, transposed: boolean): TileLists {
  const full: number[][] = [];
  const partial: number[][] = [];
  for (let a = 0; a < numTiles; a++) {
    const f: number[] = [];
    const p: number[] = [];
    for (let b = 0; b < numTiles; b++) {
      const c = transposed ? classes[b * numTiles + a] : classes[a * numTiles + b];
      if (c === TileClass.FULL) f.push(b);
      else if (c === TileClass.PARTIAL) p.push(b);
    }
    full.push(f);
    partial.push(p);
  }
  return { full: csrFrom(full), partial: csrFrom(partial) };
}

function assemble(
  n: number,
  tile: number,
  rule: MaskRule,
  doc: Int32Array,
  role: Uint8Array,
  classes: Uint8Array,
  allowedPairs: number,
  dense: boolean,
): BlockMap {
  const numTiles = Math.ceil(n / tile);
  let fullTiles = 0;
  let partialTiles = 0;
  for (const c of classes) {
    if (c === TileClass.FULL) fullTiles++;
    else if (c === TileClass.PARTIAL) partialTiles++;
  }
  return {
    n,
    tile,
    numTiles,
    rule,
    doc,
    role,
    classes,
    byQuery: listsFrom(classes, numTiles, false),
    byKey: listsFrom(classes, numTiles, true),
    fullTiles,
    partialTiles,
    visitedFraction: (fullTiles + partialTiles) / (numTiles * numTiles),
    allowedPairs,
    dense,
  };
}

/** The block-sparse map for one packed batch. */
export function buildBlockMap(doc: ArrayLike<number>, role: ArrayLike<number>, opts: BlockMapOptions = {}): BlockMap {
  const { n, tile, rule } = validate(doc, role, opts);
  const d = Int32Array.from(doc);
  const r = Uint8Array.from(role);
  const numTiles = Math.ceil(n / tile);
  const runs = findRuns(d, r, tile, numTiles);
  const classes = new Uint8Array(numTiles * numTiles);
  let allowedPairs = 0;
  for (let qt = 0; qt < numTiles; qt++) {
    for (let kt = 0; kt <= qt; kt++) {
      const { cls, allowed } = classify(runs, rule, n, tile, qt, kt);
      classes[qt * numTiles + kt] = cls;
      allowedPairs += allowed;
    }
  }
  return assemble(n, tile, rule, d, r, classes, allowedPairs, false);
}

/** The dense masked reference path: every tile PARTIAL, so the kernels visit the whole
 * grid and evaluate the rule per element. Same answer as buildBlockMap, no sparsity. */
export function denseBlockMap(doc: ArrayLike<number>, role: ArrayLike<number>, opts: BlockMapOptions = {}): BlockMap {
  const sparse = buildBlockMap(doc, role, opts);
  const classes = new Uint8Array(sparse.classes.length).fill(TileClass.PARTIAL);
  return assemble(sparse.n, sparse.tile, sparse.rule, sparse.doc, sparse.role, classes, sparse.allowedPairs, true);
}

/** The per-element mask, mask[i * n + j] = 1 when query i may attend key j (for tests). */
export function denseMask(doc: ArrayLike<number>, role: ArrayLike<number>, rule: MaskRule = PRTS_RULE): Uint8Array {
  const n = doc.length;
  if (role.length !== n) throw new RangeError(`denseMask: role has ${role.length} entries, doc has ${n}`);
  const m = new Uint8Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = rule[role[i]];
    for (let j = 0; j <= i; j++) if (doc[i] === doc[j] && ri[role[j]]) m[i * n + j] = 1;
  }
  return m;
}

// ------------------------------------------------------------------ GPU form

/**
 * Word offsets inside the uploaded u32 buffer. Per direction the kernels walk one
 * combined list per row, FULL tiles first: list[offsets[r] .. offsets[r] + fullCount[r])
 * are FULL, the rest up to offsets[r + 1] PARTIAL (one uniform branch per tile).
 */
export interface GpuListLayout {
  offsets: number;
  fullCount: number;
  indices: number;
}

export interface GpuBlockMapLayout {
  /** n words: doc << 3 | role per token. */
  tokens: number;
  byQuery: GpuListLayout;
  byKey: GpuListLayout;
  words: number;
}

export interface GpuBlockMap {
  readonly map: BlockMap;
  readonly buffer: GPUBuffer;
  readonly layout: GpuBlockMapLayout;
  readonly ruleBits: number;
  release(): void;
}

/** Serializes the map into one u32 array (one binding for every kernel). */
export function blockMapWords(map: BlockMap): { words: Uint32Array; layout: GpuBlockMapLayout } {
  const T = map.numTiles;
  const listWords = (l: TileLists) => T + 1 + T + l.full.indices.length + l.partial.indices.length;
  const tokens = 0;
  const qBase = map.n;
  const kBase = qBase + listWords(map.byQuery);
  const total = kBase + listWords(map.byKey);
  const words = new Uint32Array(total);
  for (let i = 0; i < map.n; i++) words[tokens + i] = ((map.doc[i] << 3) | map.role[i]) >>> 0;
  const put = (l: TileLists, base: number): GpuListLayout => {
    const layout = { offsets: base, fullCount: base + T + 1, indices: base + 2 * T + 1 };
    let at = 0;
    for (let r = 0; r < T; r++) {
      const f = l.full.indices.subarray(l.full.offsets[r], l.full.offsets[r + 1]);
      const p = l.partial.indices.subarray(l.partial.offsets[r], l.partial.offsets[r + 1]);
      words[layout.offsets + r] = at;
      words[layout.fullCount + r] = f.length;
      words.set(f, layout.indices + at);
      words.set(p, layout.indices + at + f.length);
      at += f.length + p.length;
    }
    words[layout.offsets + T] = at;
    return layout;
  };
  const byQuery = put(map.byQuery, qBase);
  const byKey = put(map.byKey, kBase);
  return { words, layout: { tokens, byQuery, byKey, words: total }, };
}

/** Uploads the map once per batch; every attention layer of the step reuses it. */
export function uploadBlockMap(rt: Runtime, map: BlockMap): GpuBlockMap {
  const { words, layout } = blockMapWords(map);
  const buffer = rt.upload(words);
  let released = false;
  return {
    map,
    buffer,
    layout,
    ruleBits: ruleBits(map.rule),
    release() {
      if (!released) rt.release(buffer);
      released = true;
    },
  };
}
