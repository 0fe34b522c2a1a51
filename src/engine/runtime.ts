/**
 * The WebGPU runtime every kernel goes through: a buffer pool whose releases only
 * take effect after the work that used them is submitted, a pipeline cache keyed by
 * shader and specialization constants, dispatches batched into one open compute pass
 * (few command buffers per training step), readback, optional per-kernel GPU
 * timestamps, and a clear error when the device is lost.
 */
import { acquireDevice, type AcquireOptions, type DeviceInfo } from './device';

export class DeviceLostError extends Error {
  override name = 'DeviceLostError';
}

export class KernelError extends Error {
  override name = 'KernelError';
}

export type Workgroups = readonly [number, number?, number?];

export interface DispatchSpec {
  /** Cache key and label; also the name used by the profiler. */
  kernel: string;
  /** WGSL source. Entry point `main`; bindings @group(0) @binding(0..n-1) are `buffers` in order, then the uniform. */
  code: string;
  /** Override (specialization) constants. Part of the pipeline cache key. */
  constants?: Record<string, number>;
  buffers: GPUBuffer[];
  /** Contents of a uniform bound after the storage buffers (a 4-byte-aligned struct). */
  uniform?: ArrayBufferView | ArrayBuffer;
  workgroups: Workgroups;
}

interface PooledBuffer {
  buffer: GPUBuffer;
  bucket: number;
  usage: number;
}

const STORAGE_USAGE = 0x80 /* STORAGE */ | 0x4 /* COPY_SRC */ | 0x8; /* COPY_DST */
const UNIFORM_USAGE = 0x40 /* UNIFORM */ | 0x8; /* COPY_DST */
const READBACK_USAGE = 0x1 /* MAP_READ */ | 0x8; /* COPY_DST */

/** Size classes: powers of two up to 1 MiB, then 1 MiB steps, so a pool of reused
 * training-step shapes finds exact hits while odd sizes waste at most 2x (small) or 1 MiB. */
function bucketSize(bytes: number): number {
  const b = Math.max(16, bytes);
  if (b <= 1 << 20) return 1 << Math.ceil(Math.log2(b));
  return Math.ceil(b / (1 << 20)) * (1 << 20);
}

export interface KernelProfile {
  kernel: string;
  calls: number;
  ms: number;
}

export class Runtime {
  readonly device: GPUDevice;
  readonly info: DeviceInfo;
  private free = new Map<string, GPUBuffer[]>();
  private pendingFree: PooledBuffer[] = [];
  private meta = new WeakMap<GPUBuffer, PooledBuffer>();
  private pipelines = new Map<string, GPUComputePipeline>();
  private modules = new Map<string, GPUShaderModule>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private dispatchesInEncoder = 0;
  private lost: string | null = null;
  private firstError: string | null = null;
  private lastKernel = '';
  /** Bytes currently handed out by alloc() and not yet released. */
  liveBytes = 0;
  /** Peak of liveBytes since creation (or the last resetPeak()). */
  peakBytes = 0;
  dispatchCount = 0;
  submitCount = 0;
  /** GPU buffers created by alloc() (a pool miss) and compute pipelines compiled: a
   * steady-state training step should add to neither (trace.ts reports both). */
  buffersCreated = 0;
  pipelinesCreated = 0;

  // Profiling: one pass per dispatch with timestamp writes, resolved at flush.
  private profiling = false;
  private querySet: GPUQuerySet | null = null;
  private queryLabels: string[] = [];
  private profile = new Map<string, KernelProfile>();
  private pendingProfiles: Promise<void>[] = [];

  /** Dispatches recorded before an automatic submit; bounds command-buffer size and latency. */
  maxDispatchesPerSubmit = 512;

  constructor(device: GPUDevice, info: DeviceInfo) {
    this.device = device;
    this.info = info;
    device.lost.then((i) => {
      this.lost = `${i.reason}: ${i.message}`;
    });
    device.addEventListener('uncapturederror', (ev) => {
      const msg = (ev as GPUUncapturedErrorEvent).error.message;
      if (!this.firstError) this.firstError = `after kernel '${this.lastKernel}': ${msg}`;
    });
  }

  static async create(opts?: AcquireOptions): Promise<Runtime> {
    const { device, info } = await acquireDevice(opts);
    return new Runtime(device, info);
  }

  get hasTimestamps(): boolean {
    return this.device.features.has('timestamp-query');
  }

  get hasSubgroups(): boolean {
    return this.device.features.has('subgroups');
  }

