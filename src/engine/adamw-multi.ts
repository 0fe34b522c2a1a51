/**
 * The AdamW update of many parameters in one dispatch (issue 11: fewer dispatches per
 * step). The optimizer keeps every moment in an arena it owns (per parameter, m then v,
 * at an offset), so a parameter costs two bindings (its weights and its gradient) and one
 * dispatch updates up to `adamwGroup(rt)` of them, where there was one dispatch per
 * parameter. WGSL cannot index bindings or pass storage pointers to functions, so the
 * update is written out once per binding (a switch on the parameter index). Each
 * workgroup updates one CHUNK of one parameter; the formula is torch.optim.AdamW's, with
 * the same f32 operations in the same order whatever the group size.
 */
import type { Runtime } from './runtime';
import type { Tensor } from './tensor';

export const UPDATE_CHUNK = 2048;
const WG = 256;
/** At most this many workgroups per dispatch (the per-dimension limit of the spec). */
export const MAX_UPDATE_WORKGROUPS = 65535;

/** Parameters per dispatch: two bindings each, beside the arena's and the clip's. */
export function adamwGroup(rt: Runtime): number {
  return Math.max(1, Math.min(8, Math.floor((rt.device.limits.maxStorageBuffersPerShaderStage - 2) / 2)));
}

const codes = new Map<number, string>();
function updateCode(group: number): string {
  let code = codes.get(group);
  if (code) return code;
  const lines = [
    `// AdamW (Loshchilov & Hutter, as torch.optim.AdamW) of up to ${group} parameters:`,
    `//   g' = g * clipScale;  m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'^2`,
    `//   w = w (1 - lr wd) - lr (m / bc1) / (sqrt(v / bc2) + eps)`,
    `// info[j] = (elements, first workgroup, arena offset of m (v follows), 0);`,
    `// hp[j] = (lr, wd, bc1, bc2) with the bias corrections computed on the CPU per step.`,
    `struct U { b1: f32, b2: f32, eps: f32, count: u32, info: array<vec4u, ${group}>, hp: array<vec4f, ${group}> }`,
  ];
  for (let j = 0; j < group; j++) {
    lines.push(`@group(0) @binding(${2 * j}) var<storage, read_write> w${j}: array<f32>;`);
    lines.push(`@group(0) @binding(${2 * j + 1}) var<storage, read> g${j}: array<f32>;`);
  }
  lines.push(
    `@group(0) @binding(${2 * group}) var<storage, read_write> mv: array<f32>;`,
    `@group(0) @binding(${2 * group + 1}) var<storage, read> clip: array<f32>;   // (norm, scale)`,
    `@group(0) @binding(${2 * group + 2}) var<uniform> u: U;`,
    `@compute @workgroup_size(${WG})`,
    `fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {`,
    `  var j = 0u;`,
    `  for (var k = 1u; k < u.count; k++) { if (wid.x >= u.info[k].y) { j = k; } }`,
    `  let n = u.info[j].x;`,
    `  let mo = u.info[j].z;`,
    `  let vo = mo + n;`,
    `  let start = (wid.x - u.info[j].y) * ${UPDATE_CHUNK}u;`,
    `  let end = min(start + ${UPDATE_CHUNK}u, n);`,
    `  let lr = u.hp[j].x;`,
    `  let wd = u.hp[j].y;`,
    `  let bc1 = u.hp[j].z;`,
    `  let bc2 = u.hp[j].w;`,
    `  let scale = clip[1];`,
    `  switch j {`,
  );
  for (let j = 0; j < group; j++) {
    lines.push(
      `    ${j === group - 1 ? 'default' : `case ${j}u`}: {`,
      `      for (var i = start + lid.x; i < end; i += ${WG}u) {`,
      `        let g = g${j}[i] * scale;`,
      `        let mi = u.b1 * mv[mo + i] + (1.0 - u.b1) * g;`,
      `        let vi = u.b2 * mv[vo + i] + (1.0 - u.b2) * g * g;`,
      `        mv[mo + i] = mi;`,
      `        mv[vo + i] = vi;`,
      `        let update = (mi / bc1) / (sqrt(vi / bc2) + u.eps);`,
      `        w${j}[i] = w${j}[i] * (1.0 - lr * wd) - lr * update;`,
      `      }`,
      `    }`,
    );
  }
  lines.push(`  }`, `}`);
  code = lines.join('\n');
  codes.set(group, code);
  return code;
}

