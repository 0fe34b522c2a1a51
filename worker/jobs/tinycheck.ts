/**
 * The engine's end-to-end check (src/train/tinycheck.ts) as a worker job: the model
 * sizes and optimiser settings come from the Model tab's config, the synthetic task
 * stays fixed so the pass thresholds keep their meaning.
 */
import type { JobParams } from '../protocol.ts';
import type { JobContext } from '../runner.ts';
import { DEFAULT_TINY_CHECK, runTinyCheck, type TinyCheckConfig } from '../../src/train/tinycheck.ts';
import { runtime } from './gpu.ts';

export function tinyCheckConfigFrom(p: JobParams['tinycheck']): TinyCheckConfig {
  const { model: m, train: t } = p.config;
  return {
    ...DEFAULT_TINY_CHECK,
    model: {
      backbone: {
        ...DEFAULT_TINY_CHECK.model.backbone,
        dModel: m.heads * m.headDim,
        layers: m.layers,
        heads: m.heads,
        headDim: m.headDim,
        mlpHidden: Math.round(m.mlpRatio * m.heads * m.headDim),
      },
      crl: { hidden: m.crlHidden, embedDim: m.crlDim, temperatureInit: t.temperatureInit, maxScale: t.maxScale },
      gamma: t.gamma,
      lambdaCrl: t.lambdaCrl,
      tile: m.attnTile,
      seed: t.seed,
    },
    steps: t.steps,
    lr: t.lr,
    warmup: Math.min(t.warmupSteps, t.steps),
    weightDecay: t.weightDecay,
    clipNorm: t.gradClip,
  };
}

export async function tinycheckJob(p: JobParams['tinycheck'], ctx: JobContext) {
  const rt = await runtime();
  const cfg = tinyCheckConfigFrom(p);
  ctx.log(`tiny check: ${cfg.model.backbone.layers} layers, d_model ${cfg.model.backbone.dModel}, ${cfg.steps} steps on ${rt.info.vendor} ${rt.info.architecture}`);
  const result = await runTinyCheck(rt, cfg, {
    async onStep(s) {
      ctx.progress({
        step: s.step + 1,
        total: cfg.steps,
        losses: { total: s.total, bc: s.bc, 'sa->l': s.saL, 'l->sa': s.lSa, 'l->sa floor': s.lSaFloor, temperature: s.temperature },
        items: s.tokens,
      });
      await ctx.checkpoint();
    },
    checkpointEvery: p.checkpointEvery,
    onCheckpoint(step, params) {
      ctx.saveCheckpoint(step, params, { job: 'tinycheck', config: JSON.stringify(p.config) });
    },
  });
  ctx.log(`tiny check ${result.passed ? 'passed' : 'did not reach its thresholds'}: bc ${result.final.bc.toFixed(3)}, sa->l ${result.final.saL.toFixed(3)}, l->sa gap ${result.final.lSaGap.toFixed(3)}`);
  return { passed: result.passed, final: result.final, thresholds: result.thresholds, params: result.params, tokensPerSecond: result.tokensPerSecond };
}
