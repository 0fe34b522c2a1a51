/**
 * t-SNE benchmark (issue 6 item 7): wall time of the affinity stage (kNN + perplexity
 * calibration, in the constructor) and of the gradient iterations, for n = 500, 2000,
 * 5000 points of dim 64 drawn from 10 Gaussian clusters. n = 500 runs the exact
 * gradient, the others Barnes-Hut (theta 0.5) — the method `auto` picks. Also reports
 * the final KL and the 10-NN label purity of the 2-D map as a sanity check that the
 * timed run produced a usable picture. One JSON line at the end.
 *
 *   node scripts/run.mjs bench/tsne.ts [--sizes 500,2000,5000] [--dim 64] [--iterations 1000] [--seed 0]
 */
import { TSNE } from '../src/analysis/tsne';
import { defineCli } from '../src/cli/args';
import { Rng } from '../src/engine/random';

const { sizes, dim, iterations, seed } = defineCli({
  name: 'bench:tsne',
  command: 'npm run bench:tsne --',
  description: 't-SNE wall time (affinities, then gradient iterations) on Gaussian clusters; ends with one JSON line.',
  options: {
    sizes: { type: 'list', of: 'int', min: 1, default: [500, 2000, 5000], help: 'point counts, one run each' },
    dim: { type: 'int', min: 1, default: 64, help: 'input dimension' },
    iterations: { type: 'int', min: 1, default: 1000, help: 'gradient iterations' },
    seed: { type: 'int', default: 0, help: 'random seed' },
  },
}).parse();
const clusters = 10;

function purity(y: Float64Array, n: number, labels: Int32Array, k: number): number {
  let agree = 0;
  const d = new Float64Array(n);
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      d[j] = j === i ? Infinity : (y[2 * i] - y[2 * j]) ** 2 + (y[2 * i + 1] - y[2 * j + 1]) ** 2;
      idx[j] = j;
    }
    idx.sort((a, b) => d[a] - d[b]);
    for (let t = 0; t < k; t++) if (labels[idx[t]] === labels[i]) agree++;
  }
  return agree / (n * k);
}

const results: Record<string, unknown>[] = [];
for (const n of sizes) {
  const rng = new Rng(seed + n);
  const centres = Float64Array.from({ length: clusters * dim }, () => rng.normal() * 3);
  const data = new Float32Array(n * dim);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % clusters;
    for (let j = 0; j < dim; j++) data[i * dim + j] = centres[labels[i] * dim + j] + rng.normal();
  }
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const tsne = new TSNE(data, n, dim, { iterations, seed });
  const t1 = performance.now();
  tsne.run();
  const t2 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const row = {
    n,
    dim,
    method: tsne.method,
    iterations,
    affinity_s: +((t1 - t0) / 1000).toFixed(3),
    optimize_s: +((t2 - t1) / 1000).toFixed(3),
    total_s: +((t2 - t0) / 1000).toFixed(3),
    // CPU seconds of this process: on a shared machine wall time also counts waiting.
    cpu_s: +((cpu.user + cpu.system) / 1e6).toFixed(3),
    ms_per_iter: +((t2 - t1) / iterations).toFixed(2),
    kl: +tsne.kl.toFixed(4),
    knn10_purity: +purity(tsne.embedding, n, labels, 10).toFixed(4),
  };
  console.error(`n=${n}: ${JSON.stringify(row)}`);
  results.push(row);
}
console.log(JSON.stringify({ bench: 'tsne', node: process.version, results }));
