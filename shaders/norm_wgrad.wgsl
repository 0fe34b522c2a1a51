// Weight gradient of RMSNorm / LayerNorm, partial over a chunk of ROWS rows:
// part[chunk, d] = sum over the chunk's rows of g * xhat. One thread per column, so
// neighbouring threads read neighbouring addresses; the chunks are summed afterwards.
override ROWS: u32 = 64u;

struct P { rows: u32, D: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> stats: array<vec2f>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> part: array<f32>;
@group(0) @binding(4) var<uniform> p: P;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u) {
  let d = id.x;
  let chunk = id.y;
  if (d >= p.D) { return; }
  let r0 = chunk * ROWS;
  let r1 = min(r0 + ROWS, p.rows);
  var s = 0.0;
  for (var r = r0; r < r1; r++) {
    let st = stats[r];
    s += g[r * p.D + d] * (x[r * p.D + d] - st.x) * st.y;
  }
  part[chunk * p.D + d] = s;
}
