/**
 * The public engine API: runtime, tensors, autograd, differentiable ops, optimizer and
 * initialisation. Model and training code import from here, not from the files.
 */
export { acquireDevice, WebGPUUnavailableError, type AcquireOptions, type AcquiredDevice, type DeviceInfo } from './device';
export { Runtime, DeviceLostError, KernelError, type DispatchSpec, type KernelProfile } from './runtime';
export { Tensor, Scope, tidy, fromArray, parameter, numel, shapeStr, type DType } from './tensor';
export { backward, record, noGrad, zeroGrad, isGradEnabled, grid1d } from './autograd';
export { Rng } from './random';

export { matmul, linear, matmulTiles, type MatmulOptions, type MatmulTile } from './ops/matmul';
export {
  add,
  sub,
  mul,
  div,
  neg,
  exp,
  log,
  sqrt,
  tanh,
  sigmoid,
  relu,
  gelu,
  silu,
  square,
  scale,
  addScalar,
  swiglu,
  broadcastShape,
} from './ops/elementwise';
export { sum, mean, max, softmax, logsumexp, sumTo } from './ops/reduce';
export { transpose, swap01, splitHeads, mergeHeads, concat, slice, split } from './ops/layout';
export { embedding, gatherRows, RowIndex } from './ops/embedding';
export { rmsnorm, layernorm, l2normalize } from './ops/norm';
export { rope, type RopeOptions } from './ops/rope';
export { crossEntropy, type CrossEntropyOptions } from './ops/xent';
export { AdamW, decayGroups, type AdamWOptions, type AdamWState, type ParamGroup } from './optim';
export { initArray, initParameter, normalArray, uniformArray, fans, type Init } from './init';

export { attention, attentionForward, attentionBackward, SUPPORTED_HEAD_DIMS, type AttentionForwardResult } from './ops/attention';
export { decodeAttention, writeKv } from './ops/decode';
export {
  buildBlockMap,
  denseBlockMap,
  denseMask,
  uploadBlockMap,
  TileClass,
  SUPPORTED_TILES,
  type BlockMap,
  type BlockMapOptions,
  type GpuBlockMap,
} from './blockmap';
export { Role, ROLE_COUNT, ROLE_NAMES, PRTS_RULE, CAUSAL_RULE, mayAttend, type MaskRule } from './roles';
export {
  infoNCE,
  uniqueGoals,
  readInfoNCEDiagnostics,
  INFONCE_DIAGNOSTICS,
  type InfoNCEOptions,
  type InfoNCEOutput,
  type InfoNCEDiagnostics,
} from './ops/infonce';
