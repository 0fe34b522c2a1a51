// Fused cross-entropy backward: dlogits[i, j] = g * w_i / sum(w) * (softmax_ij - [j == t_i]),
// with softmax recomputed from the saved logsumexp. Ignored rows get zeros.
override HAS_W: bool = false;

struct P { n: u32, V: u32 }
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> targets: array<i32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read> lse: array<f32>;
@group(0) @binding(4) var<storage, read> invCount: array<f32>;
@group(0) @binding(5) var<storage, read> g: array<f32>;
@group(0) @binding(6) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(7) var<uniform> p: P;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = id.x + id.y * nw.x * 256u;
  if (i >= p.n) { return; }
  let row = i / p.V;
  let j = i % p.V;
  let tgt = targets[row];
  var w = 0.0;
  if (tgt >= 0 && u32(tgt) < p.V) {
    w = 1.0;
    if (HAS_W) { w = weights[row]; }
  }
  let sm = exp(logits[i] - lse[row]);
  let onehot = select(0.0, 1.0, i32(j) == tgt);
  dlogits[i] = g[0] * w * invCount[0] * (sm - onehot);
}
