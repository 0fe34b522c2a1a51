/**
 * Plain-TypeScript reference of shaders/camera.wgsl: the same ray casts, shading,
 * noise and quantisation, in float64. Used by tests to check the GPU output and as a
 * CPU fallback.
 */
import { CAMERA_FLOATS, ENV_FLOATS, GEOM_FLOATS, GEOM_TYPES, packCamera, packEnv, type RenderFrame } from './types';

const T_MAX = 1e9;
type V = [number, number, number];
interface Hit {
  t: number;
  n: V;
}
const NO: Hit = { t: T_MAX, n: [0, 0, 1] };
const dot = (a: V, b: V) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];

function hitPlane(o: V, d: V): Hit {
  if (Math.abs(d[2]) < 1e-9) return NO;
  const t = -o[2] / d[2];
  return t <= 0 ? NO : { t, n: [0, 0, 1] };
}

function hitSphere(o: V, d: V, r: number): Hit {
  const b = dot(o, d);
  const c = dot(o, o) - r * r;
  const disc = b * b - c;
  if (disc < 0) return NO;
  const s = Math.sqrt(disc);
  let t = -b - s;
  if (t <= 0) t = -b + s;
  if (t <= 0) return NO;
  return { t, n: [(o[0] + t * d[0]) / r, (o[1] + t * d[1]) / r, (o[2] + t * d[2]) / r] };
}

function hitBox(o: V, d: V, h: V): Hit {
  let tmin = -T_MAX;
  let tmax = T_MAX;
  let n: V = [0, 0, 1];
  for (let a = 0; a < 3; a++) {
    if (Math.abs(d[a]) < 1e-9) {
      if (Math.abs(o[a]) > h[a]) return NO;
    } else {
      const inv = 1 / d[a];
      let t1 = (-h[a] - o[a]) * inv;
      let t2 = (h[a] - o[a]) * inv;
      let sgn = -1;
      if (t1 > t2) {
        [t1, t2] = [t2, t1];
        sgn = 1;
      }
      if (t1 > tmin) {
        tmin = t1;
        n = [0, 0, 0];
        n[a] = sgn;
      }
      tmax = Math.min(tmax, t2);
      if (tmin > tmax) return NO;
    }
  }
  return tmin <= 0 ? NO : { t: tmin, n };
}

function hitSide(o: V, d: V, r: number, h: number): Hit {
  const a = d[0] * d[0] + d[1] * d[1];
  if (a > 1e-12) {
    const b = o[0] * d[0] + o[1] * d[1];
    const c = o[0] * o[0] + o[1] * o[1] - r * r;
    const disc = b * b - a * c;
    if (disc >= 0) {
      const t = (-b - Math.sqrt(disc)) / a;
      const z = o[2] + t * d[2];
      if (t > 0 && Math.abs(z) <= h) return { t, n: [(o[0] + t * d[0]) / r, (o[1] + t * d[1]) / r, 0] };
    }
  }
  return NO;
}

function hitCylinder(o: V, d: V, r: number, h: number): Hit {
  let best = hitSide(o, d, r, h);
  if (Math.abs(d[2]) > 1e-9) {
    for (const k of [0, 1]) {
      const zc = k === 1 ? h : -h;
      const t = (zc - o[2]) / d[2];
      const px = o[0] + t * d[0];
      const py = o[1] + t * d[1];
      if (t > 0 && t < best.t && px * px + py * py <= r * r) best = { t, n: [0, 0, k === 1 ? 1 : -1] };
    }
  }
  return best;
}

function hitCapsule(o: V, d: V, r: number, h: number): Hit {
  let best = hitSide(o, d, r, h);
  for (const k of [0, 1]) {
    const cz = k === 1 ? h : -h;
    const s = hitSphere([o[0], o[1], o[2] - cz], d, r);
    if (s.t < best.t) best = s;
  }
  return best;
}

function hitGeom(g: Float32Array, b: number, ro: V, rd: V): Hit {
  const typ = g[b + 3];
  const rel: V = [ro[0] - g[b], ro[1] - g[b + 1], ro[2] - g[b + 2]];
  const br = g[b + 19];
  if (br > 0) {
    const bb = dot(rel, rd);
    const c = dot(rel, rel) - br * br;
    if (c > 0 && (bb > 0 || bb * bb - c < 0)) return NO;
  }
  const r0: V = [g[b + 4], g[b + 5], g[b + 6]];
  const r1: V = [g[b + 8], g[b + 9], g[b + 10]];
  const r2: V = [g[b + 12], g[b + 13], g[b + 14]];
  const c0: V = [r0[0], r1[0], r2[0]];
  const c1: V = [r0[1], r1[1], r2[1]];
  const c2: V = [r0[2], r1[2], r2[2]];
  const o: V = [dot(c0, rel), dot(c1, rel), dot(c2, rel)];
  const d: V = [dot(c0, rd), dot(c1, rd), dot(c2, rd)];
  const size: V = [g[b + 7], g[b + 11], g[b + 15]];
  let h = NO;
  if (typ === GEOM_TYPES.plane) h = hitPlane(o, d);
  else if (typ === GEOM_TYPES.sphere) h = hitSphere(o, d, size[0]);
  else if (typ === GEOM_TYPES.capsule) h = hitCapsule(o, d, size[0], size[1]);
  else if (typ === GEOM_TYPES.cylinder) h = hitCylinder(o, d, size[0], size[1]);
  else if (typ === GEOM_TYPES.box) h = hitBox(o, d, size);
  if (h.t < T_MAX) h = { t: h.t, n: [dot(r0, h.n), dot(r1, h.n), dot(r2, h.n)] };
  return h;
}