export interface UpdateItem {
  param: Tensor;
  grad: Tensor;
  /** Float offset of the parameter's m in the arena (v follows at offset + size). */
  offset: number;
  lr: number;
  weightDecay: number;
  bc1: number;
  bc2: number;
}

/**
 * Updates `items` (all in `arena`) in as few dispatches as `group` and the workgroup limit
 * allow, in order; returns the number of dispatches.
 */
export function dispatchAdamwUpdates(
  rt: Runtime,
  items: readonly UpdateItem[],
  arena: Tensor,
  clip: Tensor,
  hyper: { beta1: number; beta2: number; eps: number },
  group = adamwGroup(rt),
): number {
  let dispatches = 0;
  let i = 0;
  while (i < items.length) {
    const part: UpdateItem[] = [];
    let groups = 0;
    while (i < items.length && part.length < group) {
      const chunks = Math.ceil(items[i].param.size / UPDATE_CHUNK);
      if (part.length && groups + chunks > MAX_UPDATE_WORKGROUPS) break;
      if (chunks > MAX_UPDATE_WORKGROUPS) {
        throw new RangeError(`AdamW: parameter ${items[i].param.name ?? '#' + items[i].param.id} has ${items[i].param.size} elements, more than one update dispatch covers (${MAX_UPDATE_WORKGROUPS * UPDATE_CHUNK})`);
      }
      part.push(items[i++]);
      groups += chunks;
    }
    // Header (b1, b2, eps, count), then info[group] as vec4u, then hp[group] as vec4f.
    const buf = new ArrayBuffer(16 + 32 * group);
    const f = new Float32Array(buf);
    const w = new Uint32Array(buf);
    f[0] = hyper.beta1;
    f[1] = hyper.beta2;
    f[2] = hyper.eps;
    w[3] = part.length;
    let first = 0;
    part.forEach((it, k) => {
      const info = 4 + 4 * k;
      w[info] = it.param.size;
      w[info + 1] = first;
      w[info + 2] = it.offset;
      const hp = 4 + 4 * group + 4 * k;
      f[hp] = it.lr;
      f[hp + 1] = it.weightDecay;
      f[hp + 2] = it.bc1;
      f[hp + 3] = it.bc2;
      first += Math.ceil(it.param.size / UPDATE_CHUNK);
    });
    const unused = scratchBuffers(rt, group);
    const buffers: GPUBuffer[] = [];
    for (let k = 0; k < group; k++) {
      // An unused slot (no workgroup selects it) still needs buffers: its own scratch
      // for the writable binding, since Dawn rejects writable bindings that alias, and
      // the first gradient for the read-only one.
      if (k < part.length) buffers.push(part[k].param.buffer, part[k].grad.buffer);
      else buffers.push(unused[k], part[0].grad.buffer);
    }
    rt.dispatch({
      kernel: `adamw.update_multi${group}`,
      code: updateCode(group),
      buffers: [...buffers, arena.buffer, clip.buffer],
      uniform: new Uint32Array(buf),
      workgroups: [first],
    });
    dispatches++;
  }
  return dispatches;
}

/** One 16-byte scratch buffer per slot of a group, kept for the runtime's lifetime. */
const scratch = new WeakMap<Runtime, GPUBuffer[]>();
function scratchBuffers(rt: Runtime, group: number): GPUBuffer[] {
  const list = scratch.get(rt) ?? [];
  // Straight from the device: a fixed few bytes, outside the pool's accounting.
  while (list.length < group) list.push(rt.device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE }));
  scratch.set(rt, list);
  return list;
}
