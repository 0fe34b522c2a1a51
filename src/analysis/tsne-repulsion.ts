/**
 * t-SNE's repulsive forces (tsne.ts): the exact O(n^2) sum, and the Barnes-Hut
 * approximation over a space-partitioning tree (van der Maaten 2014). Separate from the
 * optimiser because the tree is a data structure of its own, and tests check the
 * approximation against the exact sum directly.
 */
import { sqDist } from './vectors';

/**
 * Exact repulsive term for every point: rep_i = sum_j q_ij^2 (y_i - y_j) with
 * q_ij = 1 / (1 + |y_i - y_j|^2), and Z = sum_{i != j} q_ij. Exported for tests that
 * check the Barnes-Hut approximation against it.
 */
export function exactRepulsion(y: ArrayLike<number>, n: number, d: number, rep: Float64Array): number {
  rep.fill(0);
  let z = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const q = 1 / (1 + sqDist(y, i, y, j, d));
      z += 2 * q;
      const q2 = q * q;
      for (let k = 0; k < d; k++) {
        const f = q2 * (y[i * d + k] - y[j * d + k]);
        rep[i * d + k] += f;
        rep[j * d + k] -= f;
      }
    }
  }
  return z;
}

/**
 * Space-partitioning tree (quadtree in 2-D, octree in 3-D, 2^d children in general)
 * built top-down by partitioning an index permutation, so each node's points are a
 * contiguous range and a leaf can be walked point by point.
 */
export class SpaceTree {
  private cap = 0;
  private count = new Int32Array(0);
  private width = new Float64Array(0);
  private com = new Float64Array(0);
  private start = new Int32Array(0);
  private firstChild = new Int32Array(0);
  private numChildren = new Int32Array(0);
  private size = 0;
  private perm: Int32Array;
  private scratch: Int32Array;
  private stack = new Int32Array(1024);

  constructor(private readonly n: number, private readonly d: number) {
    this.perm = new Int32Array(n);
    this.scratch = new Int32Array(n);
    this.grow(Math.max(16, 2 * n));
  }

  private grow(cap: number): void {
    const d = this.d;
    const count = new Int32Array(cap);
    count.set(this.count);
    const width = new Float64Array(cap);
    width.set(this.width);
    const com = new Float64Array(cap * d);
    com.set(this.com);
    const start = new Int32Array(cap);
    start.set(this.start);
    const firstChild = new Int32Array(cap);
    firstChild.set(this.firstChild);
    const numChildren = new Int32Array(cap);
    numChildren.set(this.numChildren);
    Object.assign(this, { count, width, com, start, firstChild, numChildren, cap });
  }

  private alloc(): number {
    if (this.size === this.cap) this.grow(this.cap * 2);
    return this.size++;
  }

