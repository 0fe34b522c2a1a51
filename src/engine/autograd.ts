/**
 * Reverse-mode autodiff over GPU tensors. Ops call record() with a backward closure;
 * backward() walks the graph from a scalar loss in reverse topological order. Backward
 * closures run with recording switched off (no higher-order gradients are needed), and
 * leaf gradients accumulate into a persistent `.grad` that survives scope disposal.
 */
import { Scope, Tensor, gradMode, shapeStr, type GradNode, type PendingGrads } from './tensor';

export function isGradEnabled(): boolean {
  return gradMode.enabled;
}

/** Runs fn without recording gradients (inference, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradMode.enabled;
  gradMode.enabled = false;
  try {
    return fn();
  } finally {
    gradMode.enabled = prev;
  }
}

/** Attaches a backward rule to `out` if any input needs a gradient. Returns `out`. */
export function record(
  name: string,
  out: Tensor,
  inputs: readonly Tensor[],
  backward: (gradOut: Tensor, pending?: PendingGrads) => (Tensor | null)[],
): Tensor {
  if (gradMode.enabled && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    const node: GradNode = { name, inputs, backward };
    out.node = node;
  }
  return out;
}

// Element type V is f32 or vec4f (prepended by elementAlias): vec4 accesses when the size
// is a multiple of 4, which on SwiftShader cost about half as much per element.
const ACCUMULATE_WGSL = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> acc: array<V>;
@group(0) @binding(1) var<storage, read> g: array<V>;
struct P { n: u32 }
@group(0) @binding(2) var<uniform> p: P;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = id.x + id.y * nw.x * 64u;
  if (i < p.n) { acc[i] = acc[i] + g[i]; }
}`;

const ADD_WGSL = /* wgsl */ `
@group(0) @binding(0) var<storage, read> a: array<V>;
@group(0) @binding(1) var<storage, read> b: array<V>;
@group(0) @binding(2) var<storage, read_write> o: array<V>;
struct P { n: u32 }
@group(0) @binding(3) var<uniform> p: P;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = id.x + id.y * nw.x * 64u;
  if (i < p.n) { o[i] = a[i] + b[i]; }
}`;

/** Element width of an elementwise pass over n floats: 4 (vec4) when n allows. */
export const elementWidth = (n: number): 1 | 4 => (n % 4 === 0 ? 4 : 1);
/** The alias line a kernel written for element type V (f32 or vec4f) is compiled with. */
export const elementAlias = (w: 1 | 4): string => `alias V = ${w === 4 ? 'vec4f' : 'f32'};\n`;

/** 1-D element grid split over two dimensions so large tensors stay under the 65535 limit. */
export function grid1d(n: number, perGroup = 256): [number, number] {
  const groups = Math.ceil(n / perGroup);
  if (groups <= 65535) return [Math.max(groups, 1), 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y];
}

function addInto(acc: Tensor, g: Tensor): void {
  acc.rt.dispatch({
    kernel: `autograd.accumulate${elementWidth(acc.size) === 4 ? '4' : ''}`,
    code: elementAlias(elementWidth(acc.size)) + ACCUMULATE_WGSL,
    buffers: [acc.buffer, g.buffer],
    uniform: new Uint32Array([acc.size / elementWidth(acc.size), 0, 0, 0]),
    workgroups: grid1d(acc.size / elementWidth(acc.size), 64),
  });
}

function addNew(a: Tensor, b: Tensor): Tensor {
  const o = new Tensor(a.rt, a.shape, 'f32');
  a.rt.dispatch({
    kernel: `autograd.add${elementWidth(a.size) === 4 ? '4' : ''}`,
    code: elementAlias(elementWidth(a.size)) + ADD_WGSL,
    buffers: [a.buffer, b.buffer, o.buffer],
    uniform: new Uint32Array([a.size / elementWidth(a.size), 0, 0, 0]),
    workgroups: grid1d(a.size / elementWidth(a.size), 64),
  });
  return o;
}

/** Ones-like seed for a scalar loss. */
function onesLike(t: Tensor): Tensor {
  const o = new Tensor(t.rt, t.shape, 'f32');
  t.rt.write(o.buffer, new Float32Array(t.size).fill(1));
  return o;
}

/**
 * Computes d(loss)/d(leaf) for every leaf with requiresGrad reachable from `loss`,
 * adding into leaf.grad. `loss` must be a scalar unless `gradOut` is given.
 */
export function backward(loss: Tensor, gradOut?: Tensor): void {
  if (!loss.requiresGrad) throw new Error('backward: the loss does not depend on any tensor that requires a gradient');
  if (!gradOut && loss.size !== 1) {
    throw new Error(`backward: loss must be a scalar, got shape ${shapeStr(loss.shape)} (pass gradOut for non-scalars)`);
  }
  // Topological order by iterative DFS (graphs of deep models overflow recursion).
  const order: Tensor[] = [];
  const seen = new Set<number>();
  const stack: [Tensor, number][] = [[loss, 0]];
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    if (i === 0 && seen.has(t.id)) {
      stack.pop();
      continue;
    }
    seen.add(t.id);
    const inputs = t.node?.inputs ?? [];
    if (i < inputs.length) {
      top[1]++;
      const child = inputs[i];
      if (child.requiresGrad && !seen.has(child.id)) stack.push([child, 0]);
    } else {
      stack.pop();
      order.push(t);
    }
  }

  noGrad(() => {
    const grads = new Map<number, Tensor>();
    grads.set(loss.id, gradOut ?? onesLike(loss));
    for (let k = order.length - 1; k >= 0; k--) {
      const t = order[k];
      const g = grads.get(t.id);
      if (!g) continue;
      grads.delete(t.id);
      if (!t.node) {
        accumulateLeaf(t, g);
        continue;
      }
      const node = t.node;
      // Inputs whose gradient so far the rule took to add in its own kernel.
      const taken = new Set<number>();
      const pending: PendingGrads = {
        take: (j) => {
          const inp = node.inputs[j];
          const prev = inp?.requiresGrad ? grads.get(inp.id) : undefined;
          if (!prev) return null;
          grads.delete(inp.id);
          taken.add(j);
          return prev;
        },
      };
      const inGrads = node.backward(g, pending);
      node.inputs.forEach((inp, j) => {
        const gi = inGrads[j];
        if (taken.has(j) && !gi) throw new Error(`backward of '${node.name}': took the pending gradient of input ${j} but returned none`);
        if (!gi || !inp.requiresGrad) return;
        if (gi.size !== inp.size) {
          throw new Error(
            `backward of '${node.name}': gradient for input ${j} has shape ${shapeStr(gi.shape)}, input has ${shapeStr(inp.shape)}`,
          );
        }
        const prev = grads.get(inp.id);
        // Out-of-place: a backward rule may hand the same tensor to two inputs. A taken
        // gradient is already in gi (unless the same tensor is also another input).
        grads.set(inp.id, prev ? addNew(prev, gi) : gi);
      });
    }
  });
}

function accumulateLeaf(leaf: Tensor, g: Tensor): void {
  if (!leaf.grad) {
    const acc = new Tensor(leaf.rt, leaf.shape, 'f32');
    Scope.current?.untrack(acc);
    leaf.rt.copy(g.buffer, 0, acc.buffer, 0, g.byteLength);
    leaf.grad = acc;
    return;
  }
  addInto(leaf.grad, g);
}

/** Zeroes (frees) the gradients of the given leaves. */
export function zeroGrad(params: Iterable<Tensor>): void {
  for (const p of params) {
    p.grad?.dispose();
    p.grad = null;
  }
}
