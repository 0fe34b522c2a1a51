// Block-sparse attention forward, FlashAttention-2 style: one workgroup per (q-tile,
// head), one invocation per query row. The workgroup walks only the k-tiles listed for
// its q-tile (EMPTY tiles never appear), FULL tiles before PARTIAL ones; only PARTIAL
// tiles evaluate the rule per element. Online softmax in f32; writes O and the row
// logsumexp L [H, T] (natural log) for the backward pass.
//
// K and V share one workgroup buffer, loaded in turn: TILE x HEAD_DIM f32 is 16 KiB at
// 64 x 64, and two of them plus the token ids would pass the 32 KiB many adapters offer.

@group(0) @binding(0) var<storage, read> q: array<vec4f>;
@group(0) @binding(1) var<storage, read> k: array<vec4f>;
@group(0) @binding(2) var<storage, read> v: array<vec4f>;
@group(0) @binding(3) var<storage, read> bmap: array<u32>;
@group(0) @binding(4) var<storage, read_write> o: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;

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
  var acc: array<vec4f, MAX_D4>;
  var s: array<f32, MAX_TILE>;
  let qs = p.scale * LOG2E;
  var qTok = 0u;
  if (live) {
    let b = rowBase(qi, h, p.heads);
    for (var c = 0u; c < d4; c++) { qr[c] = q[b + c] * qs; }
    qTok = bmap[p.tokens + qi];
  }
  for (var c = 0u; c < d4; c++) { acc[c] = vec4f(0.0); }
  var m = NEG;
  var l = 0.0;

  let first = bmap[p.offsets + qt];
  let last = bmap[p.offsets + qt + 1u];
  let nFull = bmap[p.fullCount + qt];
  for (var e = first; e < last; e++) {
    let k0 = bmap[p.indices + e] * TILE;
    let full = e - first < nFull;

    workgroupBarrier();
    loadK(k0, h, lid);
    var kt = 0u;
    if (k0 + lid < p.n) { kt = bmap[p.tokens + k0 + lid]; }
    keyTok[lid] = kt;
    workgroupBarrier();

    var tileMax = NEG;
    for (var j = 0u; j < TILE; j++) {
      var x = 0.0;
      for (var c = 0u; c < d4; c++) { x += dot(qr[c], rows[j * d4 + c]); }
      if (!full && !mayAttend(p.rule, p.n, qTok, keyTok[j], qi, k0 + j)) { x = NEG; }
      s[j] = x;
      tileMax = max(tileMax, x);
    }

    workgroupBarrier();
    loadV(k0, h, lid);
    workgroupBarrier();

    let mNew = max(m, tileMax);
    if (mNew > NEG) {
      let alpha = exp2(m - mNew);
      l *= alpha;
      for (var c = 0u; c < d4; c++) { acc[c] *= alpha; }
      for (var j = 0u; j < TILE; j++) {
        let pj = exp2(s[j] - mNew);
        l += pj;
        for (var c = 0u; c < d4; c++) { acc[c] += pj * rows[j * d4 + c]; }
      }
      m = mNew;
    }
  }

  if (live) {
    let b = rowBase(qi, h, p.heads);
    let inv = select(0.0, 1.0 / l, l > 0.0);
    for (var c = 0u; c < d4; c++) { o[b + c] = acc[c] * inv; }
    lse[h * p.n + qi] = select(NO_KEY_LSE, (m + log2(l)) * LN2, l > 0.0);
  }
}
