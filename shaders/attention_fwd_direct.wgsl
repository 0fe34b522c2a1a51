// Block-sparse attention forward for software adapters (ops/attention.ts,
// attentionKernels): the semantics of attention_fwd.wgsl with no workgroup memory and no
// barriers. SwiftShader runs a workgroup's invocations as coroutines on the CPU and
// every barrier suspends and resumes all of them; with tiles of 32 keys and head dim 32
// the tiled kernel spent most of its time there, not in arithmetic.
//
// Each invocation owns ROWS query rows of one q-tile and head (rows lid, lid + TILE/ROWS,
// ...) and reads K and V straight from the storage buffers; the invocations of a
// workgroup walk the same k-tile list in step. On SwiftShader a load at a run-time index
// is a per-lane gather whatever the addresses, so loads, not arithmetic, set the cost:
// every K and V row read here serves ROWS query rows (one row per invocation measured
// ~4x slower at head dim 32). Keys go four at a time: the four scores of a row are one
// vec4, so the mask, the exponentials and the online-softmax rescale are vector
// operations, once per four keys.
//
// Template (expanded by ops/attention.ts with ops/unroll.ts): WGSL has no macros, and a
// private array indexed by a loop variable is per-lane memory on SwiftShader, so the
// head-dim vectors are named vec4 registers. A line holding `$c` is repeated once per
// vec4 of the head dim, a line holding `$r` once per row (c outer, r inner, so a K or V
// vec4 is used by every row right after it is loaded); ROWS is prepended as a const.
//
// The mask is branch-free (allowed4): short-circuit && in the per-element rule turned
// into control flow across all these live registers, which SwiftShader's compiler did
// not survive (tens of GB) at 4 rows. Key rows past the end are clamped to a valid
// address and masked (they only occur in PARTIAL tiles: a tile that holds padding is
// never FULL); query rows past the end compute on a clamped row and store nothing.

@group(0) @binding(0) var<storage, read> q: array<vec4f>;
@group(0) @binding(1) var<storage, read> k: array<vec4f>;
@group(0) @binding(2) var<storage, read> v: array<vec4f>;
@group(0) @binding(3) var<storage, read> bmap: array<u32>;
@group(0) @binding(4) var<storage, read_write> o: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;

@compute @workgroup_size(TILE / ROWS)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let qt = wg.x;
  let h = wg.y;
  let last = p.n - 1u;
  let qs = p.scale * LOG2E;
  let qi$r = qt * TILE + lid + $ru * (TILE / ROWS);
  let qb$r = rowBase(min(qi$r, last), h, p.heads);
  let tok$r = vec4u(bmap[p.tokens + min(qi$r, last)]);
  let q$r_$c = q[qb$r + $cu] * qs;
  var a$r_$c = vec4f(0.0);
  var m$r = NEG;
  var l$r = 0.0;

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
      let x0_$c = k[r0 + $cu];
      let x1_$c = k[r1 + $cu];
      let x2_$c = k[r2 + $cu];
      let x3_$c = k[r3 + $cu];
      s$r += vec4f(dot(q$r_$c, x0_$c), dot(q$r_$c, x1_$c), dot(q$r_$c, x2_$c), dot(q$r_$c, x3_$c));
      s$r = select(vec4f(NEG), s$r, full | allowed4(p.rule, p.n, tok$r, kq.tok, vec4u(qi$r), kq.idx));
      let mNew$r = max(m$r, max(max(s$r.x, s$r.y), max(s$r.z, s$r.w)));
      // While every key so far is masked, mNew is NEG and exp2(s - mNew) would be 1;
      // subtracting a bound above NEG instead keeps those terms exactly 0 with no branch.
      let mSub$r = max(mNew$r, 0.5 * NEG);
      let alpha$r = exp2(m$r - mSub$r);
      let p$r = exp2(s$r - mSub$r);
      l$r = l$r * alpha$r + (p$r.x + p$r.y) + (p$r.z + p$r.w);
      m$r = mNew$r;
      let y0_$c = v[r0 + $cu];
      let y1_$c = v[r1 + $cu];
      let y2_$c = v[r2 + $cu];
      let y3_$c = v[r3 + $cu];
      a$r_$c = a$r_$c * alpha$r + p$r.x * y0_$c + p$r.y * y1_$c + p$r.z * y2_$c + p$r.w * y3_$c;
    }
  }

  let inv$r = select(0.0, 1.0 / l$r, l$r > 0.0);
  if (qi$r < p.n) { lse[h * p.n + qi$r] = select(NO_KEY_LSE, (m$r + log2(l$r)) * LN2, l$r > 0.0); }
  if (qi$r < p.n) { o[qb$r + $cu] = a$r_$c * inv$r; }
}
