import { Rng } from '../../../src/engine/random';

/** k Gaussian blobs in `dim` dimensions, centres `sep` apart on random axes, unit noise. */
export function blobs(k: number, perCluster: number, dim: number, sep: number, seed: number): { data: Float64Array; labels: Int32Array; n: number } {
  const rng = new Rng(seed);
  const n = k * perCluster;
  const centres = new Float64Array(k * dim);
  for (let c = 0; c < k; c++) for (let j = 0; j < dim; j++) centres[c * dim + j] = rng.normal() * sep;
  const data = new Float64Array(n * dim);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % k;
    labels[i] = c;
    for (let j = 0; j < dim; j++) data[i * dim + j] = centres[c * dim + j] + rng.normal();
  }
  return { data, labels, n };
}

/** Fraction of points whose k nearest neighbours (in `d`-D) mostly share their label, averaged over neighbours. */
export function knnPurity(y: ArrayLike<number>, n: number, d: number, labels: ArrayLike<number>, k: number): number {
  let agree = 0;
  for (let i = 0; i < n; i++) {
    const ds: [number, number][] = [];
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      let s = 0;
      for (let t = 0; t < d; t++) s += (y[i * d + t] - y[j * d + t]) ** 2;
      ds.push([s, j]);
    }
    ds.sort((a, b) => a[0] - b[0]);
    for (let t = 0; t < k; t++) if (labels[ds[t][1]] === labels[i]) agree++;
  }
  return agree / (n * k);
}
