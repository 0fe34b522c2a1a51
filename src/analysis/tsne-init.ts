/**
 * t-SNE's starting embedding (tsne.ts): the PCA projection scaled to a standard deviation
 * of 1e-4, or seeded normal noise of that scale. Separate from the optimiser because it
 * runs once, on the input rows, and the PCA by power iteration is a piece of linear
 * algebra in its own right.
 */
import type { Rng } from '../engine/random';

/**
 * Top principal components of the rows by power iteration with deflation on the
 * dim x dim covariance (dim is small for embeddings; no SVD library needed). Each
 * component's sign is fixed so its largest-magnitude loading is positive, making the
 * result independent of the random start vector.
 */
export function pcaProject(x: Float64Array, n: number, dim: number, outDim: number, rng: Rng): Float64Array {
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let k = 0; k < dim; k++) mean[k] += x[i * dim + k] / n;
  const cov = new Float64Array(dim * dim);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < dim; a++) {
      const va = x[i * dim + a] - mean[a];
      if (va === 0) continue;
      for (let b = a; b < dim; b++) cov[a * dim + b] += va * (x[i * dim + b] - mean[b]);
    }
  }
  for (let a = 0; a < dim; a++) for (let b = 0; b < a; b++) cov[a * dim + b] = cov[b * dim + a];
  const out = new Float64Array(n * outDim);
  const v = new Float64Array(dim);
  const w = new Float64Array(dim);
  for (let c = 0; c < Math.min(outDim, dim); c++) {
    for (let k = 0; k < dim; k++) v[k] = rng.normal();
    let lambda = 0;
    for (let iter = 0; iter < 500; iter++) {
      let norm = 0;
      for (let a = 0; a < dim; a++) {
        let s = 0;
        for (let b = 0; b < dim; b++) s += cov[a * dim + b] * v[b];
        w[a] = s;
        norm += s * s;
      }
      norm = Math.sqrt(norm);
      if (norm === 0) break;
      let change = 0;
      for (let k = 0; k < dim; k++) {
        const nv = w[k] / norm;
        change += Math.abs(nv - v[k]);
        v[k] = nv;
      }
      lambda = norm;
      if (change < 1e-12 * dim) break;
    }
    let big = 0;
    for (let k = 0; k < dim; k++) if (Math.abs(v[k]) > Math.abs(v[big])) big = k;
    const sign = v[big] < 0 ? -1 : 1;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < dim; k++) s += (x[i * dim + k] - mean[k]) * v[k];
      out[i * outDim + c] = sign * s;
    }
    // Deflate so the next power iteration finds the next component.
    for (let a = 0; a < dim; a++) for (let b = 0; b < dim; b++) cov[a * dim + b] -= lambda * v[a] * v[b];
  }
  return out;
}

/**
 * The initial embedding [n * outDim] from the prepared rows x [n * dim]: 'pca' or
 * 'random' as TsneOptions.init describes. Draws from `rng`.
 */
export function initialEmbedding(x: Float64Array, n: number, dim: number, d: number, init: 'pca' | 'random', rng: Rng): Float64Array {
  const y = new Float64Array(n * d);
  if (init === 'pca') {
    const proj = pcaProject(x, n, dim, d, rng);
    let m = 0;
    for (let i = 0; i < n; i++) m += proj[i * d] / n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (proj[i * d] - m) ** 2 / n;
    const sd = Math.sqrt(v);
    for (let i = 0; i < n * d; i++) y[i] = sd > 0 ? (proj[i] / sd) * 1e-4 : 0;
    // Components with no variance (dim < outDim, or all rows equal) get seeded noise of
    // the same scale, otherwise the points would stay on a line forever.
    for (let k = 0; k < d; k++) {
      let nonzero = false;
      for (let i = 0; i < n && !nonzero; i++) nonzero = y[i * d + k] !== 0;
      if (!nonzero) for (let i = 0; i < n; i++) y[i * d + k] = rng.normal() * 1e-4;
    }
  } else {
    for (let i = 0; i < n * d; i++) y[i] = rng.normal() * 1e-4;
  }
  return y;
}