  private assertUsable(): void {
    if (this.lost) {
      throw new DeviceLostError(
        `The GPU device was lost (${this.lost}). GPU state is gone; reload the page or restart the run from the last checkpoint.`,
      );
    }
    if (this.firstError) {
      const e = this.firstError;
      this.firstError = null;
      throw new KernelError(`WebGPU reported an error ${e}`);
    }
  }

  // ---------------------------------------------------------------- buffers

  /** A storage buffer of at least `bytes` bytes (contents undefined). */
  alloc(bytes: number, usage = STORAGE_USAGE): GPUBuffer {
    this.assertUsable();
    if (!(bytes >= 0) || !Number.isFinite(bytes)) throw new RangeError(`alloc: bad size ${bytes}`);
    const bucket = bucketSize(bytes);
    const key = `${usage}:${bucket}`;
    const list = this.free.get(key);
    let buffer = list?.pop();
    if (!buffer) {
      const max = this.device.limits.maxBufferSize;
      if (bucket > max) {
        throw new RangeError(`alloc: ${bytes} bytes exceeds the device's maxBufferSize (${max}); use a smaller batch or model`);
      }
      buffer = this.device.createBuffer({ size: bucket, usage });
      this.buffersCreated++;
      this.meta.set(buffer, { buffer, bucket, usage });
    }
    this.liveBytes += bucket;
    if (this.liveBytes > this.peakBytes) this.peakBytes = this.liveBytes;
    return buffer;
  }

  /** Hands a buffer back. It becomes reusable only after the work recorded so far is
   * submitted, because queue.writeBuffer on it would otherwise overtake that work. */
  release(buffer: GPUBuffer): void {
    const m = this.meta.get(buffer);
    if (!m) throw new Error('release: buffer was not allocated by this runtime');
    this.liveBytes -= m.bucket;
    this.pendingFree.push(m);
  }

