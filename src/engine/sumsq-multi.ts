/**
 * Stage 1 of the global gradient norm over many gradients in few dispatches: one
 * dispatch reads up to `group` gradient buffers (one binding each, since WGSL cannot
 * index bindings, each gets its own copy of the loop), instead of one dispatch per
 * parameter. Every workgroup sums the squares of one CHUNK of one gradient, exactly as
 * adamw_sumsq.wgsl does, and writes its 64 partials to the same slots, so the partial
 * buffer, the summation order and the norm are bit-identical to the per-parameter path;
 * only the number of dispatches changes (29 -> 3 for the bench:train model).
 */
import type { Runtime } from './runtime';
import type { Tensor } from './tensor';

/** Threads per workgroup, each writing one partial (as in adamw_sumsq.wgsl). */
export const SUMSQ_WG = 64;

/** Gradients per dispatch: every storage binding of the stage but the partials' one. */
export function sumsqGroup(rt: Runtime): number {
  return Math.max(1, Math.min(16, rt.device.limits.maxStorageBuffersPerShaderStage - 1));
}

const codes = new Map<string, string>();
function sumsqMultiCode(group: number, chunk: number): string {
  const key = `${group}:${chunk}`;
  let code = codes.get(key);
  if (code) return code;
  const lines: string[] = [
    `const CHUNK: u32 = ${chunk}u;`,
    `const WG: u32 = ${SUMSQ_WG}u;`,
    // Per gradient: (elements, first workgroup of its chunks, 0, 0).
    `struct P { base: u32, count: u32, pad0: u32, pad1: u32, t: array<vec4u, ${group}> }`,
  ];
  for (let j = 0; j < group; j++) lines.push(`@group(0) @binding(${j}) var<storage, read> g${j}: array<f32>;`);
  lines.push(
    `@group(0) @binding(${group}) var<storage, read_write> partial: array<f32>;`,
    `@group(0) @binding(${group + 1}) var<uniform> p: P;`,
    `@compute @workgroup_size(WG)`,
    `fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {`,
    `  var j = 0u;`,
    `  for (var k = 1u; k < p.count; k++) { if (wid.x >= p.t[k].y) { j = k; } }`,
    `  let start = (wid.x - p.t[j].y) * CHUNK;`,
    `  let end = min(start + CHUNK, p.t[j].x);`,
    `  var s = 0.0;`,
    `  switch j {`,
  );
  for (let j = 0; j < group; j++) {
    lines.push(`    ${j === group - 1 ? 'default' : `case ${j}u`}: { for (var i = start + lid.x; i < end; i += WG) { let v = g${j}[i]; s += v * v; } }`);
  }
  lines.push(`  }`, `  partial[(p.base + wid.x) * WG + lid.x] = s;`, `}`);
  code = lines.join('\n');
  codes.set(key, code);
  return code;
}

/**
 * Writes the sums of squares of `grads` (CHUNK elements per workgroup, SUMSQ_WG partials
 * each) into `partial`, gradient after gradient from slot 0; returns the number of
 * partials written. Gradients must be non-empty.
 */
export function sumsqPartials(rt: Runtime, grads: readonly Tensor[], partial: Tensor, chunk: number): number {
  const group = sumsqGroup(rt);
  let base = 0;
  for (let g0 = 0; g0 < grads.length; g0 += group) {
    const part = grads.slice(g0, g0 + group);
    const words = new Uint32Array(4 + 4 * group);
    words[0] = base;
    words[1] = part.length;
    let first = 0;
    part.forEach((g, k) => {
      words[4 + 4 * k] = g.size;
      words[4 + 4 * k + 1] = first;
      first += Math.ceil(g.size / chunk);
    });
    const buffers = Array.from({ length: group }, (_, k) => (part[k] ?? part[0]).buffer);
    rt.dispatch({
      kernel: `adamw.sumsq_multi${group}`,
      code: sumsqMultiCode(group, chunk),
      buffers: [...buffers, partial.buffer],
      uniform: words,
      workgroups: [first],
    });
    base += first;
  }
  return base * SUMSQ_WG;
}
