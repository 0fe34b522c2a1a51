// Backward dK and dV for software adapters: the semantics of attention_bwd_dkdv.wgsl
// with no workgroup memory and no barriers. Same template as attention_fwd_direct.wgsl,
// transposed: each invocation owns ROWS key rows of one k-tile and head and walks the
// TRANSPOSED list (the q-tiles that see its k-tile), so every dK/dV row has one writer
// and no atomics are needed. Queries go four at a time: S = Q K^T (base 2, like the
// saved logsumexp times log2(e)), P = exp(S - L); each dO vec4 is read once for both
// dV += P^T dO and dP = dO V^T; dS = P * (dP - Delta); dK += dS^T Q reads the four Q
// rows a second time rather than holding them (K, V, dK and dV of every row already
// fill the registers).

@group(0) @binding(0) var<storage, read> q: array<vec4f>;
@group(0) @binding(1) var<storage, read> k: array<vec4f>;
@group(0) @binding(2) var<storage, read> v: array<vec4f>;
@group(0) @binding(3) var<storage, read> dO: array<vec4f>;
@group(0) @binding(4) var<storage, read> stats: array<vec2f>;
@group(0) @binding(5) var<storage, read> bmap: array<u32>;
@group(0) @binding(6) var<storage, read_write> dk: array<vec4f>;
@group(0) @binding(7) var<storage, read_write> dv: array<vec4f>;
@group(0) @binding(8) var<uniform> p: Params;

@compute @workgroup_size(TILE / ROWS)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let kt = wg.x;
  let h = wg.y;
  let last = p.n - 1u;
  let qs = p.scale * LOG2E;
  let sb = h * p.n;
  let kj$r = kt * TILE + lid + $ru * (TILE / ROWS);
  let kb$r = rowBase(min(kj$r, last), h, p.heads);
  let tok$r = vec4u(bmap[p.tokens + min(kj$r, last)]);
  let k$r_$c = k[kb$r + $cu] * qs;
  let v$r_$c = v[kb$r + $cu];
  var dk$r_$c = vec4f(0.0);
  var dv$r_$c = vec4f(0.0);

  let first = bmap[p.offsets + kt];
  let end = bmap[p.offsets + kt + 1u];
  let nFull = bmap[p.fullCount + kt];
  for (var e = first; e < end; e++) {
    let q0 = bmap[p.indices + e] * TILE;
    let full = vec4<bool>(e - first < nFull);
    let iEnd = min(q0 + TILE, p.n);
    for (var i = q0; i < iEnd; i += 4u) {
      let iq = quad(i, h);
      let st0 = stats[sb + iq.at.x];
      let st1 = stats[sb + iq.at.y];
      let st2 = stats[sb + iq.at.z];
      let st3 = stats[sb + iq.at.w];
      let l2 = vec4f(st0.x, st1.x, st2.x, st3.x) * LOG2E;
      let delta = vec4f(st0.y, st1.y, st2.y, st3.y);
      let r0 = iq.base.x;
      let r1 = iq.base.y;
      let r2 = iq.base.z;
      let r3 = iq.base.w;
      var s$r = vec4f(0.0);
      let x0_$c = q[r0 + $cu];
      let x1_$c = q[r1 + $cu];
      let x2_$c = q[r2 + $cu];
      let x3_$c = q[r3 + $cu];
      s$r += vec4f(dot(x0_$c, k$r_$c), dot(x1_$c, k$r_$c), dot(x2_$c, k$r_$c), dot(x3_$c, k$r_$c));
      let p$r = select(vec4f(0.0), exp2(s$r - l2), full | allowed4(p.rule, p.n, iq.tok, tok$r, iq.idx, vec4u(kj$r)));
      var dp$r = vec4f(0.0);
      let g0_$c = dO[r0 + $cu];
      let g1_$c = dO[r1 + $cu];
      let g2_$c = dO[r2 + $cu];
      let g3_$c = dO[r3 + $cu];
      dv$r_$c += p$r.x * g0_$c + p$r.y * g1_$c + p$r.z * g2_$c + p$r.w * g3_$c;
      dp$r += vec4f(dot(g0_$c, v$r_$c), dot(g1_$c, v$r_$c), dot(g2_$c, v$r_$c), dot(g3_$c, v$r_$c));
      let ds$r = p$r * (dp$r - delta);
      let z0_$c = q[r0 + $cu];
      let z1_$c = q[r1 + $cu];
      let z2_$c = q[r2 + $cu];
      let z3_$c = q[r3 + $cu];
      dk$r_$c += ds$r.x * z0_$c + ds$r.y * z1_$c + ds$r.z * z2_$c + ds$r.w * z3_$c;
    }
  }

  // K was pre-scaled by scale * log2(e) for S; dK = scale * dS^T Q.
  if (kj$r < p.n) { dk[kb$r + $cu] = dk$r_$c * p.scale; }
  if (kj$r < p.n) { dv[kb$r + $cu] = dv$r_$c; }
}
