// y = f(x) elementwise; f is chosen by the OP specialization constant (codes in
// src/engine/ops/elementwise.ts), so each op compiles to its own branch-free pipeline.
override OP: u32 = 0u;

struct P { n: u32, s: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: P;

const SQRT_2_OVER_PI = 0.7978845608028654;
const GELU_C = 0.044715;

fn sigmoid(v: f32) -> f32 {
  // Split by sign so exp never overflows for large |v|.
  if (v >= 0.0) { return 1.0 / (1.0 + exp(-v)); }
  let e = exp(v);
  return e / (1.0 + e);
}

// tanh(v) through exp(-2|v|), which cannot overflow (WGSL's tanh may be an approximation
// that returns NaN for large |v| on some drivers).
fn stableTanh(v: f32) -> f32 {
  let e = exp(-2.0 * abs(v));
  return sign(v) * (1.0 - e) / (1.0 + e);
}

fn f(v: f32) -> f32 {
  switch OP {
    case 0u: { return -v; }
    case 1u: { return exp(v); }
    case 2u: { return log(v); }
    case 3u: { return sqrt(v); }
    case 4u: { return stableTanh(v); }
    case 5u: { return sigmoid(v); }
    case 6u: { return max(v, 0.0); }
    case 7u: { return 0.5 * v * (1.0 + stableTanh(SQRT_2_OVER_PI * (v + GELU_C * v * v * v))); }
    case 8u: { return v * sigmoid(v); }
    case 9u: { return p.s * v; }
    case 10u: { return v + p.s; }
    case 11u: { return v * v; }
    default: { return v; }
  }
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = id.x + id.y * nw.x * 256u;
  if (i < p.n) { y[i] = f(x[i]); }
}
