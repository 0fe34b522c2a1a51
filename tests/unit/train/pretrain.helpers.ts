/**
 * A tiny pre-training setup on the batch-builder fixture (tests/unit/model/batch.dataset.ts:
 * 4 tasks, 4x4 camera, H = 4, 3-D actions, 4-D state). Sizes are chosen for SwiftShader:
 * one layer, d = 32, 9 samples (3 tasks x 3) of ~50 tokens, so a step is well under a
 * second on a loaded 2-core CPU.
 */
import type { WorkbenchConfig } from '../../../src/model/config.ts';

export function tinyConfig(over: Partial<WorkbenchConfig['train']> = {}): WorkbenchConfig {
  return {
    name: 'test-tiny',
    model: {
      textVocab: 256,
      actionVocab: 64,
      dModel: 32,
      layers: 1,
      heads: 1,
      headDim: 32,
      mlpRatio: 2,
      patchSize: 2,
      imageSize: 4,
      cameras: ['agentview'],
      stateDim: 4,
      stateDigits: 1,
      instructionTokens: 16,
      chunkLength: 4,
      actionDim: 3,
      fastScale: 10,
      fastTokens: 16,
      crlHidden: 32,
      crlDim: 16,
      attnTile: 32,
    },
    train: {
      batchSize: 9,
      samplesPerTask: 3,
      lr: 1e-2,
      warmupSteps: 2,
      steps: 20,
      weightDecay: 0.01,
      gradClip: 1,
      gamma: 0.9,
      lambdaCrl: 1,
      temperatureInit: 0.2,
      maxScale: 100,
      seed: 3,
      ...over,
    },
  };
}
