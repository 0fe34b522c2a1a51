// Row sums of one workgroup for norm_fwd.wgsl and norm_grad.wgsl: a tree in workgroup
// memory, log2(WG) + 1 barriers (WG is the including kernel's). The subgroup twin is
// norm_sum_sg.wgsl; ops/norm.ts prepends one or the other to the kernel body. Every
// invocation of the workgroup must call these (they have barriers); v is its share.
var<workgroup> part: array<vec2f, WG>;

fn rowSum2(t: u32, v: vec2f) -> vec2f {
  part[t] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (t < s) { part[t] = part[t] + part[t + s]; }
    workgroupBarrier();
  }
  let r = part[0];
  workgroupBarrier();
  return r;
}

fn rowSum(t: u32, v: f32) -> f32 {
  return rowSum2(t, vec2f(v, 0.0)).x;
}
