// out[p, b, a, c] = x[p, a, b, c]: swaps the two middle axes of a 4-D view. With C = 1
// this is a batched transpose of the last two dims; with P = 1 it is [T, H, D] <-> [H, T, D].
struct P { n: u32, A: u32, B: u32, C: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: P;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = id.x + id.y * nw.x * 256u;
  if (i >= p.n) { return; }
  // i indexes the output [P, B, A, C] so writes are contiguous.
  let c = i % p.C;
  var r = i / p.C;
  let a = r % p.A;
  r = r / p.A;
  let b = r % p.B;
  let q = r / p.B;
  out[i] = x[((q * p.A + a) * p.B + b) * p.C + c];
}
