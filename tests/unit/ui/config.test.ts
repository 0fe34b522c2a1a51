import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  configToJson,
  memoryEstimate,
  paramCount,
  parseConfigJson,
  PRESET_NAMES,
  PRESETS,
  sequenceLayout,
  validateConfig,
  type WorkbenchConfig,
} from '../../../src/model/config.ts';
import { ALL_FIELDS, parseInput } from '../../../src/ui/tabs/model/fields.ts';
import { getPath, setPath } from '../../../src/ui/stores/config.ts';

const tiny = (): WorkbenchConfig => JSON.parse(JSON.stringify(PRESETS.tiny)) as WorkbenchConfig;
const errorsOf = (v: unknown) => {
  const r = validateConfig(v);
  if (r.ok) throw new Error('expected validation errors');
  return r.errors;
};

describe('config schema', () => {
  test('every preset is valid and presets grow', () => {
    for (const n of PRESET_NAMES) expect(validateConfig(PRESETS[n]).ok).toBe(true);
    expect(paramCount(PRESETS.tiny.model).total).toBeLessThan(paramCount(PRESETS.small.model).total);
    expect(paramCount(PRESETS.small.model).total).toBeLessThan(paramCount(PRESETS.base.model).total);
  });

  test.each([
    ['model.dModel', -4, /d_model must be at least 1/],
    ['model.layers', 2.5, /layers must be a whole number/],
    ['model.headDim', 48, /head_dim must be 32 or 64/],
    ['model.attnTile', 16, /attention tile must be 32 or 64/],
    ['model.mlpRatio', 'four', /mlp ratio must be a number/],
    ['train.gamma', 1.2, /gamma must be in \(0, 1\]/],
    ['train.lr', 0, /learning rate must be positive/],
    ['train.seed', -1, /seed must be >= 0/],
    ['model.cameras', [], /at least one camera/],
    ['name', '  ', /name must not be empty/],
  ])('%s = %j is reported on that field', (path, value, msg) => {
    const errs = errorsOf(setPath(tiny() as never, path, value));
    const e = errs.find((x) => x.path === path);
    expect(e, JSON.stringify(errs)).toBeDefined();
    expect(e!.message).toMatch(msg);
  });

  test('cross-field rules point at the field to change', () => {
    const c = tiny();
    c.model.heads = 3;
    expect(errorsOf(c)).toEqual([{ path: 'model.heads', message: 'heads x head_dim must equal d_model (3 x 32 = 96, d_model = 128)' }]);
    const d = tiny();
    d.model.patchSize = 10;
    expect(errorsOf(d)[0]).toMatchObject({ path: 'model.patchSize' });
    const w = tiny();
    w.train.warmupSteps = w.train.steps + 1;
    expect(errorsOf(w)[0]).toMatchObject({ path: 'train.warmupSteps' });
    const cam = tiny();
    cam.model.cameras = ['agentview', 'agentview'];
    expect(errorsOf(cam)[0]).toMatchObject({ path: 'model.cameras', message: 'camera names must be unique' });
    const bad = tiny();
    bad.model.cameras = ['Agent View'];
    expect(errorsOf(bad)[0].path).toBe('model.cameras.0');
    const g = tiny();
    g.train.lambdaGrounding = 0.5;
    expect(errorsOf(g)).toEqual([{ path: 'train.lambdaGrounding', message: 'lambda grounding is 0.5 but model.groundingClasses is 0: the model has no grounding head to train' }]);
    g.model.groundingClasses = 1;
    expect(errorsOf(g)).toEqual([{ path: 'model.groundingClasses', message: 'grounding classes must be 0 (no head) or at least 2' }]);
    g.model.groundingClasses = 6;
    expect(validateConfig(g).ok).toBe(true);
    g.train.lambdaGrounding = -1;
    expect(errorsOf(g)[0]).toMatchObject({ path: 'train.lambdaGrounding', message: 'lambda grounding must be >= 0' });
  });

  test('the experiment configs under docs/configs (results.md reproduces with them) stay valid', () => {
    const dir = join(__dirname, '../../../docs/configs');
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(parseConfigJson(readFileSync(join(dir, f), 'utf8')), f).toMatchObject({ ok: true });
  });

  test('misspelt and missing keys are named', () => {
    const c = tiny() as unknown as Record<string, Record<string, unknown>>;
    c.model.dmodel = 128;
    delete c.train.gamma;
    const errs = errorsOf(c);
    expect(errs.map((e) => e.path).sort()).toEqual(['model.dmodel', 'train.gamma']);
  });

  test('JSON export and import round-trip; bad JSON is a (root) error', () => {
    const c = PRESETS.small;
    const back = parseConfigJson(configToJson(c));
    expect(back).toEqual({ ok: true, value: c });
    const r = parseConfigJson('{"name": ');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0].path).toBe('(root)');
  });

  test('training defaults follow the PRTS code', () => {
    for (const n of PRESET_NAMES) {
      // The cpu preset's reach episodes are ~18 steps, so it discounts faster (gamma^18 = 0.4 at 0.95).
      expect(PRESETS[n].train.gamma).toBe(n === 'cpu' ? 0.95 : 0.99);
      expect(PRESETS[n].train.temperatureInit).toBe(0.2);
      expect(PRESETS[n].train.maxScale).toBe(100);
    }
  });
});

