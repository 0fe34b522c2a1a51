/**
 * Step traces: what one unit of GPU work (a training step, a forward pass) costs, in the
 * terms that tell where time goes on a given adapter: dispatches, submits, the CPU time
 * spent recording the work, and (when the adapter has timestamp queries) GPU time per
 * kernel and per kernel family. Used by `npm run bench:train` and usable from any script.
 *
 * Encode time is the synchronous part of the traced call: everything the JS does before
 * its first `await` yields, i.e. building the graph, the backward pass, the optimizer and
 * submitting, but not waiting for the GPU. That is exactly the part a faster adapter
 * cannot hide, so it needs no hooks inside the code being traced (it relies only on the
 * call doing its recording before it awaits results, as Pretrainer.stepOn does).
 */
import type { KernelProfile, Runtime } from './runtime';

export interface StepTrace {
  /** Kernel dispatches recorded during the call. */
  dispatches: number;
  /** Command buffers submitted during the call. */
  submits: number;
  /** GPU buffers allocated (pool misses) and pipelines compiled during the call: zero in
   * a steady-state step, where every buffer comes from the pool and every pipeline from
   * the cache. */
  buffersCreated: number;
  pipelinesCreated: number;
  /** CPU time of the synchronous part of the call (recording and submitting), ms. */
  encodeMs: number;
  /** Wall time of the whole call, ms (inflated by profiling when `gpu` is set). */
  wallMs: number;
  /** Per-kernel GPU time when profiled (sorted by time, most first), else null. */
  gpu: KernelProfile[] | null;
}

/** The family a kernel name belongs to: its first dot-separated part ('matmul.direct' is
 * 'matmul', 'attention.bwd.dq' is 'attention'), the unit in which the step's GPU time is reported. */
export function kernelFamily(kernel: string): string {
  const dot = kernel.indexOf('.');
  return dot < 0 ? kernel : kernel.slice(0, dot);
}

/**
 * Runs `call` once and traces it. With `profile`, every dispatch gets GPU timestamps
 * (Runtime.startProfiling: one pass per dispatch, which perturbs wall time a little, so
 * time steps/s on unprofiled calls); silently unprofiled when the adapter lacks
 * timestamp queries.
 */
export async function traceCall<T>(rt: Runtime, call: () => Promise<T>, opts: { profile?: boolean } = {}): Promise<{ result: T; trace: StepTrace }> {
  const profile = !!opts.profile && rt.hasTimestamps;
  if (profile) rt.startProfiling();
  const d0 = rt.dispatchCount;
  const s0 = rt.submitCount;
  const b0 = rt.buffersCreated;
  const p0 = rt.pipelinesCreated;
  const t0 = performance.now();
  let pending: Promise<T>;
  try {
    pending = call();
  } catch (e) {
    if (profile) await rt.stopProfiling();
    throw e;
  }
  const encodeMs = performance.now() - t0;
  let gpu: KernelProfile[] | null = null;
  let result: T;
  try {
    result = await pending;
  } finally {
    // Stop even when the call failed, so a later trace does not start inside a profile.
    if (profile) gpu = await rt.stopProfiling();
  }
  const wallMs = performance.now() - t0;
  return {
    result,
    trace: {
      dispatches: rt.dispatchCount - d0,
      submits: rt.submitCount - s0,
      buffersCreated: rt.buffersCreated - b0,
      pipelinesCreated: rt.pipelinesCreated - p0,
      encodeMs,
      wallMs,
      gpu,
    },
  };
}

export interface FamilyTime {
  family: string;
  calls: number;
  ms: number;
}

/** GPU time per kernel family, most first. */
export function gpuByFamily(kernels: readonly KernelProfile[]): FamilyTime[] {
  const out = new Map<string, FamilyTime>();
  for (const k of kernels) {
    const f = kernelFamily(k.kernel);
    const e = out.get(f) ?? { family: f, calls: 0, ms: 0 };
    e.calls += k.calls;
    e.ms += k.ms;
    out.set(f, e);
  }
  return [...out.values()].sort((a, b) => b.ms - a.ms);
}

/** Averages traces of several calls of the same work (e.g. the profiled steps of a
 * benchmark): per-kernel calls and times are divided by the number of traces. */
export function meanTrace(traces: readonly StepTrace[]): StepTrace {
  if (!traces.length) throw new RangeError('meanTrace: no traces');
  const n = traces.length;
  const avg = (f: (t: StepTrace) => number) => traces.reduce((s, t) => s + f(t), 0) / n;
  let gpu: KernelProfile[] | null = null;
  if (traces.every((t) => t.gpu)) {
    const by = new Map<string, KernelProfile>();
    for (const t of traces) {
      for (const k of t.gpu ?? []) {
        const e = by.get(k.kernel) ?? { kernel: k.kernel, calls: 0, ms: 0 };
        e.calls += k.calls / n;
        e.ms += k.ms / n;
        by.set(k.kernel, e);
      }
    }
    gpu = [...by.values()].sort((a, b) => b.ms - a.ms);
  }
  return {
    dispatches: avg((t) => t.dispatches),
    submits: avg((t) => t.submits),
    buffersCreated: avg((t) => t.buffersCreated),
    pipelinesCreated: avg((t) => t.pipelinesCreated),
    encodeMs: avg((t) => t.encodeMs),
    wallMs: avg((t) => t.wallMs),
    gpu,
  };
}

/** A plain-text report: the counts, then GPU time per family and per kernel. */
export function formatTrace(trace: StepTrace, opts: { kernels?: number } = {}): string {
  const lines = [
    `dispatches ${fmt(trace.dispatches)}, submits ${fmt(trace.submits)}, buffers created ${fmt(trace.buffersCreated)}, pipelines created ${fmt(trace.pipelinesCreated)}, encode ${trace.encodeMs.toFixed(1)} ms, wall ${trace.wallMs.toFixed(1)} ms`,
  ];
  if (!trace.gpu) {
    lines.push('(no GPU timestamps: the adapter has no timestamp-query feature or the call was not profiled)');
    return lines.join('\n');
  }
  const total = trace.gpu.reduce((s, k) => s + k.ms, 0);
  const row = (name: string, calls: number, ms: number) =>
    `  ${name.padEnd(28)} ${fmt(calls).padStart(6)} ${ms.toFixed(2).padStart(10)} ${((100 * ms) / (total || 1)).toFixed(1).padStart(6)}%`;
  lines.push(`GPU ${total.toFixed(1)} ms by family:`, `  ${'family'.padEnd(28)} ${'calls'.padStart(6)} ${'ms'.padStart(10)} ${'share'.padStart(7)}`);
  for (const f of gpuByFamily(trace.gpu)) lines.push(row(f.family, f.calls, f.ms));
  const top = trace.gpu.slice(0, opts.kernels ?? trace.gpu.length);
  lines.push('by kernel:');
  for (const k of top) lines.push(row(k.kernel, k.calls, k.ms));
  return lines.join('\n');
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(1);
}
