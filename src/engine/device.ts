/**
 * Obtaining a GPUDevice: the only host-specific code in the engine (DESIGN.md 1).
 * Browser and worker: navigator.gpu. Node: the `webgpu` package (Dawn), with
 * SwiftShader (Vulkan on the CPU) chosen automatically on machines without a GPU.
 */

export interface DeviceInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  features: string[];
  limits: Record<string, number>;
  host: 'browser' | 'node';
  software: boolean;
}

export interface AcquiredDevice {
  device: GPUDevice;
  adapter: GPUAdapter;
  info: DeviceInfo;
}

export class WebGPUUnavailableError extends Error {
  override name = 'WebGPUUnavailableError';
}

const SWIFTSHADER_ICD_CANDIDATES = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
];

// Limits we raise to the adapter's maximum: training needs big storage buffers and
// large workgroup tiles; the defaults (128 MiB bindings, 16 KiB shared) are too small.
const RAISED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupsPerDimension',
] as const;

const OPTIONAL_FEATURES: GPUFeatureName[] = ['timestamp-query', 'subgroups', 'shader-f16'] as GPUFeatureName[];

function isNode(): boolean {
  return typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined' && typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope === 'undefined';
}

const nodeInstances: GPU[] = [];

// Dawn's GPU object (the instance) must outlive every device made from it: if V8
// collects it, Dawn destroys the instance under a live device and the process dies at
// random inside event processing (SIGSEGV, futex/mutex assertions). Keep it forever.
let nodeGpuInstance: GPU | null = null;
let nodeGpuSoftware = false;

async function nodeGPU(): Promise<{ gpu: GPU; software: boolean }> {
  if (nodeGpuInstance) return { gpu: nodeGpuInstance, software: nodeGpuSoftware };
  const fs = await import(/* @vite-ignore */ 'node:fs');
  let software = false;
  if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && process.env.PRTS_GPU !== 'system') {
    const hasGpu =
      fs.existsSync('/dev/nvidia0') ||
      (fs.existsSync('/dev/dri') && fs.readdirSync('/dev/dri').some((f: string) => f.startsWith('renderD')));
    if (!hasGpu) {
      const icd = SWIFTSHADER_ICD_CANDIDATES.find((p) => fs.existsSync(p));
      if (!icd) {
        throw new WebGPUUnavailableError(
          'No GPU found and no SwiftShader Vulkan driver to fall back on. Install it with ' +
            '`apt-get install -y chromium libvulkan1` (it ships /usr/lib/chromium/vk_swiftshader_icd.json), ' +
            'or set VK_ICD_FILENAMES to a Vulkan ICD.',
        );
      }
      process.env.VK_ICD_FILENAMES = icd;
      software = true;
    }
  } else if (process.env.VK_ICD_FILENAMES?.includes('swiftshader')) {
    software = true;
  }
  if (!process.env.XDG_RUNTIME_DIR) {
    // Vulkan's window-system probing prints "XDG_RUNTIME_DIR is invalid" on every device
    // in headless shells; a private runtime dir (0700, as the spec asks) silences it.
    const os = await import(/* @vite-ignore */ 'node:os');
    const dir = `${os.tmpdir()}/prts-xdg-${process.getuid?.() ?? 'user'}`;
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    process.env.XDG_RUNTIME_DIR = dir;
  }
  const pkg = 'webgpu';
  const mod = (await import(/* @vite-ignore */ pkg)) as { create: (o: string[]) => GPU; globals: object };
  // Dawn's globals (GPUBufferUsage, GPUMapMode, ...) are what the WebGPU spec puts on globalThis.
  Object.assign(globalThis, mod.globals);
  // Dawn's instance must outlive every device made from it: once the GPU object is
  // garbage-collected, the bindings' pending ProcessEvents calls touch a freed instance
  // and the process dies (segfault in CallbackTaskManager::Flush). Keep it for the process.
  nodeInstances.push(mod.create([]));
  return { gpu: nodeInstances[nodeInstances.length - 1], software };
}

export interface AcquireOptions {
  powerPreference?: GPUPowerPreference;
  /** Features to require; acquisition fails with a clear message when absent. */
  requiredFeatures?: GPUFeatureName[];
}

export async function acquireDevice(opts: AcquireOptions = {}): Promise<AcquiredDevice> {
  let gpu: GPU | undefined;
  let software = false;
  const node = isNode();
  if (!node) {
    gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
    if (!gpu) {
      throw new WebGPUUnavailableError(
        'WebGPU is not available in this browser. Use a recent Chrome/Chromium or Edge (113+), ' +
          'served from https or localhost; on Linux start Chromium with --enable-unsafe-webgpu.',
      );
    }
  } else {
    ({ gpu, software } = await nodeGPU());
  }
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) {
    throw new WebGPUUnavailableError(
      node
        ? 'Dawn found no WebGPU adapter. Check `libvulkan1` is installed and VK_ICD_FILENAMES points at a working ICD ' +
            '(without a GPU: /usr/lib/chromium/vk_swiftshader_icd.json from the Debian package chromium).'
        : 'The browser exposes navigator.gpu but returned no adapter (GPU blocklisted or disabled?).',
    );
  }
  for (const f of opts.requiredFeatures ?? []) {
    if (!adapter.features.has(f)) throw new WebGPUUnavailableError(`The adapter lacks the required feature '${f}'.`);
  }
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) {
    const v = (adapter.limits as unknown as Record<string, number>)[name];
    if (typeof v === 'number') requiredLimits[name] = v;
  }
  const requiredFeatures = [
    ...new Set([...(opts.requiredFeatures ?? []), ...OPTIONAL_FEATURES.filter((f) => adapter.features.has(f))]),
  ];
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  const ai = adapter.info;
  const limits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) limits[name] = (device.limits as unknown as Record<string, number>)[name];
  const desc = `${ai.vendor} ${ai.architecture} ${ai.device} ${ai.description}`.toLowerCase();
  return {
    device,
    adapter,
    info: {
      vendor: ai.vendor,
      architecture: ai.architecture,
      device: ai.device,
      description: ai.description,
      features: [...device.features].map(String).sort(),
      limits,
      host: node ? 'node' : 'browser',
      software: software || desc.includes('swiftshader'),
    },
  };
}