function hashU32(x0: number): number {
  let x = x0 >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x ^= x >>> 16;
  return x >>> 0;
}

/**
 * Renders every camera of one environment; returns RGB images (H*W*3 each).
 * `view0` is the index of this environment's first camera in a batch (it seeds noise).
 */
export function renderReference(frame: RenderFrame, width: number, height: number, step = 0, view0 = 0): Uint8Array[] {
  const g = frame.geoms;
  const nGeoms = g.length / GEOM_FLOATS;
  const env = new Float32Array(ENV_FLOATS);
  packEnv(frame.env, env, 0);
  const seedBits = new Uint32Array(env.buffer)[9];
  const L: V = [env[0], env[1], env[2]];
  const intensity = env[3];
  const ambient = env[4];
  const bg: V = [env[5], env[6], env[7]];
  const std = env[8];
  const images: Uint8Array[] = [];
  const cam = new Float32Array(CAMERA_FLOATS);
  for (let ci = 0; ci < frame.cameras.length; ci++) {
    packCamera(frame.cameras[ci], cam, 0);
    const view = view0 + ci;
    const img = new Uint8Array(width * height * 3);
    const ro: V = [cam[0], cam[1], cam[2]];
    const th = cam[3];
    const aspect = width / height;
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        const u = (((x + 0.5) / width) * 2 - 1) * th * aspect;
        const v = (1 - ((y + 0.5) / height) * 2) * th;
        const raw: V = [cam[4] + u * cam[8] + v * cam[12], cam[5] + u * cam[9] + v * cam[13], cam[6] + u * cam[10] + v * cam[14]];
        const rn = Math.hypot(...raw);
        const rd: V = [raw[0] / rn, raw[1] / rn, raw[2] / rn];
        let bestT = T_MAX;
        let bestN: V = [0, 0, 1];
        let bestG = 0;
        for (let i = 0; i < nGeoms; i++) {
          const h = hitGeom(g, i * GEOM_FLOATS, ro, rd);
          if (h.t < bestT) {
            bestT = h.t;
            bestN = h.n;
            bestG = i;
          }
        }
        let col: V = bg;
        if (bestT < T_MAX) {
          const nl = Math.hypot(...bestN);
          let n: V = [bestN[0] / nl, bestN[1] / nl, bestN[2] / nl];
          if (dot(n, rd) > 0) n = [-n[0], -n[1], -n[2]];
          const p: V = [ro[0] + bestT * rd[0], ro[1] + bestT * rd[1], ro[2] + bestT * rd[2]];
          let lambert = Math.max(dot(n, L), 0);
          if (lambert > 0) {
            const so: V = [p[0] + n[0] * 1e-3, p[1] + n[1] * 1e-3, p[2] + n[2] * 1e-3];
            for (let i = 0; i < nGeoms; i++) {
              if (g[i * GEOM_FLOATS + 3] === GEOM_TYPES.plane) continue;
              if (hitGeom(g, i * GEOM_FLOATS, so, L).t < T_MAX) {
                lambert = 0;
                break;
              }
            }
          }
          const k = ambient + intensity * lambert;
          const b = bestG * GEOM_FLOATS + 16;
          col = [g[b] * k, g[b + 1] * k, g[b + 2] * k];
        }
        for (let c = 0; c < 3; c++) {
          let val = col[c];
          if (std > 0) {
            const key = (seedBits ^ Math.imul(step, 0x9e3779b9) ^ Math.imul(view, 0x85ebca6b)) >>> 0;
            let hsh = hashU32((key ^ hashU32(((y * width + x) * 3 + c) >>> 0)) >>> 0);
            let s = 0;
            for (let k = 0; k < 4; k++) {
              hsh = hashU32((hsh + k) >>> 0);
              s += Math.fround((hsh >>> 8) / 16777216);
            }
            val = val + std * (s - 2) * 1.7320508;
          }
          img[(y * width + x) * 3 + c] = Math.floor(Math.min(1, Math.max(0, val)) * 255 + 0.5);
        }
      }
    images.push(img);
  }
  return images;
}
