/**
 * What the observation cameras render: the scene's primitives packed per environment,
 * camera poses, and per-environment lighting / background / sensor noise. The layout
 * is shared by the WGSL ray-caster (shaders/camera.wgsl) and its TS reference.
 */
import type { Vec3 } from '../tasks/spec';

/** Floats per packed geom: (pos, type), (row0, size.x), (row1, size.y), (row2, size.z), (rgb, bounding radius or 0). */
export const GEOM_FLOATS = 20;
/** Floats per camera: (pos, tan(fovy/2)), (fwd, 0), (right, 0), (up, 0). */
export const CAMERA_FLOATS = 16;
/** Floats per environment: (light dir, intensity), (ambient, bg rgb), (noise std, seed bits, 0, 0). */
export const ENV_FLOATS = 12;

/** MuJoCo geom type codes the renderer understands; anything else is skipped. */
export const GEOM_TYPES = { plane: 0, sphere: 2, capsule: 3, cylinder: 5, box: 6, none: 99 } as const;

export interface CameraPose {
  pos: Vec3;
  /** Unit vectors: viewing direction, image right, image up. */
  fwd: Vec3;
  right: Vec3;
  up: Vec3;
  fovyDeg: number;
}

export interface Lighting {
  /** Direction toward the light (normalised when packed). */
  dir: Vec3;
  intensity: number;
  ambient: number;
}

export interface RenderEnv {
  light: Lighting;
  background: Vec3;
  /** Std of additive image noise in [0, 1] intensity units; 0 disables it. */
  noiseStd: number;
  noiseSeed: number;
}

/** One environment's frame: packed geoms plus its cameras. */
export interface RenderFrame {
  geoms: Float32Array;
  cameras: CameraPose[];
  env: RenderEnv;
}

export const DEFAULT_LIGHTING: Lighting = { dir: [0.3, 0.25, 1], intensity: 0.75, ambient: 0.35 };
export const DEFAULT_BACKGROUND: Vec3 = [0.55, 0.62, 0.7];

export function packEnv(e: RenderEnv, out: Float32Array, offset: number): void {
  const [x, y, z] = e.light.dir;
  const n = Math.hypot(x, y, z) || 1;
  out.set([x / n, y / n, z / n, e.light.intensity, e.light.ambient, ...e.background, e.noiseStd, 0, 0, 0], offset);
  // The seed travels as raw u32 bits inside a float slot.
  new Uint32Array(out.buffer, out.byteOffset + (offset + 9) * 4, 1)[0] = e.noiseSeed >>> 0;
}

export function packCamera(c: CameraPose, out: Float32Array, offset: number): void {
  const t = Math.tan((c.fovyDeg * Math.PI) / 360);
  out.set([...c.pos, t, ...c.fwd, 0, ...c.right, 0, ...c.up, 0], offset);
}
