/**
 * Elementwise ops: unary activations, scalar affine ops, binary arithmetic with numpy
 * broadcasting (shapes aligned from the right; the backward sums the gradient over the
 * broadcast dimensions), and the fused SwiGLU gate.
 *
 * GELU is the tanh approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), the
 * form GPT-2 and most small transformers train with.
 */
import unaryCode from '../../../shaders/elementwise_unary.wgsl?raw';
import unaryGradCode from '../../../shaders/elementwise_unary_grad.wgsl?raw';
import binaryCode from '../../../shaders/elementwise_binary.wgsl?raw';
import binaryVec4Code from '../../../shaders/elementwise_binary_vec4.wgsl?raw';
import binaryOpCode from '../../../shaders/elementwise_binary_op.wgsl?raw';
import swigluCode from '../../../shaders/elementwise_swiglu.wgsl?raw';
import swigluGradCode from '../../../shaders/elementwise_swiglu_grad.wgsl?raw';
import { elementAlias, elementWidth, record } from '../autograd';
import { Tensor, shapeStr } from '../tensor';
import { assertDType, assertSameShape, collapseDims, dims8, f32, grid1d, uniform } from './common';
import { sumTo } from './reduce';

/** OP codes shared with shaders/elementwise_unary*.wgsl. */
const UNARY = {
  neg: 0,
  exp: 1,
  log: 2,
  sqrt: 3,
  tanh: 4,
  sigmoid: 5,
  relu: 6,
  gelu: 7,
  silu: 8,
  scale: 9,
  addScalar: 10,
  square: 11,
} as const;
type UnaryOp = keyof typeof UNARY;

function unary(op: UnaryOp, x: Tensor, s = 0): Tensor {
  assertDType(op, 'x', x, 'f32');
  const y = new Tensor(x.rt, x.shape, 'f32');
  x.rt.dispatch({
    kernel: 'elementwise.unary',
    code: unaryCode,
    constants: { OP: UNARY[op] },
    buffers: [x.buffer, y.buffer],
    uniform: uniform(x.size, f32(s)),
    workgroups: grid1d(x.size),
  });
  return record(op, y, [x], (g) => {
    if (op === 'scale') return [scale(g, s)];
    if (op === 'addScalar') return [g];
    if (op === 'neg') return [neg(g)];
    const dx = new Tensor(x.rt, x.shape, 'f32');
    x.rt.dispatch({
      kernel: 'elementwise.unary_grad',
      code: unaryGradCode,
      constants: { OP: UNARY[op] },
      buffers: [x.buffer, g.buffer, dx.buffer],
      uniform: uniform(x.size, f32(s)),
      workgroups: grid1d(x.size),
    });
    return [dx];
  });
}

export const neg = (x: Tensor): Tensor => unary('neg', x);
export const exp = (x: Tensor): Tensor => unary('exp', x);
export const log = (x: Tensor): Tensor => unary('log', x);
export const sqrt = (x: Tensor): Tensor => unary('sqrt', x);
export const tanh = (x: Tensor): Tensor => unary('tanh', x);
export const sigmoid = (x: Tensor): Tensor => unary('sigmoid', x);
export const relu = (x: Tensor): Tensor => unary('relu', x);
/** GELU, tanh approximation (see the module comment). */
export const gelu = (x: Tensor): Tensor => unary('gelu', x);
/** x * sigmoid(x). */
export const silu = (x: Tensor): Tensor => unary('silu', x);
export const square = (x: Tensor): Tensor => unary('square', x);
/** s * x for a number s. */
export const scale = (x: Tensor, s: number): Tensor => unary('scale', x, s);
/** x + s for a number s. */
export const addScalar = (x: Tensor, s: number): Tensor => unary('addScalar', x, s);

// ------------------------------------------------------------------ broadcasting

/** numpy broadcast of two shapes, or a RangeError naming both. */
export function broadcastShape(op: string, a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new RangeError(`${op}: shapes ${shapeStr(a)} and ${shapeStr(b)} do not broadcast (dimension ${i} of the result: ${da} vs ${db})`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Row-major strides of `shape` seen from `out` (right-aligned), 0 where it broadcasts. */
function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const strides = new Array<number>(out.length).fill(0);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const k = out.length - shape.length + i;
    strides[k] = shape[i] === 1 ? 0 : s;
    s *= shape[i];
  }
  return strides;
}

/**
 * The layouts elementwise_binary_vec4.wgsl runs (collapsed dims and strides in, null
 * for any other): both operands the full [n] (same shape), or [R, C] with one operand
 * full and the other a [C] row repeated over R (bias), C a multiple of 4.
 */
