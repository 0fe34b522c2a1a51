import { describe, expect, test } from 'vitest';
import { Rng } from '../../../src/engine/random';
import { CAUSAL_RULE, PRTS_RULE, Role, mayAttend } from '../../../src/engine/roles';
import { TileClass, blockMapWords, buildBlockMap, denseBlockMap, denseMask, type BlockMap, type TileCsr } from '../../../src/engine/blockmap';
import { layoutOf, randomDocs } from './attention-fixtures';

/** Tile class from the dense mask over the padded grid (padding counts as disallowed). */
function classFromMask(mask: Uint8Array, n: number, tile: number, qt: number, kt: number): number {
  let allowed = 0;
  for (let i = qt * tile; i < (qt + 1) * tile; i++) {
    for (let j = kt * tile; j < (kt + 1) * tile; j++) if (i < n && j < n && mask[i * n + j]) allowed++;
  }
  return allowed === 0 ? TileClass.EMPTY : allowed === tile * tile ? TileClass.FULL : TileClass.PARTIAL;
}

function rowOf(csr: TileCsr, r: number): number[] {
  return Array.from(csr.indices.subarray(csr.offsets[r], csr.offsets[r + 1]));
}

function checkLists(bm: BlockMap): void {
  const T = bm.numTiles;
  for (let a = 0; a < T; a++) {
    for (const [cls, q, k] of [
      [TileClass.FULL, bm.byQuery.full, bm.byKey.full],
      [TileClass.PARTIAL, bm.byQuery.partial, bm.byKey.partial],
    ] as const) {
      const expQ: number[] = [];
      const expK: number[] = [];
      for (let b = 0; b < T; b++) {
        if (bm.classes[a * T + b] === cls) expQ.push(b);
        if (bm.classes[b * T + a] === cls) expK.push(b);
      }
      expect(rowOf(q, a)).toEqual(expQ);
      expect(rowOf(k, a)).toEqual(expK);
    }
  }
}

function allowedInOneDoc({ doc, role }: { doc: Int32Array; role: Uint8Array }): number {
  return denseMask(doc, role).reduce((s, x) => s + x, 0);
}

describe('block map', () => {
  test('the PRTS rule table matches DESIGN.md 3', () => {
    const V = Role.VISION_STATE, I = Role.INSTRUCTION, A = Role.AR_ACTION, CA = Role.CRL_ACTION, CG = Role.CRL_GOAL;
    const allowed = (q: number) => [V, I, A, CA, CG].filter((k) => PRTS_RULE[q][k]);
    expect(allowed(V)).toEqual([V, I, A]);
    expect(allowed(I)).toEqual([V, I, A]);
    expect(allowed(A)).toEqual([V, I, A]);
    expect(allowed(CA)).toEqual([V, CA]);
    expect(allowed(CG)).toEqual([CG]);
    expect(CAUSAL_RULE.every((row) => row.every(Boolean))).toBe(true);
  });

  test('tile classes match the dense mask exactly on random packed layouts', () => {
    const rng = new Rng(1234);
    let sawFull = 0;
    let sawPartial = 0;
    for (let trial = 0; trial < 40; trial++) {
      const { doc, role } = layoutOf(randomDocs(rng, 8, trial % 3 === 0 ? 0.3 : 1));
      const n = doc.length;
      const rule = trial % 4 === 3 ? CAUSAL_RULE : PRTS_RULE;
      const mask = denseMask(doc, role, rule);
      for (const tile of [32, 64]) {
        const bm = buildBlockMap(doc, role, { tile, rule });
        expect(bm.numTiles).toBe(Math.ceil(n / tile));
        for (let qt = 0; qt < bm.numTiles; qt++) {
          for (let kt = 0; kt < bm.numTiles; kt++) {
            const want = classFromMask(mask, n, tile, qt, kt);
            const got = bm.classes[qt * bm.numTiles + kt];
            if (got !== want) expect.fail(`n=${n} tile=${tile} pair (${qt}, ${kt}): class ${got}, dense mask says ${want}`);
          }
        }
        checkLists(bm);
        expect(bm.allowedPairs).toBe(mask.reduce((s, x) => s + x, 0));
        expect(bm.visitedFraction).toBeCloseTo((bm.fullTiles + bm.partialTiles) / bm.numTiles ** 2, 12);
        sawFull += bm.fullTiles;
        sawPartial += bm.partialTiles;
      }
    }
    // The layouts must exercise all three classes, or the comparison above proves little.
    expect(sawFull).toBeGreaterThan(20);
    expect(sawPartial).toBeGreaterThan(20);
  });

  test('the dense mask follows the element rule', () => {
    const rng = new Rng(7);
    const { doc, role } = layoutOf(randomDocs(rng, 3));
    const mask = denseMask(doc, role);
    const n = doc.length;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(mask[i * n + j]).toBe(mayAttend(PRTS_RULE, doc, role, i, j) ? 1 : 0);
  });

  test('the dense path visits every tile as PARTIAL', () => {
    const { doc, role } = layoutOf([{ vision: 40, instruction: 9, action: 7, crl: true }]);
    const bm = denseBlockMap(doc, role, { tile: 32 });
    expect(bm.dense).toBe(true);
    expect(bm.visitedFraction).toBe(1);
    expect(bm.fullTiles).toBe(0);
    checkLists(bm);
  });

  test('GPU words hold tokens and per-row lists with FULL tiles first', () => {
    const rng = new Rng(99);
    const { doc, role } = layoutOf(randomDocs(rng, 5));
    const bm = buildBlockMap(doc, role, { tile: 32 });
    const { words, layout } = blockMapWords(bm);
    expect(words.length).toBe(layout.words);
    for (let i = 0; i < bm.n; i++) expect(words[layout.tokens + i]).toBe(doc[i] * 8 + role[i]);
    for (const [lists, l] of [
      [bm.byQuery, layout.byQuery],
      [bm.byKey, layout.byKey],
    ] as const) {
      for (let r = 0; r < bm.numTiles; r++) {
        const start = words[l.offsets + r];
        const end = words[l.offsets + r + 1];
        const nf = words[l.fullCount + r];
        const row = Array.from(words.subarray(l.indices + start, l.indices + end));
        expect(row.slice(0, nf)).toEqual(rowOf(lists.full, r));
        expect(row.slice(nf)).toEqual(rowOf(lists.partial, r));
      }
    }
  });

  test('bad arguments are rejected with the argument named', () => {
    expect(() => buildBlockMap([], [])).toThrow(/doc is empty/);
    expect(() => buildBlockMap([0, 0], [0])).toThrow(/role has 1 entries/);
    expect(() => buildBlockMap([0], [5])).toThrow(/role\[0\] = 5/);
    expect(() => buildBlockMap([-1], [0])).toThrow(/doc\[0\] = -1/);
    expect(() => buildBlockMap([0], [0], { tile: 48 })).toThrow(/tile 48/);
  });

  test('a long packed batch stays sparse and its lists stay consistent', () => {
    const docs = Array.from({ length: 16 }, () => ({ vision: 300, instruction: 60, action: 60, crl: true }));
    const { doc, role } = layoutOf(docs);
    const bm = buildBlockMap(doc, role, { tile: 64 });
    expect(bm.n).toBe(docs.length * 542);
    // 16 documents of ~8.5 tiles each: only the block diagonal (and less) is visited.
    expect(bm.visitedFraction).toBeLessThan(0.1);
    expect(bm.allowedPairs).toBe(16 * allowedInOneDoc(layoutOf([docs[0]])));
    checkLists(bm);
  });
});
