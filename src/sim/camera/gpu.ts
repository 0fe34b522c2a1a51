/**
 * The WGSL batch camera: uploads packed geoms / cameras / lighting for N environments,
 * dispatches one invocation per pixel of every view, and leaves the images in a GPU
 * storage buffer (RGBA8 packed in u32, layout [env][camera][row][col]) for the model.
 * readback() copies them to the CPU as RGB bytes.
 */
import shaderSource from '../../../shaders/camera.wgsl?raw';
import { CAMERA_FLOATS, ENV_FLOATS, GEOM_FLOATS, GEOM_TYPES, packCamera, packEnv, type RenderFrame } from './types';

export interface GpuCameraOptions {
  width: number;
  height: number;
  /** Cameras per environment (agent view + wrist = 2). */
  camerasPerEnv: number;
  maxEnvs: number;
  /** Largest geom count of any environment in a batch. */
  maxGeoms: number;
}

export const MAX_IMAGE_SIZE = 256;

export class GpuCamera {
  readonly output: GPUBuffer;
  private readonly params: GPUBuffer;
  private readonly geomBuf: GPUBuffer;
  private readonly camBuf: GPUBuffer;
  private readonly envBuf: GPUBuffer;
  private readonly staging: GPUBuffer;
  private readonly pipeline: GPUComputePipeline;
  private readonly bindGroup: GPUBindGroup;
  private readonly geoms: Float32Array<ArrayBuffer>;
  private readonly cams: Float32Array<ArrayBuffer>;
  private readonly envs: Float32Array<ArrayBuffer>;
  private lastEnvs = 0;
  private destroyed = false;

  /** Builds the camera and fails with the WGSL compiler's message if the shader is rejected. */
  static async create(device: GPUDevice, opts: GpuCameraOptions): Promise<GpuCamera> {
    const module = device.createShaderModule({ code: shaderSource, label: 'camera.wgsl' });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length) throw new Error(`camera.wgsl failed to compile: ${errors.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join('; ')}`);
    return new GpuCamera(device, opts, module);
  }

  private constructor(
    readonly device: GPUDevice,
    readonly opts: GpuCameraOptions,
    module: GPUShaderModule,
  ) {
    const { width, height, camerasPerEnv, maxEnvs, maxGeoms } = opts;
    for (const [k, v] of Object.entries({ width, height })) {
      if (!Number.isInteger(v) || v < 8 || v > MAX_IMAGE_SIZE) throw new Error(`camera ${k} must be an integer in [8, ${MAX_IMAGE_SIZE}], got ${v}`);
    }
    if (!(maxEnvs >= 1)) throw new Error(`camera maxEnvs must be >= 1, got ${maxEnvs}`);
    const views = maxEnvs * camerasPerEnv;
    const S = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
    this.geoms = new Float32Array(maxEnvs * maxGeoms * GEOM_FLOATS);
    this.cams = new Float32Array(views * CAMERA_FLOATS);
    this.envs = new Float32Array(maxEnvs * ENV_FLOATS);
    this.params = device.createBuffer({ size: 32, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.geomBuf = device.createBuffer({ size: this.geoms.byteLength, usage: S });
    this.camBuf = device.createBuffer({ size: this.cams.byteLength, usage: S });
    this.envBuf = device.createBuffer({ size: this.envs.byteLength, usage: S });
    const outBytes = views * width * height * 4;
    this.output = device.createBuffer({ size: outBytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    this.staging = device.createBuffer({ size: outBytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    this.bindGroup = device.createBindGroup({
      layout: this.pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: this.params } },
        { binding: 1, resource: { buffer: this.geomBuf } },
        { binding: 2, resource: { buffer: this.camBuf } },
        { binding: 3, resource: { buffer: this.envBuf } },
        { binding: 4, resource: { buffer: this.output } },
      ],
    });
  }

  /** Renders every camera of every frame in one dispatch; images stay in `output`. */
  render(frames: RenderFrame[], step = 0): void {
    const { width, height, camerasPerEnv, maxEnvs, maxGeoms } = this.opts;
    if (frames.length === 0 || frames.length > maxEnvs) throw new Error(`render: got ${frames.length} frames, the camera holds 1..${maxEnvs}`);
    this.geoms.fill(0);
    for (let e = 0; e < frames.length; e++) {
      const f = frames[e];
      const n = f.geoms.length / GEOM_FLOATS;
      if (n > maxGeoms) throw new Error(`render: frame ${e} has ${n} geoms, the camera was built for ${maxGeoms}`);
      if (f.cameras.length !== camerasPerEnv) throw new Error(`render: frame ${e} has ${f.cameras.length} cameras, expected ${camerasPerEnv}`);
      this.geoms.set(f.geoms, e * maxGeoms * GEOM_FLOATS);
      for (let g = n; g < maxGeoms; g++) this.geoms[(e * maxGeoms + g) * GEOM_FLOATS + 3] = GEOM_TYPES.none;
      f.cameras.forEach((c, i) => packCamera(c, this.cams, (e * camerasPerEnv + i) * CAMERA_FLOATS));
      packEnv(f.env, this.envs, e * ENV_FLOATS);
    }
    const q = this.device.queue;
    q.writeBuffer(this.params, 0, new Uint32Array([width, height, maxGeoms, camerasPerEnv, frames.length, step >>> 0, 0, 0]));
    q.writeBuffer(this.geomBuf, 0, this.geoms, 0, frames.length * maxGeoms * GEOM_FLOATS);
    q.writeBuffer(this.camBuf, 0, this.cams, 0, frames.length * camerasPerEnv * CAMERA_FLOATS);
    q.writeBuffer(this.envBuf, 0, this.envs, 0, frames.length * ENV_FLOATS);
    const enc = this.device.createCommandEncoder({ label: 'camera' });
    const pass = enc.beginComputePass();
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.bindGroup);
    pass.dispatchWorkgroups(Math.ceil(width / 8), Math.ceil(height / 8), frames.length * camerasPerEnv);
    pass.end();
    q.submit([enc.finish()]);
    this.lastEnvs = frames.length;
  }

  /** RGB images of the last render: result[env][camera] is H*W*3 bytes. */
  async readback(): Promise<Uint8Array[][]> {
    const { width, height, camerasPerEnv } = this.opts;
    const views = this.lastEnvs * camerasPerEnv;
    const bytes = views * width * height * 4;
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(this.output, 0, this.staging, 0, bytes);
    this.device.queue.submit([enc.finish()]);
    await this.staging.mapAsync(GPUMapMode.READ, 0, bytes);
    const px = new Uint8Array(this.staging.getMappedRange(0, bytes).slice(0));
    this.staging.unmap();
    const out: Uint8Array[][] = [];
    const hw = width * height;
    for (let e = 0; e < this.lastEnvs; e++) {
      const row: Uint8Array[] = [];
      for (let c = 0; c < camerasPerEnv; c++) {
        const img = new Uint8Array(hw * 3);
        const base = (e * camerasPerEnv + c) * hw * 4;
        for (let i = 0; i < hw; i++) {
          img[3 * i] = px[base + 4 * i];
          img[3 * i + 1] = px[base + 4 * i + 1];
          img[3 * i + 2] = px[base + 4 * i + 2];
        }
        row.push(img);
      }
      out.push(row);
    }
    return out;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const b of [this.params, this.geomBuf, this.camBuf, this.envBuf, this.output, this.staging]) b.destroy();
  }
}
