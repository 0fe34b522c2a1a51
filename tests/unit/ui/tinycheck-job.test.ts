import { describe, expect, test } from 'vitest';
import { WorkbenchConfigSchema } from '../../../src/model/config';
import { validateBackboneConfig } from '../../../src/model/backbone';
import { tinyCheckConfigFrom } from '../../../worker/jobs/tinycheck';
import tiny from '../../../src/model/presets/tiny.json';
import small from '../../../src/model/presets/small.json';

describe('tinycheck job config', () => {
  test.each([['tiny', tiny], ['small', small]])('the %s preset maps to a valid backbone and keeps the training settings', (_, preset) => {
    const cfg = WorkbenchConfigSchema.parse(preset);
    const tc = tinyCheckConfigFrom({ config: cfg, checkpointEvery: 10 });
    expect(() => validateBackboneConfig({ ...tc.model.backbone, vocabSize: 100 })).not.toThrow();
    expect(tc.model.backbone.dModel).toBe(cfg.model.heads * cfg.model.headDim);
    expect(tc.model.tile).toBe(cfg.model.attnTile);
    expect(tc.steps).toBe(cfg.train.steps);
    expect(tc.lr).toBe(cfg.train.lr);
    expect(tc.model.gamma).toBe(cfg.train.gamma);
    expect(tc.model.lambdaCrl).toBe(cfg.train.lambdaCrl);
    expect(tc.warmup).toBeLessThanOrEqual(tc.steps);
  });
});
