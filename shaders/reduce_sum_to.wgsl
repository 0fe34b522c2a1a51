// Sums x over a set of dimensions (the backward of broadcasting). The TS side merges
// adjacent dimensions alike, so dims alternate kept / reduced. One thread per output
// element walks all reduced positions; when the last dimension is kept, neighbouring
// threads read neighbouring addresses.
struct P {
  nOut: u32, rank: u32, nRed: u32, pad: u32,
  shape: array<vec4u, 2>,
  stride: array<vec4u, 2>,    // input strides
  reduced: array<vec4u, 2>,   // 1 where the dimension is summed over
}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: P;

fn at(v: array<vec4u, 2>, k: u32) -> u32 { return v[k / 4u][k % 4u]; }

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let o = id.x + id.y * nw.x * 256u;
  if (o >= p.nOut) { return; }
  var rest = o;
  var base = 0u;
  for (var k = p.rank; k > 0u; k--) {
    let dim = k - 1u;
    if (at(p.reduced, dim) == 0u) {
      let size = at(p.shape, dim);
      base += (rest % size) * at(p.stride, dim);
      rest = rest / size;
    }
  }
  var s = 0.0;
  for (var j = 0u; j < p.nRed; j++) {
    var r = j;
    var off = base;
    for (var k = p.rank; k > 0u; k--) {
      let dim = k - 1u;
      if (at(p.reduced, dim) == 1u) {
        let size = at(p.shape, dim);
        off += (r % size) * at(p.stride, dim);
        r = r / size;
      }
    }
    s += x[off];
  }
  out[o] = s;
}
