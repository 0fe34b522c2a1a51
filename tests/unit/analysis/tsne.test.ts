import { describe, expect, it } from 'vitest';
import { TSNE } from '../../../src/analysis/tsne';
import { calibrateRow } from '../../../src/analysis/tsne-affinities';
import { barnesHutRepulsion, exactRepulsion } from '../../../src/analysis/tsne-repulsion';
import { Rng } from '../../../src/engine/random';
import { blobs, knnPurity } from './helpers';

describe('calibrateRow', () => {
  it('reaches the requested perplexity (entropy = log perplexity)', () => {
    const rng = new Rng(3);
    const dist = Float64Array.from({ length: 99 }, () => rng.uniform(0, 50));
    const p = new Float64Array(99);
    calibrateRow(dist, 99, 20, p);
    let sum = 0;
    let h = 0;
    for (const v of p) {
      sum += v;
      if (v > 0) h -= v * Math.log(v);
    }
    expect(sum).toBeCloseTo(1, 12);
    expect(Math.exp(h)).toBeCloseTo(20, 2);
  });

  it('does not underflow when all distances are huge', () => {
    const dist = Float64Array.from({ length: 10 }, (_, j) => 1e6 + j);
    const p = new Float64Array(10);
    calibrateRow(dist, 10, 3, p);
    expect(p.every((v) => Number.isFinite(v))).toBe(true);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });
});

describe('Barnes-Hut repulsion', () => {
  const rng = new Rng(5);
  const n = 300;
  const y = Float64Array.from({ length: n * 2 }, () => rng.normal() * 5);
  const exact = new Float64Array(n * 2);
  const zExact = exactRepulsion(y, n, 2, exact);

  it('equals the exact sum at theta = 0', () => {
    const bh = new Float64Array(n * 2);
    const z = barnesHutRepulsion(y, n, 2, 0, bh);
    expect(z).toBeCloseTo(zExact, 8);
    for (let i = 0; i < n * 2; i++) expect(bh[i]).toBeCloseTo(exact[i], 10);
  });

  it('is within a few percent at theta = 0.5', () => {
    const bh = new Float64Array(n * 2);
    const z = barnesHutRepulsion(y, n, 2, 0.5, bh);
    expect(Math.abs(z - zExact) / zExact).toBeLessThan(0.02);
    let err = 0;
    let norm = 0;
    for (let i = 0; i < n * 2; i++) {
      err += (bh[i] - exact[i]) ** 2;
      norm += exact[i] ** 2;
    }
    expect(Math.sqrt(err / norm)).toBeLessThan(0.05);
  });
});

describe('TSNE', () => {
  it('keeps well-separated Gaussian clusters apart (exact), with falling KL', () => {
    const { data, labels, n } = blobs(4, 40, 20, 8, 1);
    const t = new TSNE(data, n, 20, { perplexity: 15, iterations: 400, seed: 1 });
    expect(t.method).toBe('exact');
    const kls: number[] = [];
    t.run((p) => void kls.push(p.kl), 50);
    expect(knnPurity(t.embedding, n, 2, labels, 10)).toBeGreaterThan(0.95);
    // KL with the true P after exaggeration ends, against the final one.
    expect(kls[kls.length - 1]).toBeLessThan(kls[5]);
    expect(kls[kls.length - 1]).toBeLessThan(kls[0]);
  });

  it('keeps clusters apart with Barnes-Hut and the cosine metric', () => {
    const { data, labels, n } = blobs(3, 100, 16, 6, 2);
    // Shift so the cosine geometry separates the clusters too (no zero rows).
    for (let i = 0; i < data.length; i += 16) data[i] += 20;
    const t = new TSNE(data, n, 16, { perplexity: 20, iterations: 300, method: 'barnes-hut', metric: 'cosine', seed: 2 });
    const first = t.step().kl;
    t.run();
    expect(knnPurity(t.embedding, n, 2, labels, 10)).toBeGreaterThan(0.95);
    expect(t.kl).toBeLessThan(first);
  });

  it('is deterministic for a seed and reports progress with an ETA', () => {
    const { data, n } = blobs(3, 30, 8, 5, 3);
    const a = new TSNE(data, n, 8, { perplexity: 10, iterations: 60, init: 'random', seed: 7 });
    const b = new TSNE(data, n, 8, { perplexity: 10, iterations: 60, init: 'random', seed: 7 });
    const c = new TSNE(data, n, 8, { perplexity: 10, iterations: 60, init: 'random', seed: 8 });
    const reports: number[] = [];
    a.run((p) => {
      reports.push(p.iteration);
      expect(p.etaMs).toBeGreaterThanOrEqual(0);
    }, 20);
    b.run();
    c.run();
    expect(reports).toEqual([20, 40, 60]);
    expect(Array.from(a.embedding)).toEqual(Array.from(b.embedding));
    expect(Array.from(a.embedding)).not.toEqual(Array.from(c.embedding));
    expect(() => a.step()).toThrow(/iterations are done/);
  });

  it('PCA init is scaled to std 1e-4 and learning rate is auto', () => {
    const { data, n } = blobs(2, 600, 4, 5, 4);
    const t = new TSNE(data, n, 4, { perplexity: 10, iterations: 1 });
    let m = 0;
    for (let i = 0; i < n; i++) m += t.embedding[i * 2] / n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (t.embedding[i * 2] - m) ** 2 / n;
    expect(Math.sqrt(v)).toBeCloseTo(1e-4, 10);
    expect(t.learningRate).toBe(Math.max(1200 / 12 / 4, 50));
    expect(t.method).toBe('barnes-hut');
  });

  it('stops when the callback returns false or the signal aborts', async () => {
    const { data, n } = blobs(2, 20, 4, 5, 5);
    const t = new TSNE(data, n, 4, { perplexity: 5, iterations: 100 });
    t.run((p) => p.iteration < 30, 10);
    expect(t.iteration).toBe(30);
    const signal = { aborted: false };
    const u = new TSNE(data, n, 4, { perplexity: 5, iterations: 100 });
    await u.runAsync((p) => {
      if (p.iteration === 20) signal.aborted = true;
    }, { signal, reportEvery: 10, yieldEvery: 10 });
    expect(u.iteration).toBe(20);
  });

  it('names the bad argument', () => {
    const d = new Float64Array(10);
    expect(() => new TSNE(d, 5, 2, { perplexity: 5 })).toThrow(/perplexity/);
    expect(() => new TSNE(d, 5, 3)).toThrow(/n \* dim/);
    expect(() => new TSNE(d, 5, 2, { perplexity: 2, metric: 'manhattan' as never })).toThrow(/metric/);
    expect(() => new TSNE(d, 5, 2, { perplexity: 2, metric: 'cosine' })).toThrow(/row 0 is all zeros/);
    expect(() => new TSNE(d, 5, 2, { perplexity: 2, theta: 0.9 })).toThrow(/theta/);
  });
});
