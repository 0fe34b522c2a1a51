// KV-cache write (inference only): token t of K, V [T, H, D] goes to cache slot slot[t]
// of the caches [C * L, H, D] (slot = cache row * L + position in the row); slot -1
// skips the token (row padding). Slots are built and validated on the CPU. One
// invocation per vec4 of K (and the same vec4 of V).

struct P { count: u32, rowVec4: u32 }   // T * H * D / 4, H * D / 4
@group(0) @binding(0) var<storage, read> k: array<vec4f>;
@group(0) @binding(1) var<storage, read> v: array<vec4f>;
@group(0) @binding(2) var<storage, read> slot: array<i32>;
@group(0) @binding(3) var<storage, read_write> kc: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> vc: array<vec4f>;
@group(0) @binding(5) var<uniform> p: P;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let e = id.x + id.y * nw.x * 256u;
  if (e >= p.count) { return; }
  let s = slot[e / p.rowVec4];
  if (s < 0) { return; }
  let dst = u32(s) * p.rowVec4 + e % p.rowVec4;
  kc[dst] = k[e];
  vc[dst] = v[e];
}
