/** Float64 reference for ops/rope.ts (rotate-half) on [tokens, H, D]. */
export function refRope(x: ArrayLike<number>, pos: ArrayLike<number>, H: number, D: number, base = 10000): Float64Array {
  const out = new Float64Array(x.length);
  const half = D / 2;
  for (let t = 0; t < pos.length; t++) {
    for (let h = 0; h < H; h++) {
      const o = (t * H + h) * D;
      for (let i = 0; i < half; i++) {
        const theta = pos[t] * Math.pow(base, (-2 * i) / D);
        const [c, s] = [Math.cos(theta), Math.sin(theta)];
        out[o + i] = x[o + i] * c - x[o + i + half] * s;
        out[o + i + half] = x[o + i + half] * c + x[o + i] * s;
      }
    }
  }
  return out;
}
