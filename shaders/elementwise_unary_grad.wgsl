// dx = g * f'(x) for the unary ops of elementwise_unary.wgsl (same OP codes); the
// derivative is recomputed from x so the forward output need not be kept.
override OP: u32 = 0u;

struct P { n: u32, s: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> p: P;

const SQRT_2_OVER_PI = 0.7978845608028654;
const GELU_C = 0.044715;

fn sigmoid(v: f32) -> f32 {
  if (v >= 0.0) { return 1.0 / (1.0 + exp(-v)); }
  let e = exp(v);
  return e / (1.0 + e);
}

fn stableTanh(v: f32) -> f32 {
  let e = exp(-2.0 * abs(v));
  return sign(v) * (1.0 - e) / (1.0 + e);
}

fn df(v: f32) -> f32 {
  switch OP {
    case 0u: { return -1.0; }
    case 1u: { return exp(v); }
    case 2u: { return 1.0 / v; }
    case 3u: { return 0.5 / sqrt(v); }
    case 4u: { let t = stableTanh(v); return 1.0 - t * t; }
    case 5u: { let s = sigmoid(v); return s * (1.0 - s); }
    case 6u: { return select(0.0, 1.0, v > 0.0); }
    case 7u: {
      let u = SQRT_2_OVER_PI * (v + GELU_C * v * v * v);
      let t = stableTanh(u);
      return 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_C * v * v);
    }
    case 8u: { let s = sigmoid(v); return s * (1.0 + v * (1.0 - s)); }
    case 9u: { return p.s; }
    case 10u: { return 1.0; }
    case 11u: { return 2.0 * v; }
    default: { return 1.0; }
  }
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = id.x + id.y * nw.x * 256u;
  if (i < p.n) { dx[i] = g[i] * df(x[i]); }
}
