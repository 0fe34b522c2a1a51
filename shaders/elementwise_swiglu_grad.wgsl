// SwiGLU backward in one pass: da = g * b * silu'(a), db = g * silu(a). V is f32 or
// vec4f as in elementwise_swiglu.wgsl.
struct P { n: u32 }   // in V elements
@group(0) @binding(0) var<storage, read> a: array<V>;
@group(0) @binding(1) var<storage, read> b: array<V>;
@group(0) @binding(2) var<storage, read> g: array<V>;
@group(0) @binding(3) var<storage, read_write> da: array<V>;
@group(0) @binding(4) var<storage, read_write> db: array<V>;
@group(0) @binding(5) var<uniform> p: P;

fn sigmoid(v: V) -> V {
  return 1.0 / (1.0 + exp(-v));
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = id.x + id.y * nw.x * 64u;
  if (i < p.n) {
    let v = a[i];
    let s = sigmoid(v);
    let gi = g[i];
    da[i] = gi * b[i] * s * (1.0 + v * (1.0 - s));
    db[i] = gi * v * s;
  }
}
