// Decode attention (inference only, no backward): a few new queries per row against that
// row's KV cache, for autoregressive decoding (src/engine/ops/decode.ts).
//
// Q, O are [R, S, H, HEAD_DIM] (R query rows of S new tokens each); K, V caches are
// [C, L, H, HEAD_DIM] (C cache rows of capacity L); rowInfo[2r] is the cache row of query row
// r and rowInfo[2r + 1] its valid key count (the S new keys included, appended already). The
// S queries are the row's last S tokens, so query s sees keys [0, len - S + s]: causal.
//
// One workgroup per (query, head), WG invocations. The key range is walked in chunks of
// WG keys: invocation i scores key k0 + i, the chunk max and the probabilities go through
// workgroup memory, and the online-softmax state (m, l) is kept identically by every
// invocation (each scans the WG shared values), so no cross-invocation reduction is
// needed until the end. For P.V invocation i owns vec4 column i % (D/4) and every
// (WG / (D/4))-th key of the chunk; the partial sums share m, so the final reduction is a
// plain sum over the WG / (D/4) groups. Two barriers per chunk; f32 throughout; scores
// in base 2 like attention_fwd.wgsl.

override HEAD_DIM: u32 = 64u;

const WG: u32 = 64u;
const MAX_D4: u32 = 16u;
const NEG: f32 = -1.0e30;
const LOG2E: f32 = 1.4426950408889634;

struct P {
  queries: u32,   // S, new tokens per row
  heads: u32,
  capacity: u32,  // L, token slots per cache row
  scale: f32,
}

@group(0) @binding(0) var<storage, read> q: array<vec4f>;
@group(0) @binding(1) var<storage, read> k: array<vec4f>;
@group(0) @binding(2) var<storage, read> v: array<vec4f>;
@group(0) @binding(3) var<storage, read> rowInfo: array<u32>;
@group(0) @binding(4) var<storage, read_write> o: array<vec4f>;
@group(0) @binding(5) var<uniform> p: P;

var<workgroup> score: array<f32, WG>;
var<workgroup> prob: array<f32, WG>;
var<workgroup> part: array<vec4f, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let d4 = HEAD_DIM / 4u;
  let qi = wg.x;              // r * S + s
  let h = wg.y;
  let r = qi / p.queries;
  let s = qi % p.queries;
  let row = rowInfo[2u * r];
  // Validated on the CPU: S <= len <= capacity, so every query sees at least one key.
  let visible = rowInfo[2u * r + 1u] - p.queries + 1u + s;
  let qb = (qi * p.heads + h) * d4;

  var qr: array<vec4f, MAX_D4>;
  let qs = p.scale * LOG2E;
  for (var c = 0u; c < d4; c++) { qr[c] = q[qb + c] * qs; }

  let col = lid % d4;
  let grp = lid / d4;
  let groups = WG / d4;
  var acc = vec4f(0.0);
  var m = NEG;
  var l = 0.0;
  let base = row * p.capacity;

  for (var k0 = 0u; k0 < visible; k0 += WG) {
    let j = k0 + lid;
    var x = NEG;
    if (j < visible) {
      let kb = ((base + j) * p.heads + h) * d4;
      x = 0.0;
      for (var c = 0u; c < d4; c++) { x += dot(qr[c], k[kb + c]); }
    }
    score[lid] = x;
    workgroupBarrier();

    var chunkMax = NEG;
    for (var i = 0u; i < WG; i++) { chunkMax = max(chunkMax, score[i]); }
    // The chunk holds key k0 < visible, so mNew is a real score and alpha is exact 0 on
    // the first chunk (m = NEG).
    let mNew = max(m, chunkMax);
    let alpha = exp2(m - mNew);
    prob[lid] = select(0.0, exp2(x - mNew), j < visible);
    workgroupBarrier();

    var chunkSum = 0.0;
    for (var i = 0u; i < WG; i++) { chunkSum += prob[i]; }
    l = l * alpha + chunkSum;
    acc *= alpha;
    let stop = min(WG, visible - k0);
    for (var i = grp; i < stop; i += groups) {
      acc += prob[i] * v[((base + k0 + i) * p.heads + h) * d4 + col];
    }
    m = mNew;
  }

  part[lid] = acc;
  workgroupBarrier();
  if (lid < d4) {
    var sum = vec4f(0.0);
    for (var g = 0u; g < groups; g++) { sum += part[g * d4 + lid]; }
    o[qb + lid] = sum / l;
  }
}
