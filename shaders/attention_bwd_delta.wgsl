// Backward preprocessing: Delta = rowsum(dO * O) per (token, head), stored next to the
// forward logsumexp as stats[h * T + t] = (L, Delta) so the dQ and dK/dV passes read
// both with one load (and stay within 8 storage bindings).

@group(0) @binding(0) var<storage, read> o: array<vec4f>;
@group(0) @binding(1) var<storage, read> dO: array<vec4f>;
@group(0) @binding(2) var<storage, read> lse: array<f32>;
@group(0) @binding(3) var<storage, read_write> stats: array<vec2f>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let r = gid.x + gid.y * nw.x * 64u;
  if (r >= p.n * p.heads) { return; }
  let h = r / p.n;
  let t = r % p.n;
  let b = rowBase(t, h, p.heads);
  var d = 0.0;
  for (var c = 0u; c < HEAD_DIM / 4u; c++) { d += dot(o[b + c], dO[b + c]); }
  stats[r] = vec2f(lse[r], d);
}
