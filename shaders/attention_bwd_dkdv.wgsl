// Backward dK and dV: one workgroup per (k-tile, head), one invocation per key row, over
// the TRANSPOSED list (the q-tiles that see this k-tile), so every dK/dV row has a single
// writer and no float atomics are needed. Per q-tile, three phases share one workgroup
// buffer: Q (P = exp(S - L)), dO (dV += P^T dO, dS = P * (dP - Delta)), Q again
// (dK += dS^T Q). The reload costs 1/TILE of the arithmetic; a second 16 KiB buffer
// would not fit next to the first at 64 x 64 on 32 KiB adapters.

@group(0) @binding(0) var<storage, read> q: array<vec4f>;
@group(0) @binding(1) var<storage, read> k: array<vec4f>;
@group(0) @binding(2) var<storage, read> v: array<vec4f>;
@group(0) @binding(3) var<storage, read> dO: array<vec4f>;
@group(0) @binding(4) var<storage, read> stats: array<vec2f>;
@group(0) @binding(5) var<storage, read> bmap: array<u32>;
@group(0) @binding(6) var<storage, read_write> dk: array<vec4f>;
@group(0) @binding(7) var<storage, read_write> dv: array<vec4f>;
@group(0) @binding(8) var<uniform> p: Params;

var<workgroup> rows: array<vec4f, TILE * HEAD_DIM / 4u>;
var<workgroup> qTok: array<u32, TILE>;
// (L * log2(e), Delta) of the tile's query rows.
var<workgroup> qStats: array<vec2f, TILE>;

// Q rows pre-scaled by scale * log2(e), so S comes out in base 2 like L * log2(e).
fn loadQ(t0: u32, h: u32, lid: u32, qs: f32) {
  let d4 = HEAD_DIM / 4u;
  for (var e = lid; e < TILE * d4; e += TILE) {
    let t = t0 + e / d4;
    var x = vec4f(0.0);
    if (t < p.n) { x = q[rowBase(t, h, p.heads) + e % d4] * qs; }
    rows[e] = x;
  }
}

fn loadDO(t0: u32, h: u32, lid: u32) {
  let d4 = HEAD_DIM / 4u;
  for (var e = lid; e < TILE * d4; e += TILE) {
    let t = t0 + e / d4;
    var x = vec4f(0.0);
    if (t < p.n) { x = dO[rowBase(t, h, p.heads) + e % d4]; }
    rows[e] = x;
  }
}

@compute @workgroup_size(TILE)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let d4 = HEAD_DIM / 4u;
  let kt = wg.x;
  let h = wg.y;
  let kj = kt * TILE + lid;
  let live = kj < p.n;
  let qs = p.scale * LOG2E;

  var kr: array<vec4f, MAX_D4>;
  var vr: array<vec4f, MAX_D4>;
  var dkAcc: array<vec4f, MAX_D4>;
  var dvAcc: array<vec4f, MAX_D4>;
  var pr: array<f32, MAX_TILE>;
  var kTok = 0u;
  for (var c = 0u; c < d4; c++) {
    kr[c] = vec4f(0.0);
    vr[c] = vec4f(0.0);
    dkAcc[c] = vec4f(0.0);
    dvAcc[c] = vec4f(0.0);
  }
  if (live) {
    let b = rowBase(kj, h, p.heads);
    for (var c = 0u; c < d4; c++) {
      kr[c] = k[b + c];
      vr[c] = v[b + c];
    }
    kTok = bmap[p.tokens + kj];
  }

  let first = bmap[p.offsets + kt];
  let last = bmap[p.offsets + kt + 1u];
  let nFull = bmap[p.fullCount + kt];
  for (var e = first; e < last; e++) {
    let q0 = bmap[p.indices + e] * TILE;
    let full = e - first < nFull;

    workgroupBarrier();
    loadQ(q0, h, lid, qs);
    let qi = q0 + lid;
    var tok = 0u;
    var st = vec2f(NO_KEY_LSE, 0.0);
    if (qi < p.n) {
      tok = bmap[p.tokens + qi];
      let raw = stats[h * p.n + qi];
      st = vec2f(raw.x * LOG2E, raw.y);
    }
    qTok[lid] = tok;
    qStats[lid] = st;
    workgroupBarrier();
    for (var i = 0u; i < TILE; i++) {
      var x = 0.0;
      for (var c = 0u; c < d4; c++) { x += dot(rows[i * d4 + c], kr[c]); }
      var pij = exp2(x - qStats[i].x);
      if (!full && !(live && mayAttend(p.rule, p.n, qTok[i], kTok, q0 + i, kj))) { pij = 0.0; }
      pr[i] = pij;
    }

    workgroupBarrier();
    loadDO(q0, h, lid);
    workgroupBarrier();
    for (var i = 0u; i < TILE; i++) {
      var x = 0.0;
      for (var c = 0u; c < d4; c++) {
        let g = rows[i * d4 + c];
        dvAcc[c] += pr[i] * g;
        x += dot(g, vr[c]);
      }
      pr[i] = pr[i] * (x - qStats[i].y);
    }

    workgroupBarrier();
    loadQ(q0, h, lid, qs);
    workgroupBarrier();
    for (var i = 0u; i < TILE; i++) {
      for (var c = 0u; c < d4; c++) { dkAcc[c] += pr[i] * rows[i * d4 + c]; }
    }
  }

  if (live) {
    let b = rowBase(kj, h, p.heads);
    // Q was loaded as q * scale * log2(e); dK = scale * dS^T Q.
    for (var c = 0u; c < d4; c++) {
      dk[b + c] = dkAcc[c] * (1.0 / LOG2E);
      dv[b + c] = dvAcc[c];
    }
  }
}
