// One workgroup per row of a [rows, cols] view: out[row] = sum * scale (OP 0), max
// (OP 1) or logsumexp (OP 2) over the row. `n` bounds the flat index too, so a flat
// array can be reduced in fixed-size chunks whose last chunk is partial.
override OP: u32 = 0u;
override WG: u32 = 64u;

struct P { rows: u32, cols: u32, n: u32, scale: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: P;

var<workgroup> part: array<f32, WG>;

// Tree reduction of part[] (sum or max); every thread gets the result.
fn reduceWorkgroup(t: u32, v: f32, isMax: bool) -> f32 {
  part[t] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (t < s) {
      if (isMax) { part[t] = max(part[t], part[t + s]); } else { part[t] = part[t] + part[t + s]; }
    }
    workgroupBarrier();
  }
  let r = part[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let row = wid.x + wid.y * nw.x;
  if (row >= p.rows) { return; }
  let t = lid.x;
  let base = row * p.cols;
  let end = min(p.cols, p.n - base);
  let NEG_INF = -3.0e38;
  if (OP == 0u) {
    var s = 0.0;
    for (var j = t; j < end; j += WG) { s += x[base + j]; }
    s = reduceWorkgroup(t, s, false);
    if (t == 0u) { out[row] = s * p.scale; }
  } else {
    var m = NEG_INF;
    for (var j = t; j < end; j += WG) { m = max(m, x[base + j]); }
    m = reduceWorkgroup(t, m, true);
    if (OP == 1u) {
      if (t == 0u) { out[row] = m; }
      return;
    }
    var s = 0.0;
    for (var j = t; j < end; j += WG) { s += exp(x[base + j] - m); }
    s = reduceWorkgroup(t, s, false);
    if (t == 0u) { out[row] = m + log(s); }
  }
}
