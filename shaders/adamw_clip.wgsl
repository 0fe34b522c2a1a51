// Global gradient norm, stage 2: sums the partial sums of squares and writes
// clip = (norm, scale) with scale = min(1, maxNorm / (norm + 1e-6)), or 1 when clipping
// is off (maxNorm <= 0). The update kernel reads the scale from this buffer, so the
// clip is applied without a round trip to the CPU.
struct P { count: u32, maxNorm: f32 }
@group(0) @binding(0) var<storage, read> partial: array<f32>;
@group(0) @binding(1) var<storage, read_write> clip: array<f32>;
@group(0) @binding(2) var<uniform> p: P;

var<workgroup> part: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_id) lid: vec3u) {
  let t = lid.x;
  var s = 0.0;
  for (var i = t; i < p.count; i += 256u) { s += partial[i]; }
  part[t] = s;
  workgroupBarrier();
  for (var h = 128u; h > 0u; h = h / 2u) {
    if (t < h) { part[t] = part[t] + part[t + h]; }
    workgroupBarrier();
  }
  if (t == 0u) {
    let norm = sqrt(part[0]);
    var scale = 1.0;
    if (p.maxNorm > 0.0) { scale = min(1.0, p.maxNorm / (norm + 1e-6)); }
    clip[0] = norm;
    clip[1] = scale;
  }
}