  /** Frees every pooled buffer not in use (e.g. after a run, to give memory back). */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
  }

  resetPeak(): void {
    this.peakBytes = this.liveBytes;
  }

  upload(data: ArrayBufferView, usage = STORAGE_USAGE): GPUBuffer {
    const buf = this.alloc(data.byteLength, usage);
    this.write(buf, data);
    return buf;
  }

  write(buffer: GPUBuffer, data: ArrayBufferView, offsetBytes = 0): void {
    this.assertUsable();
    // writeBuffer needs a multiple of 4 bytes.
    if (data.byteLength % 4 !== 0) {
      const padded = new Uint8Array(Math.ceil(data.byteLength / 4) * 4);
      padded.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      this.device.queue.writeBuffer(buffer, offsetBytes, padded);
      return;
    }
    this.device.queue.writeBuffer(buffer, offsetBytes, data.buffer, data.byteOffset, data.byteLength);
  }

  // ---------------------------------------------------------------- kernels

  private pipeline(spec: DispatchSpec): GPUComputePipeline {
    const ckey = spec.constants ? JSON.stringify(Object.entries(spec.constants).sort()) : '';
    const key = `${spec.kernel}|${ckey}`;
    let p = this.pipelines.get(key);
    if (p) return p;
    let module = this.modules.get(spec.kernel);
    if (!module) {
      module = this.device.createShaderModule({ code: spec.code, label: spec.kernel });
      this.modules.set(spec.kernel, module);
    }
    this.pipelinesCreated++;
    p = this.device.createComputePipeline({
      label: spec.kernel,
      layout: 'auto',
      compute: { module, entryPoint: 'main', constants: spec.constants },
    });
    this.pipelines.set(key, p);
    return p;
  }

  /** Records one dispatch into the open compute pass. */
  dispatch(spec: DispatchSpec): void {
    this.assertUsable();
    const [x, y = 1, z = 1] = spec.workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    const maxWg = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxWg || y > maxWg || z > maxWg) {
      throw new RangeError(`${spec.kernel}: ${x}x${y}x${z} workgroups exceeds the per-dimension limit ${maxWg}`);
    }
    this.lastKernel = spec.kernel;
    const pipeline = this.pipeline(spec);
    const entries: GPUBindGroupEntry[] = spec.buffers.map((buffer, binding) => ({ binding, resource: { buffer } }));
    let uniformBuf: GPUBuffer | null = null;
    if (spec.uniform) {
      const view = spec.uniform instanceof ArrayBuffer ? new Uint8Array(spec.uniform) : spec.uniform;
      uniformBuf = this.alloc(Math.max(16, view.byteLength), UNIFORM_USAGE);
      this.write(uniformBuf, view);
      entries.push({ binding: spec.buffers.length, resource: { buffer: uniformBuf } });
    }
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    const pass = this.openPass(spec.kernel);
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    if (this.profiling) this.closePass();
    if (uniformBuf) this.release(uniformBuf);
    this.dispatchCount++;
    if (++this.dispatchesInEncoder >= this.maxDispatchesPerSubmit) this.flush();
  }

  private openPass(kernel: string): GPUComputePassEncoder {
    if (this.pass) return this.pass;
    this.encoder ??= this.device.createCommandEncoder();
    let timestampWrites: GPUComputePassTimestampWrites | undefined;
    if (this.profiling && this.querySet) {
      if (this.queryLabels.length * 2 + 2 > this.querySet.count) this.flush();
      this.encoder ??= this.device.createCommandEncoder();
      const i = this.queryLabels.length;
      this.queryLabels.push(kernel);
      timestampWrites = { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
    }
    this.pass = this.encoder.beginComputePass({ timestampWrites });
    return this.pass;
  }

  private closePass(): void {
    this.pass?.end();
    this.pass = null;
  }

  /** Copies within the current command stream (ordered after earlier dispatches). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.assertUsable();
    this.closePass();
    this.encoder ??= this.device.createCommandEncoder();
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Submits everything recorded so far. Buffers released before this become reusable. */
  flush(): void {
    this.closePass();
    if (this.encoder) {
      let resolveBuf: GPUBuffer | null = null;
      let labels: string[] = [];
      if (this.profiling && this.querySet && this.queryLabels.length) {
        labels = this.queryLabels;
        this.queryLabels = [];
        const n = labels.length * 2;
        resolveBuf = this.device.createBuffer({ size: n * 8, usage: 0x200 /* QUERY_RESOLVE */ | 0x4 });
        this.encoder.resolveQuerySet(this.querySet, 0, n, resolveBuf, 0);
        const read = this.device.createBuffer({ size: n * 8, usage: READBACK_USAGE });
        this.encoder.copyBufferToBuffer(resolveBuf, 0, read, 0, n * 8);
        this.device.queue.submit([this.encoder.finish()]);
        this.pendingProfiles.push(
          read.mapAsync(1 /* READ */).then(() => {
            const t = new BigInt64Array(read.getMappedRange().slice(0));
            read.destroy();
            resolveBuf?.destroy();
            for (let i = 0; i < labels.length; i++) {
              const ms = Number(t[2 * i + 1] - t[2 * i]) / 1e6;
              const p = this.profile.get(labels[i]) ?? { kernel: labels[i], calls: 0, ms: 0 };
              p.calls++;
              p.ms += ms > 0 ? ms : 0;
              this.profile.set(labels[i], p);
            }
          }),
        );
      } else {
        this.device.queue.submit([this.encoder.finish()]);
      }
      this.encoder = null;
      this.submitCount++;
      this.dispatchesInEncoder = 0;
    }
    for (const m of this.pendingFree) {
      const key = `${m.usage}:${m.bucket}`;
      let list = this.free.get(key);
      if (!list) this.free.set(key, (list = []));
      list.push(m.buffer);
    }
    this.pendingFree = [];
  }

  /** Reads `bytes` bytes of `buffer` back to the CPU (submits pending work first). */
  async read(buffer: GPUBuffer, bytes: number, offsetBytes = 0): Promise<ArrayBuffer> {
    this.assertUsable();
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.alloc(size, READBACK_USAGE);
    this.copy(buffer, offsetBytes, staging, 0, size);
    this.flush();
    try {
      await staging.mapAsync(1 /* GPUMapMode.READ */, 0, size);
    } catch (e) {
      this.assertUsable();
      throw e;
    }
    const out = staging.getMappedRange(0, size).slice(0, bytes);
    staging.unmap();
    this.release(staging);
    this.assertUsable();
    return out;
  }

  /** Waits until the GPU has finished everything submitted so far. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.assertUsable();
  }

  // ---------------------------------------------------------------- profiling

  /** Per-kernel GPU time. Profiling splits every dispatch into its own pass, so it
   * perturbs what it measures a little; use it to rank kernels, not for headline figures. */
  startProfiling(maxDispatchesPerSubmit = 1024): void {
    if (!this.hasTimestamps) throw new Error('startProfiling: the adapter has no timestamp-query feature');
    this.flush();
    this.profiling = true;
    this.querySet ??= this.device.createQuerySet({ type: 'timestamp', count: maxDispatchesPerSubmit * 2 });
    this.profile.clear();
  }

  async stopProfiling(): Promise<KernelProfile[]> {
    this.flush();
    this.profiling = false;
    await Promise.all(this.pendingProfiles);
    this.pendingProfiles = [];
    return [...this.profile.values()].sort((a, b) => b.ms - a.ms);
  }

  destroy(): void {
    this.flush();
    this.trim();
    this.querySet?.destroy();
    this.device.destroy();
  }
}
