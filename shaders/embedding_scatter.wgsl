// Scatter-add backward of a row gather without float atomics: the CPU built, once per
// batch, a CSR over table rows (offsets[v]..offsets[v+1] index `positions`, the output
// rows that gathered row v). One thread per (row v, column d) sums those gradient rows
// in a fixed order, so the result is deterministic, and unused rows get exact zeros.
struct P { n: u32, D: u32 }
@group(0) @binding(0) var<storage, read> g: array<f32>;
@group(0) @binding(1) var<storage, read> offsets: array<u32>;
@group(0) @binding(2) var<storage, read> positions: array<u32>;
@group(0) @binding(3) var<storage, read_write> dtable: array<f32>;
@group(0) @binding(4) var<uniform> p: P;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = id.x + id.y * nw.x * 256u;
  if (i >= p.n) { return; }
  let v = i / p.D;
  let d = i % p.D;
  var s = 0.0;
  for (var k = offsets[v]; k < offsets[v + 1u]; k++) { s += g[positions[k] * p.D + d]; }
  dtable[i] = s;
}
