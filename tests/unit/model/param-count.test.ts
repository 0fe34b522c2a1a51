/**
 * The Model tab's parameter estimate (src/model/config.ts paramCount) must be the
 * model src/model actually builds: counted here from a real PrtsModel's ParamStore.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Runtime } from '../../../src/engine/runtime';
import { maxVocabSize, paramCount, PRESETS, proprioBins, sequenceLayout, type WorkbenchConfig } from '../../../src/model/config';
import { PrtsModel } from '../../../src/model/prts';
import { prtsConfigOf } from '../../../src/train/pretrain';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt?.destroy());

function builtCount(cfg: WorkbenchConfig, vocab: number): { total: number; byPrefix: Map<string, number> } {
  const model = new PrtsModel(rt, prtsConfigOf(cfg, vocab));
  try {
    const byPrefix = new Map<string, number>();
    let total = 0;
    for (const [name, t] of model.store.tensors) {
      const n = t.shape.reduce((a, b) => a * b, 1);
      total += n;
      const key = name.split('.').slice(0, 2).join('.');
      byPrefix.set(key, (byPrefix.get(key) ?? 0) + n);
    }
    return { total, byPrefix };
  } finally {
    model.store.dispose();
  }
}

test('paramCount equals the parameters of the built model, for odd sizes and several cameras', () => {
  const base = structuredClone(PRESETS.tiny);
  const variants: WorkbenchConfig[] = [
    base,
    { ...base, model: { ...base.model, dModel: 96, heads: 3, headDim: 32, layers: 3, mlpRatio: 2.5, cameras: ['agentview', 'wrist'], imageSize: 24, patchSize: 8, crlHidden: 40, crlDim: 12 } },
    // A position embedding per patch: 9 more stem rows at 24 px / patch 8.
    { ...base, model: { ...base.model, cameras: ['agentview', 'wrist'], imageSize: 24, patchSize: 8, patchPositions: true } },
    // The grounding head: (d + 1) x classes.
    { ...base, model: { ...base.model, groundingClasses: 7 } },
  ];
  for (const cfg of variants) {
    for (const vocab of [maxVocabSize(cfg.model), 301]) {
      const built = builtCount(cfg, vocab);
      const est = paramCount(cfg.model, vocab);
      expect(est.total).toBe(built.total);
      expect(est.embeddings).toBe(built.byPrefix.get('backbone.embed'));
      expect(est.patchEmbed).toBe(built.byPrefix.get('backbone.patch_stem'));
      expect(est.lmHead).toBe(built.byPrefix.get('lm_head.w'));
      expect(est.crlHeads).toBe((built.byPrefix.get('crl.phi') ?? 0) + (built.byPrefix.get('crl.psi') ?? 0) + (built.byPrefix.get('crl.log_scale') ?? 0));
      expect(est.groundingHead).toBe((built.byPrefix.get('grounding.w') ?? 0) + (built.byPrefix.get('grounding.b') ?? 0));
    }
  }
});

test('one state token per dimension, with 10^digits bins capped at 65536', () => {
  const m = PRESETS.tiny.model;
  expect(sequenceLayout({ ...m, stateDim: 9, stateDigits: 3 }).stateTokens).toBe(9);
  expect(proprioBins({ stateDigits: 2 })).toBe(100);
  expect(proprioBins({ stateDigits: 8 })).toBe(65_536);
  expect(maxVocabSize({ ...m, stateDigits: 2 })).toBe(maxVocabSize({ ...m, stateDigits: 3 }) - 900);
});
