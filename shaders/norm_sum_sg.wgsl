// Row sums of one workgroup with subgroup operations (adapters with the 'subgroups'
// feature; ops/norm.ts prepends `enable subgroups;`), the twin of norm_sum_tree.wgsl:
// subgroupAdd inside each subgroup, then one slot per subgroup in workgroup memory
// (the slot of its elected invocation, the others stay 0), summed in slot order by every
// invocation. Two barriers to publish the sums and one to release the slots, where the
// tree takes log2(WG) + 1. The order of additions is fixed for a given adapter, so the
// result is deterministic. Every invocation must call these; v is its share.
var<workgroup> part: array<vec2f, WG>;

fn rowSum2(t: u32, v: vec2f) -> vec2f {
  part[t] = vec2f(0.0);
  let s = subgroupAdd(v);
  workgroupBarrier();
  if (subgroupElect()) { part[t] = s; }
  workgroupBarrier();
  var r = vec2f(0.0);
  for (var k = 0u; k < WG; k++) { r += part[k]; }
  workgroupBarrier();
  return r;
}

fn rowSum(t: u32, v: f32) -> f32 {
  return rowSum2(t, vec2f(v, 0.0)).x;
}
