// InfoNCE backward, gradient of the log-scale s: sum of the per-row shares of
// sum(dZ * Z), reduced in a fixed order, and zero when exp(s) is clamped (the clamp is
// flat there, as torch.clamp's gradient is).

@group(0) @binding(0) var<storage, read> rowPart: array<f32>;
@group(0) @binding(1) var<storage, read> logScale: array<f32>;
@group(0) @binding(2) var<storage, read_write> gs: array<f32>;
struct P { B: u32, maxScale: f32, pad0: u32, pad1: u32 }
@group(0) @binding(3) var<uniform> p: P;

const WG = 256u;
var<workgroup> sp: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  var part = 0.0;
  for (var i = lid; i < p.B; i += WG) { part += rowPart[i]; }
  sp[lid] = part;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { sp[lid] += sp[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { gs[0] = select(sp[0], 0.0, exp(logScale[0]) > p.maxScale); }
}
