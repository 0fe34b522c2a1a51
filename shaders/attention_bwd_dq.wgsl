// Backward dQ: one workgroup per (q-tile, head) over the same k-tile list as the forward,
// one invocation per query row. P is recomputed from Q, K and the saved logsumexp;
// dS = P * (dO V^T - Delta); dQ = scale * dS K. V and K take turns in one workgroup
// buffer (see attention_fwd.wgsl), V first so dP is ready when K arrives.

@group(0) @binding(0) var<storage, read> q: array<vec4f>;
@group(0) @binding(1) var<storage, read> k: array<vec4f>;
@group(0) @binding(2) var<storage, read> v: array<vec4f>;
@group(0) @binding(3) var<storage, read> dO: array<vec4f>;
@group(0) @binding(4) var<storage, read> stats: array<vec2f>;
@group(0) @binding(5) var<storage, read> bmap: array<u32>;
@group(0) @binding(6) var<storage, read_write> dq: array<vec4f>;
@group(0) @binding(7) var<uniform> p: Params;

var<workgroup> rows: array<vec4f, TILE * HEAD_DIM / 4u>;
var<workgroup> keyTok: array<u32, TILE>;

fn loadK(t0: u32, h: u32, lid: u32) {
  let d4 = HEAD_DIM / 4u;
  for (var e = lid; e < TILE * d4; e += TILE) {
    let t = t0 + e / d4;
    var x = vec4f(0.0);
    if (t < p.n) { x = k[rowBase(t, h, p.heads) + e % d4]; }
    rows[e] = x;
  }
}

fn loadV(t0: u32, h: u32, lid: u32) {
  let d4 = HEAD_DIM / 4u;
  for (var e = lid; e < TILE * d4; e += TILE) {
    let t = t0 + e / d4;
    var x = vec4f(0.0);
    if (t < p.n) { x = v[rowBase(t, h, p.heads) + e % d4]; }
    rows[e] = x;
  }
}

@compute @workgroup_size(TILE)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let d4 = HEAD_DIM / 4u;
  let qt = wg.x;
  let h = wg.y;
  let qi = qt * TILE + lid;
  let live = qi < p.n;

  var qr: array<vec4f, MAX_D4>;
  var dor: array<vec4f, MAX_D4>;
  var acc: array<vec4f, MAX_D4>;
  var dp: array<f32, MAX_TILE>;
  let qs = p.scale * LOG2E;
  var qTok = 0u;
  var l2 = 0.0;
  var delta = 0.0;
  if (live) {
    let b = rowBase(qi, h, p.heads);
    for (var c = 0u; c < d4; c++) {
      qr[c] = q[b + c] * qs;
      dor[c] = dO[b + c];
    }
    qTok = bmap[p.tokens + qi];
    let st = stats[h * p.n + qi];
    l2 = st.x * LOG2E;
    delta = st.y;
  } else {
    for (var c = 0u; c < d4; c++) {
      qr[c] = vec4f(0.0);
      dor[c] = vec4f(0.0);
    }
  }
  for (var c = 0u; c < d4; c++) { acc[c] = vec4f(0.0); }

  let first = bmap[p.offsets + qt];
  let last = bmap[p.offsets + qt + 1u];
  let nFull = bmap[p.fullCount + qt];
  for (var e = first; e < last; e++) {
    let k0 = bmap[p.indices + e] * TILE;
    let full = e - first < nFull;

    workgroupBarrier();
    loadV(k0, h, lid);
    var kt = 0u;
    if (k0 + lid < p.n) { kt = bmap[p.tokens + k0 + lid]; }
    keyTok[lid] = kt;
    workgroupBarrier();
    for (var j = 0u; j < TILE; j++) {
      var x = 0.0;
      for (var c = 0u; c < d4; c++) { x += dot(dor[c], rows[j * d4 + c]); }
      dp[j] = x;
    }

    workgroupBarrier();
    loadK(k0, h, lid);
    workgroupBarrier();
    for (var j = 0u; j < TILE; j++) {
      var x = 0.0;
      for (var c = 0u; c < d4; c++) { x += dot(qr[c], rows[j * d4 + c]); }
      var pj = exp2(x - l2);
      if (!full && !mayAttend(p.rule, p.n, qTok, keyTok[j], qi, k0 + j)) { pj = 0.0; }
      let ds = pj * (dp[j] - delta);
      for (var c = 0u; c < d4; c++) { acc[c] += ds * rows[j * d4 + c]; }
    }
  }

  if (live) {
    let b = rowBase(qi, h, p.heads);
    for (var c = 0u; c < d4; c++) { dq[b + c] = acc[c] * p.scale; }
  }
}
