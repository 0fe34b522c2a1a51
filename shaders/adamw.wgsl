// AdamW update of one parameter (Loshchilov & Hutter, as torch.optim.AdamW):
//   g' = g * clipScale
//   m = b1 m + (1 - b1) g',  v = b2 v + (1 - b2) g'^2
//   p = p (1 - lr wd) - lr (m / bc1) / (sqrt(v / bc2) + eps)
// with bias corrections bc1 = 1 - b1^t, bc2 = 1 - b2^t computed on the CPU per step.
struct P { n: u32, lr: f32, b1: f32, b2: f32, eps: f32, wd: f32, bc1: f32, bc2: f32 }
@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read> clip: array<f32>;   // (norm, scale)
@group(0) @binding(5) var<uniform> p: P;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = id.x + id.y * nw.x * 256u;
  if (i >= p.n) { return; }
  let g = grad[i] * clip[1];
  let mi = p.b1 * m[i] + (1.0 - p.b1) * g;
  let vi = p.b2 * v[i] + (1.0 - p.b2) * g * g;
  m[i] = mi;
  v[i] = vi;
  let update = (mi / p.bc1) / (sqrt(vi / p.bc2) + p.eps);
  param[i] = param[i] * (1.0 - p.lr * p.wd) - p.lr * update;
}