  build(y: Float64Array): void {
    const { n, d } = this;
    for (let i = 0; i < n; i++) this.perm[i] = i;
    const lo = new Float64Array(d).fill(Infinity);
    const hi = new Float64Array(d).fill(-Infinity);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < d; k++) {
        const v = y[i * d + k];
        if (v < lo[k]) lo[k] = v;
        if (v > hi[k]) hi[k] = v;
      }
    }
    let half = 0;
    const centre = new Float64Array(d);
    for (let k = 0; k < d; k++) {
      centre[k] = (lo[k] + hi[k]) / 2;
      half = Math.max(half, (hi[k] - lo[k]) / 2);
    }
    // Widen a little so points on the upper boundary fall strictly inside.
    half = half * (1 + 1e-9) + 1e-12;
    this.size = 0;
    const root = this.alloc();
    this.buildNode(y, root, 0, n, centre, half, 0);
  }

  private buildNode(y: Float64Array, node: number, s: number, e: number, centre: Float64Array, half: number, depth: number): void {
    const d = this.d;
    const cnt = e - s;
    this.count[node] = cnt;
    this.width[node] = 2 * half;
    this.start[node] = s;
    for (let k = 0; k < d; k++) {
      let m = 0;
      for (let t = s; t < e; t++) m += y[this.perm[t] * d + k];
      this.com[node * d + k] = m / cnt;
    }
    // Depth cap: coincident points would otherwise split forever.
    if (cnt <= 1 || depth >= 48) {
      this.numChildren[node] = 0;
      this.firstChild[node] = e; // leaf: range [start, firstChild)
      return;
    }
    const nc = 1 << d;
    const bucketCount = new Int32Array(nc + 1);
    for (let t = s; t < e; t++) bucketCount[this.code(y, this.perm[t], centre) + 1]++;
    for (let c = 0; c < nc; c++) bucketCount[c + 1] += bucketCount[c];
    const fill = bucketCount.slice(0, nc);
    for (let t = s; t < e; t++) {
      const i = this.perm[t];
      this.scratch[s + fill[this.code(y, i, centre)]++] = i;
    }
    for (let t = s; t < e; t++) this.perm[t] = this.scratch[t];
    let nonEmpty = 0;
    for (let c = 0; c < nc; c++) if (bucketCount[c + 1] > bucketCount[c]) nonEmpty++;
    // Children are allocated contiguously before recursing so a node stores only the first.
    const first = this.size;
    for (let c = 0; c < nonEmpty; c++) this.alloc();
    this.firstChild[node] = first;
    this.numChildren[node] = nonEmpty;
    let slot = first;
    const childCentre = new Float64Array(d);
    for (let c = 0; c < nc; c++) {
      const cs = s + bucketCount[c];
      const ce = s + bucketCount[c + 1];
      if (ce === cs) continue;
      for (let k = 0; k < d; k++) childCentre[k] = centre[k] + ((c >> k) & 1 ? half / 2 : -half / 2);
      this.buildNode(y, slot++, cs, ce, childCentre, half / 2, depth + 1);
    }
  }

  private code(y: Float64Array, i: number, centre: Float64Array): number {
    let c = 0;
    for (let k = 0; k < this.d; k++) if (y[i * this.d + k] >= centre[k]) c |= 1 << k;
    return c;
  }

  /**
   * Repulsion on point i: accumulates sum_j q_ij^2 (y_i - y_j) into rep[i] and returns
   * sum_j q_ij, summarising a cell by its centre of mass when width / distance < theta.
   */
  repulsion(y: Float64Array, i: number, theta: number, rep: Float64Array): number {
    const d = this.d;
    const theta2 = theta * theta;
    let sumQ = 0;
    let sp = 0;
    this.stack[sp++] = 0;
    while (sp > 0) {
      const node = this.stack[--sp];
      const nch = this.numChildren[node];
      if (nch === 0) {
        for (let t = this.start[node]; t < this.firstChild[node]; t++) {
          const j = this.perm[t];
          if (j === i) continue;
          const q = 1 / (1 + sqDist(y, i, y, j, d));
          sumQ += q;
          const q2 = q * q;
          for (let k = 0; k < d; k++) rep[i * d + k] += q2 * (y[i * d + k] - y[j * d + k]);
        }
        continue;
      }
      let dist2 = 0;
      for (let k = 0; k < d; k++) {
        const diff = y[i * d + k] - this.com[node * d + k];
        dist2 += diff * diff;
      }
      const w = this.width[node];
      if (w * w < theta2 * dist2) {
        const cnt = this.count[node];
        const q = 1 / (1 + dist2);
        sumQ += cnt * q;
        const f = cnt * q * q;
        for (let k = 0; k < d; k++) rep[i * d + k] += f * (y[i * d + k] - this.com[node * d + k]);
      } else {
        if (sp + nch > this.stack.length) {
          const bigger = new Int32Array(this.stack.length * 2);
          bigger.set(this.stack);
          this.stack = bigger;
        }
        const f = this.firstChild[node];
        for (let c = 0; c < nch; c++) this.stack[sp++] = f + c;
      }
    }
    return sumQ;
  }
}

/**
 * Barnes-Hut repulsion for every point (see exactRepulsion for the exact form); returns
 * the approximate Z. Exported for tests.
 */
export function barnesHutRepulsion(y: Float64Array, n: number, d: number, theta: number, rep: Float64Array, tree?: SpaceTree): number {
  const t = tree ?? new SpaceTree(n, d);
  t.build(y);
  rep.fill(0);
  let z = 0;
  for (let i = 0; i < n; i++) z += t.repulsion(y, i, theta, rep);
  return z;
}