describe('size estimates', () => {
  test('parameter count of the tiny preset, term by term', () => {
    const m = PRESETS.tiny.model; // d=128, L=2, ratio 4, vocab 2048 + 1024, patch 16, 1 camera, CRL 256 -> 64
    const p = paramCount(m);
    const vocab = 8 + 2048 + 10 ** m.stateDigits + 1024; // specials + text + state bins + FAST
    expect(p.embeddings).toBe(vocab * 128);
    expect(p.patchEmbed).toBe((16 * 16 * 3 + 1) * 128); // pixels + camera one-hot, no bias
    expect(p.blocks).toBe(2 * (4 * 128 * 128 + 3 * 128 * 512 + 2 * 128));
    expect(p.lmHead).toBe(128 * vocab);
    expect(p.crlHeads).toBe(2 * (128 * 256 + 256 + 256 * 64) + 1);
    expect(p.total).toBe(p.embeddings + p.patchEmbed + p.blocks + 128 + p.lmHead + p.crlHeads);
  });

  test('sequence layout follows the PRTS document', () => {
    const s = sequenceLayout(PRESETS.tiny.model);
    expect(s).toEqual({ visionTokens: 16, stateTokens: 8, instructionTokens: 24, arActionTokens: 26, crlActionTokens: 25, crlGoalTokens: 25, total: 124 });
  });

  test('memory is weights + grads + 2 Adam moments + activations, and grows with batch', () => {
    const c = tiny();
    const m = memoryEstimate(c);
    const p = paramCount(c.model).total;
    expect(m.weights).toBe(4 * p);
    expect(m.optimizer).toBe(8 * p);
    expect(m.total).toBe(m.weights + m.grads + m.optimizer + m.activations);
    c.train.batchSize *= 2;
    const m2 = memoryEstimate(c);
    expect(m2.activations).toBeCloseTo(2 * m.activations, 6);
    expect(m2.weights).toBe(m.weights);
  });
});

describe('config editor helpers', () => {
  test('every editor field exists in the tiny preset, unless it is optional', () => {
    for (const f of ALL_FIELDS) if (!f.optional) expect(getPath(PRESETS.tiny, f.path), f.path).not.toBeUndefined();
  });

  test('typed text keeps invalid numbers as text so the error names the field', () => {
    expect(parseInput('int', '64')).toBe(64);
    expect(parseInput('number', '1e-4')).toBe(1e-4);
    expect(parseInput('int', '6x')).toBe('6x');
    expect(parseInput('list', 'agentview, wrist ,')).toEqual(['agentview', 'wrist']);
    const errs = errorsOf(setPath(tiny() as never, 'model.layers', parseInput('int', '6x')));
    expect(errs).toEqual([{ path: 'model.layers', message: 'layers must be a number' }]);
  });

  test('setPath copies and leaves the input untouched', () => {
    const a = { model: { layers: 2 } };
    const b = setPath(a, 'model.layers', 3);
    expect(a.model.layers).toBe(2);
    expect(getPath(b, 'model.layers')).toBe(3);
  });
});
