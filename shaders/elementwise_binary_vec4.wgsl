// o = a (op) b over vec4s, for the two layouts that dominate training (ops/elementwise.ts
// picks it): same shape (residual adds, products) and a [C] row broadcast over [R, C]
// (bias adds), with C a multiple of 4. The general kernel (elementwise_binary.wgsl)
// walks up to 8 broadcast dimensions per element with integer divisions and reads its
// shape from the uniform at run-time indices; on SwiftShader that cost ~150-240 ns per
// element, ~6x a plain copy, and vec4 accesses halve a copy's cost again.
// OP and applyOp: elementwise_binary_op.wgsl.
override ROW_A: bool = false; // a is one row of p.row vec4s, repeated
override ROW_B: bool = false;

struct P { n: u32, row: u32 }   // both in vec4s
@group(0) @binding(0) var<storage, read> a: array<vec4f>;
@group(0) @binding(1) var<storage, read> b: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> o: array<vec4f>;
@group(0) @binding(3) var<uniform> p: P;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = id.x + id.y * nw.x * 64u;
  if (i >= p.n) { return; }
  var ia = i;
  var ib = i;
  if (ROW_A) { ia = i % p.row; }
  if (ROW_B) { ib = i % p.row; }
  o[i] = applyOp(a[ia], b[ib]);
}