function vec4Layout(c: { shape: number[]; strides: number[][] }): { row: number; rowA: boolean; rowB: boolean } | null {
  const [sa, sb] = c.strides;
  const C = c.shape[c.shape.length - 1];
  if (C % 4 !== 0) return null;
  if (c.shape.length === 1) return sa[0] === 1 && sb[0] === 1 ? { row: C, rowA: false, rowB: false } : null;
  if (c.shape.length !== 2 || sa[1] !== 1 || sb[1] !== 1) return null;
  if (sa[0] === C && sb[0] === 0) return { row: C, rowA: false, rowB: true };
  if (sa[0] === 0 && sb[0] === C) return { row: C, rowA: true, rowB: false };
  return null;
}

const BINARY = { add: 0, sub: 1, mul: 2, div: 3 } as const;
type BinaryOp = keyof typeof BINARY;

function binaryRaw(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  assertDType(op, 'a', a, 'f32');
  assertDType(op, 'b', b, 'f32');
  const shape = broadcastShape(op, a.shape, b.shape);
  const out = new Tensor(a.rt, shape, 'f32');
  if (out.size === 0) return out;
  const c = collapseDims(shape, [broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape)]);
  const v4 = vec4Layout(c);
  if (v4) {
    a.rt.dispatch({
      kernel: 'elementwise.binary4',
      code: elementAlias(4) + binaryOpCode + binaryVec4Code,
      constants: { OP: BINARY[op], ROW_A: v4.rowA ? 1 : 0, ROW_B: v4.rowB ? 1 : 0 },
      buffers: [a.buffer, b.buffer, out.buffer],
      uniform: uniform(out.size / 4, v4.row / 4),
      workgroups: grid1d(out.size / 4, 64),
    });
    return out;
  }
  a.rt.dispatch({
    kernel: 'elementwise.binary',
    code: elementAlias(1) + binaryOpCode + binaryCode,
    constants: { OP: BINARY[op] },
    buffers: [a.buffer, b.buffer, out.buffer],
    uniform: uniform(out.size, c.shape.length, 0, 0, ...dims8(op, c.shape), ...dims8(op, c.strides[0]), ...dims8(op, c.strides[1])),
    workgroups: grid1d(out.size),
  });
  return out;
}

function binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const out = binaryRaw(op, a, b);
  return record(op, out, [a, b], (g) => {
    const ga = (t: () => Tensor) => (a.requiresGrad ? sumTo(t(), a.shape) : null);
    const gb = (t: () => Tensor) => (b.requiresGrad ? sumTo(t(), b.shape) : null);
    switch (op) {
      case 'add':
        return [ga(() => g), gb(() => g)];
      case 'sub':
        return [ga(() => g), gb(() => neg(g))];
      case 'mul':
        return [ga(() => binaryRaw('mul', g, b)), gb(() => binaryRaw('mul', g, a))];
      case 'div': {
        // d/db (a / b) = -(g / b) * (a / b); the quotient is recomputed rather than
        // taken from `out`, which the caller may already have disposed.
        const gOverB = binaryRaw('div', g, b);
        return [ga(() => gOverB), gb(() => neg(binaryRaw('mul', gOverB, binaryRaw('div', a, b))))];
      }
    }
  });
}

export const add = (a: Tensor, b: Tensor): Tensor => binary('add', a, b);
export const sub = (a: Tensor, b: Tensor): Tensor => binary('sub', a, b);
export const mul = (a: Tensor, b: Tensor): Tensor => binary('mul', a, b);
export const div = (a: Tensor, b: Tensor): Tensor => binary('div', a, b);

/** silu(a) * b, the SwiGLU gate of a gated MLP; a and b have the same shape. */
export function swiglu(a: Tensor, b: Tensor): Tensor {
  assertDType('swiglu', 'a', a, 'f32');
  assertDType('swiglu', 'b', b, 'f32');
  assertSameShape('swiglu', ['a', 'b'], a, b);
  const out = new Tensor(a.rt, a.shape, 'f32');
  const w = elementWidth(a.size);
  a.rt.dispatch({
    kernel: `elementwise.swiglu${w === 4 ? '4' : ''}`,
    code: elementAlias(w) + swigluCode,
    buffers: [a.buffer, b.buffer, out.buffer],
    uniform: uniform(a.size / w),
    workgroups: grid1d(a.size / w, 64),
  });
  return record('swiglu', out, [a, b], (g) => {
    const da = new Tensor(a.rt, a.shape, 'f32');
    const db = new Tensor(a.rt, a.shape, 'f32');
    a.rt.dispatch({
      kernel: `elementwise.swiglu_grad${w === 4 ? '4' : ''}`,
      code: elementAlias(w) + swigluGradCode,
      buffers: [a.buffer, b.buffer, g.buffer, da.buffer, db.buffer],
      uniform: uniform(a.size / w),
      workgroups: grid1d(a.size / w, 64),
    });
    return [da, db];
  });
}
