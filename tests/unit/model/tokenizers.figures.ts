/**
 * Figures for docs/tokenizers.md: FAST round-trip error and compression on the synthetic
 * smooth-action dataset (./tokenizers.synthetic.ts), fitted on 160 episodes and measured on
 * them and on 40 held-out episodes; proprio round-trip error at 256 bins.
 *   npx tsx tests/unit/model/tokenizers.figures.ts
 */
import { FastTokenizer, ProprioTokenizer, quantileStatsOf } from '../../../src/model/tokenizers/index.ts';
import { chunksOf, SYN_DIM, syntheticEpisodes } from './tokenizers.synthetic.ts';

const episodes = syntheticEpisodes(2025, 200, 120);
const train = episodes.slice(0, 160);
const held = episodes.slice(160);
const round = (x: number, d = 4) => Number(x.toPrecision(d));
const rows: Record<string, unknown>[] = [];
for (const H of [8, 16]) {
  const trainChunks = chunksOf(train, H);
  const heldChunks = chunksOf(held, H);
  for (const scale of [5, 10, 20]) {
    const t0 = performance.now();
    const tok = FastTokenizer.fit(trainChunks, { horizon: H, actionDim: SYN_DIM, scale, vocabSize: 1024 });
    const fitMs = performance.now() - t0;
    for (const [split, chunks] of [['train', trainChunks], ['held-out', heldChunks]] as const) {
      const r = tok.roundTripError(chunks);
      rows.push({
        H, scale, split, chunks: r.chunks, fitMs: Math.round(fitMs), vocab: tok.vocabSize,
        tokensMean: round(r.meanTokens, 3), tokensMax: r.maxTokens, coeffs: H * SYN_DIM, compression: round(r.compressionRatio, 3),
        meanAbsNorm: round(r.meanAbsNorm), maxAbsNorm: round(r.maxAbsNorm), boundNorm: round(r.boundNorm),
        meanAbsAction: round(r.meanAbsAction), maxAbsAction: round(r.maxAbsAction),
        maxAbsActionTotal: round(r.maxAbsActionTotal), clipped: round(r.clippedFraction, 3),
      });
    }
  }
}
console.table(rows);
// Proprio: the synthetic actions stand in for a 7-D state.
const states = episodes.flatMap((e) => chunksOf([e], 1));
const prop = new ProprioTokenizer(quantileStatsOf(states, SYN_DIM), 256);
let maxErr = 0;
let maxHalf = 0;
for (const s of states) {
  const d = prop.decode(prop.encode(s)).state;
  for (let i = 0; i < SYN_DIM; i++) {
    const inRange = s[i] >= prop.q01[i] && s[i] <= prop.q99[i];
    if (inRange) maxErr = Math.max(maxErr, Math.abs(d[i] - s[i]) / (prop.q99[i] - prop.q01[i]));
  }
}
for (const h of prop.halfBinWidth()) maxHalf = Math.max(maxHalf, h);
console.log(JSON.stringify({ proprio: { bins: 256, maxAbsErrorOverRange: round(maxErr), halfBinOverRange: round(1 / 512) } }));
