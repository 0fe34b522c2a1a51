// Shared by the cross-entropy forward kernels (prepended): bindings and the per-row
// result. A row counts (w = weight or 1) only when 0 <= target < V; an out-of-range
// target (-1 by convention) gives w = 0. Without a weight vector the TS side binds
// `targets` in its place, and HAS_W = false never reads it.
override HAS_W: bool = false;

struct P { rows: u32, V: u32 }
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> targets: array<i32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read_write> lse: array<f32>;
@group(0) @binding(4) var<storage, read_write> rowLoss: array<vec2f>;   // (w * nll, w)
@group(0) @binding(5) var<uniform> p: P;

// Stores the row's logsumexp l (kept for the backward), its weighted loss and weight.
fn writeRow(row: u32, l: f32) {
  lse[row] = l;
  let tgt = targets[row];
  var w = 0.0;
  var nll = 0.0;
  if (tgt >= 0 && u32(tgt) < p.V) {
    w = 1.0;
    if (HAS_W) { w = weights[row]; }
    nll = l - logits[row * p.V + u32(tgt)];
  }
  rowLoss[row] = vec2f(w * nll, w);
}
