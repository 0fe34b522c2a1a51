// Global gradient norm, stage 1: thread t of workgroup w writes the sum of squares of
// elements w * CHUNK + t + WG i (i < CHUNK / WG) of one gradient to
// partial[(base + w) * WG + t]. No workgroup memory and no barriers: the tree reduction
// this replaces cost ~1 ms a call on SwiftShader (one call per parameter), where a
// barrier suspends every thread; the partials are summed by adamw_clip.wgsl. Fixed
// chunks and a fixed summation order keep the norm deterministic.
override CHUNK: u32 = 2048u;
const WG: u32 = 64u;

struct P { n: u32, base: u32 }
@group(0) @binding(0) var<storage, read> g: array<f32>;
@group(0) @binding(1) var<storage, read_write> partial: array<f32>;
@group(0) @binding(2) var<uniform> p: P;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let start = wid.x * CHUNK;
  let end = min(start + CHUNK, p.n);
  var s = 0.0;
  for (var i = start + lid.x; i < end; i += WG) { let v = g[i]; s += v * v; }
  partial[(p.base + wid.x) * WG + lid.x] = s;
}
