// Backward dQ for software adapters: the semantics of attention_bwd_dq.wgsl with no
// workgroup memory and no barriers. Same layout and template as
// attention_fwd_direct.wgsl (ROWS query rows per invocation, `$r`/`$c` lines, keys four
// at a time, branch-free mask): P = exp(S - L) from Q, K and the saved logsumexp,
// dP = dO V^T, dS = P * (dP - Delta), dQ = scale * dS K. The four K rows are read twice
// (for S and for dQ) rather than held across the softmax step, which would keep
// 4 x HEAD_DIM more values live next to the rows' Q, dO and dQ.

@group(0) @binding(0) var<storage, read> q: array<vec4f>;
@group(0) @binding(1) var<storage, read> k: array<vec4f>;
@group(0) @binding(2) var<storage, read> v: array<vec4f>;
@group(0) @binding(3) var<storage, read> dO: array<vec4f>;
@group(0) @binding(4) var<storage, read> stats: array<vec2f>;
@group(0) @binding(5) var<storage, read> bmap: array<u32>;
@group(0) @binding(6) var<storage, read_write> dq: array<vec4f>;
@group(0) @binding(7) var<uniform> p: Params;

@compute @workgroup_size(TILE / ROWS)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let qt = wg.x;
  let h = wg.y;
  let last = p.n - 1u;
  let qs = p.scale * LOG2E;
  let qi$r = qt * TILE + lid + $ru * (TILE / ROWS);
  let qb$r = rowBase(min(qi$r, last), h, p.heads);
  let tok$r = vec4u(bmap[p.tokens + min(qi$r, last)]);
  let st$r = stats[h * p.n + min(qi$r, last)];
  let l2$r = st$r.x * LOG2E;
  let delta$r = st$r.y;
  let q$r_$c = q[qb$r + $cu] * qs;
  let g$r_$c = dO[qb$r + $cu];
  var a$r_$c = vec4f(0.0);

  let first = bmap[p.offsets + qt];
  let end = bmap[p.offsets + qt + 1u];
  let nFull = bmap[p.fullCount + qt];
  for (var e = first; e < end; e++) {
    let k0 = bmap[p.indices + e] * TILE;
    let full = vec4<bool>(e - first < nFull);
    let kEnd = min(k0 + TILE, p.n);
    for (var j = k0; j < kEnd; j += 4u) {
      let kq = quad(j, h);
      let r0 = kq.base.x;
      let r1 = kq.base.y;
      let r2 = kq.base.z;
      let r3 = kq.base.w;
      var s$r = vec4f(0.0);
      var dp$r = vec4f(0.0);
      let x0_$c = k[r0 + $cu];
      let x1_$c = k[r1 + $cu];
      let x2_$c = k[r2 + $cu];
      let x3_$c = k[r3 + $cu];
      s$r += vec4f(dot(q$r_$c, x0_$c), dot(q$r_$c, x1_$c), dot(q$r_$c, x2_$c), dot(q$r_$c, x3_$c));
      let y0_$c = v[r0 + $cu];
      let y1_$c = v[r1 + $cu];
      let y2_$c = v[r2 + $cu];
      let y3_$c = v[r3 + $cu];
      dp$r += vec4f(dot(g$r_$c, y0_$c), dot(g$r_$c, y1_$c), dot(g$r_$c, y2_$c), dot(g$r_$c, y3_$c));
      let p$r = select(vec4f(0.0), exp2(s$r - l2$r), full | allowed4(p.rule, p.n, tok$r, kq.tok, vec4u(qi$r), kq.idx));
      let ds$r = p$r * (dp$r - delta$r);
      let z0_$c = k[r0 + $cu];
      let z1_$c = k[r1 + $cu];
      let z2_$c = k[r2 + $cu];
      let z3_$c = k[r3 + $cu];
      a$r_$c += ds$r.x * z0_$c + ds$r.y * z1_$c + ds$r.z * z2_$c + ds$r.w * z3_$c;
    }
  }

  if (qi$r < p.n) { dq[qb$r + $cu] = a$r_$c * p.scale; }
}
