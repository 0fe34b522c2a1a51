// SwiGLU forward: o = silu(a) * b. V is f32 or vec4f (ops/elementwise.ts prepends the
// alias): vec4 accesses when the size is a multiple of 4, which on SwiftShader costs
// about half as much per element as scalar ones.
struct P { n: u32 }   // in V elements
@group(0) @binding(0) var<storage, read> a: array<V>;
@group(0) @binding(1) var<storage, read> b: array<V>;
@group(0) @binding(2) var<storage, read_write> o: array<V>;
@group(0) @binding(3) var<uniform> p: P;

// exp(-v) overflows to inf for v < -88 and 1 / (1 + inf) is the correct limit 0, so
// there is no need for a sign branch (which would evaluate both sides per lane).
fn sigmoid(v: V) -> V {
  return 1.0 / (1.0 + exp(-v));
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = id.x + id.y * nw.x * 64u;
  if (i < p.n) {
    let v = a[i];
    o[i] = v * sigmoid(v) * b[i];
  }
}
