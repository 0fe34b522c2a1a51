// o = a (op) b with numpy broadcasting. The TS side merges adjacent dimensions that
// broadcast alike, so same-shape operands arrive as rank 1 and a bias add as rank 2;
// a broadcast operand has stride 0 along the dimensions it lacks.
// OP and applyOp: elementwise_binary_op.wgsl.

struct P {
  n: u32, rank: u32,
  shape: array<vec4u, 2>,     // output dims, up to 8
  strideA: array<vec4u, 2>,
  strideB: array<vec4u, 2>,
}
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> o: array<f32>;
@group(0) @binding(3) var<uniform> p: P;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = id.x + id.y * nw.x * 256u;
  if (i >= p.n) { return; }
  var rest = i;
  var ia = 0u;
  var ib = 0u;
  for (var k = p.rank; k > 0u; k--) {
    let dim = k - 1u;
    let size = p.shape[dim / 4u][dim % 4u];
    let c = rest % size;
    rest = rest / size;
    ia += c * p.strideA[dim / 4u][dim % 4u];
    ib += c * p.strideB[dim / 4u][dim % 4u];
  }
  o[i] = applyOp(a[ia], b[ib]);
}
