// Mean over counted rows: loss = sum(w * nll) / sum(w), and 1 / sum(w) kept for the
// backward (0 when no row counts, so an all-ignored batch gives loss 0, not NaN).
// SUM: loss = sum(w * nll) and the backward's factor 1 (signed weights, e.g. the
// per-token coefficients of a policy-gradient surrogate, whose sum may be ~0).
// One workgroup; rows are few thousand at most per batch.
override SUM: bool = false;
struct P { rows: u32 }
@group(0) @binding(0) var<storage, read> rowLoss: array<vec2f>;
@group(0) @binding(1) var<storage, read_write> loss: array<f32>;
@group(0) @binding(2) var<storage, read_write> invCount: array<f32>;
@group(0) @binding(3) var<uniform> p: P;

var<workgroup> part: array<vec2f, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_id) lid: vec3u) {
  let t = lid.x;
  var s = vec2f(0.0);
  for (var i = t; i < p.rows; i += 256u) { s += rowLoss[i]; }
  part[t] = s;
  workgroupBarrier();
  for (var h = 128u; h > 0u; h = h / 2u) {
    if (t < h) { part[t] = part[t] + part[t + h]; }
    workgroupBarrier();
  }
  if (t == 0u) {
    let total = part[0];
    var inv = select(0.0, 1.0 / total.y, total.y != 0.0);
    if (SUM) { inv = 1.0; }
    loss[0] = total.x * inv;
    invCount[0] = inv;
  }
}
