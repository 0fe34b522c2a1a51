// Shared by the attention kernels (prepended to each): tile and head-dim constants,
// the per-dispatch parameters and the element rule of DESIGN.md 3.
//
// Layout: Q, K, V, O, dO are [T, H, HEAD_DIM] row-major (token-major), read as vec4;
// row (t, h) starts at vec4 index (t * H + h) * HEAD_DIM / 4. Scores are kept in base 2
// (q pre-scaled by scale * log2(e)) so every exponential is one exp2.

override TILE: u32 = 64u;
override HEAD_DIM: u32 = 64u;

// Private arrays need creation-time sizes; overrides bound the loops over them.
const MAX_TILE: u32 = 64u;
const MAX_D4: u32 = 16u;
// Masked score. Finite so that exp2(NEG - m) is exactly 0 without inf - inf NaNs.
const NEG: f32 = -1.0e30;
const LOG2E: f32 = 1.4426950408889634;
const LN2: f32 = 0.6931471805599453;
// Stored as the logsumexp of rows that see no key: exp(s - NO_KEY_LSE) underflows to 0.
const NO_KEY_LSE: f32 = 1.0e30;

struct Params {
  n: u32,
  heads: u32,
  // bit (qRole * 5 + kRole) set when a query of qRole may attend a key of kRole
  rule: u32,
  // word offsets into the block-map buffer (see src/engine/blockmap.ts, GpuBlockMapLayout)
  tokens: u32,
  offsets: u32,
  fullCount: u32,
  indices: u32,
  scale: f32,
}

// Tokens are packed as doc << 3 | role.
fn mayAttend(rule: u32, n: u32, qTok: u32, kTok: u32, qi: u32, kj: u32) -> bool {
  let roleBit = (rule >> ((qTok & 7u) * 5u + (kTok & 7u))) & 1u;
  return kj <= qi && qi < n && (qTok >> 3u) == (kTok >> 3u) && roleBit == 1u;
}

fn rowBase(t: u32, h: u32, heads: u32) -> u32 {
  return (t * heads + h) * (HEAD_DIM / 4u);
}

// mayAttend for four (query, key) pairs at once, with no control flow: the direct kernels
// evaluate it next to many live registers, where the branches of a short-circuit && cost
// SwiftShader's compiler more than the arithmetic.
fn allowed4(rule: u32, n: u32, qTok: vec4u, kTok: vec4u, qi: vec4u, kj: vec4u) -> vec4<bool> {
  let roleBit = (vec4u(rule) >> ((qTok & vec4u(7u)) * 5u + (kTok & vec4u(7u)))) & vec4u(1u);
  return (kj <= qi) & (qi < vec4u(n)) & ((qTok >> vec4u(3u)) == (kTok >> vec4u(3u))) & (roleBit == vec4u(1u));
}
