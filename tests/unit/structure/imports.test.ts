/**
 * The module structure DESIGN.md section 1 asks for: dependencies point down the layers,
 * and no two modules import each other, directly or around a loop. Type-only imports
 * count: they are what made checkpoint.ts and the trainers a cycle, and a type that two
 * layers share belongs below both.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, test } from 'vitest';

const ROOT = join(dirname(new URL(import.meta.url).pathname), '../../..');

/** Rank of each layer under src/: a module may import its own layer and the ones ranked below. */
const LAYER_RANK: Record<string, number> = {
  engine: 0,
  data: 1,
  model: 2,
  sim: 3,
  train: 4,
  twin: 5,
  analysis: 5,
  rl: 6,
  ui: 7,
};

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) sourceFiles(p, out);
    else if (/\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Relative imports and re-exports of a file, resolved to repository paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;'"]*?from\s+['"](\.[^'"]+)['"]/g)) {
    const base = normalize(join(dirname(file), m[1]));
    const hit = [base, `${base}.ts`, `${base}.tsx`, base.replace(/\.js$/, '.ts'), join(base, 'index.ts')].find(
      (c) => existsSync(join(ROOT, c)) && statSync(join(ROOT, c)).isFile(),
    );
    if (hit) found.push(hit);
  }
  return found;
}

/** Strongly connected components with more than one file (Tarjan): each one is an import cycle. */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

const graph = new Map<string, string[]>();
for (const f of [...sourceFiles('src'), ...sourceFiles('worker'), ...sourceFiles('server')]) graph.set(f, importsOf(f));

describe('module structure', () => {
  test('the import scan sees the code (a guard against a scan that finds nothing)', () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(graph.get('src/train/pretrain.ts')).toContain('src/train/checkpoint.ts');
  });

  test('no import cycles in src/, worker/ or server/ (type-only imports included)', () => {
    expect(cycles(graph)).toEqual([]);
  });

  test('the cycle finder finds a cycle when there is one', () => {
    const g = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
    ]);
    expect(cycles(g)).toEqual([['a', 'b', 'c']]);
  });

  test('src/ layers import only their own layer or lower ones (DESIGN.md 1)', () => {
    const upward: string[] = [];
    for (const [file, deps] of graph) {
      const from = file.split('/');
      if (from[0] !== 'src' || !(from[1] in LAYER_RANK)) continue;
      for (const dep of deps) {
        const to = dep.split('/');
        if (to[0] !== 'src' || !(to[1] in LAYER_RANK) || to[1] === from[1]) continue;
        if (LAYER_RANK[to[1]] >= LAYER_RANK[from[1]]) upward.push(`${relative('.', file)} -> ${dep}`);
      }
    }
    expect(upward).toEqual([]);
  });
});
