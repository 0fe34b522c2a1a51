// Global gradient norm, stage 1: each workgroup writes the sum of squares of one chunk
// of CHUNK elements of a gradient to partial[base + workgroup]. Fixed chunks and a fixed
// tree order make the norm deterministic.
override CHUNK: u32 = 2048u;

struct P { n: u32, base: u32 }
@group(0) @binding(0) var<storage, read> g: array<f32>;
@group(0) @binding(1) var<storage, read_write> partial: array<f32>;
@group(0) @binding(2) var<uniform> p: P;

var<workgroup> part: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let t = lid.x;
  let start = wid.x * CHUNK;
  let end = min(start + CHUNK, p.n);
  var s = 0.0;
  for (var i = start + t; i < end; i += 256u) { let v = g[i]; s += v * v; }
  part[t] = s;
  workgroupBarrier();
  for (var h = 128u; h > 0u; h = h / 2u) {
    if (t < h) { part[t] = part[t] + part[t + h]; }
    workgroupBarrier();
  }
  if (t == 0u) { partial[p.base + wid.x] = part[0]; }
}
