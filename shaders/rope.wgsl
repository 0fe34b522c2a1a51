// Rotary position embedding, rotate-half convention, on [N tokens, H, D] with an
// explicit integer position per token (positions restart inside packed documents).
// Pair (i, i + D/2) of every head is rotated by theta = pos * base^(-2i/D). The
// backward is the inverse rotation (INVERSE = true negates the angle).
//
// cos/sin come from a table computed in float64 on the CPU: Vulkan allows GPU sin/cos
// an absolute error of 2^-11, which is visible in attention logits. Positions past the
// table fall back to the GPU functions rather than failing.
override INVERSE: bool = false;

struct P { pairs: u32, H: u32, D: u32, log2Base: f32, tableLen: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> pos: array<i32>;
@group(0) @binding(2) var<storage, read> table: array<vec2f>;   // [tableLen, D/2] of (cos, sin)
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> p: P;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let k = id.x + id.y * nw.x * 256u;
  if (k >= p.pairs) { return; }
  let half = p.D / 2u;
  let i = k % half;
  let row = k / half;            // token * H + head
  let position = pos[row / p.H];
  var cs: vec2f;
  if (position >= 0 && u32(position) < p.tableLen) {
    cs = table[u32(position) * half + i];
  } else {
    let theta = f32(position) * exp2(-f32(2u * i) / f32(p.D) * p.log2Base);
    cs = vec2f(cos(theta), sin(theta));
  }
  if (INVERSE) { cs.y = -cs.y; }
  let o = row * p.D + i;
  let x1 = x[o];
  let x2 = x[o + half];
  y[o] = x1 * cs.x - x2 * cs.y;
  y[o + half] = x2 * cs.x + x1 * cs.y;
}
