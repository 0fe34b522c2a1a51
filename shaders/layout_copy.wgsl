// Strided block copy between [outer, row] views, the building block of concat and slice:
// for every outer index and destination column j in [c0, c0 + cw), writes
// src[o, srcOff + j - dstOff] when j - dstOff lies in [0, w), and 0 otherwise. Copying a
// block sets c0 = dstOff, cw = w; zero-padding a block into a full row sets c0 = 0, cw = row.
struct P { n: u32, cw: u32, c0: u32, w: u32, srcRow: u32, srcOff: u32, dstRow: u32, dstOff: u32 }
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: P;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = id.x + id.y * nw.x * 256u;
  if (i >= p.n) { return; }
  let o = i / p.cw;
  let j = p.c0 + i % p.cw;
  var v = 0.0;
  if (j >= p.dstOff && j - p.dstOff < p.w) { v = src[o * p.srcRow + p.srcOff + j - p.dstOff]; }
  dst[o * p.dstRow + j] = v;
}
