import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { autoWrongInstruction, selectEpisodes, valueCurveSvg } from '../../../src/analysis/cli/value-lib';

function valueCli(args: string[]) {
  // The npm script itself, so its wiring is tested too.
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
  const [node, ...script] = pkg.scripts.value.split(' ');
  expect(node).toBe('node');
  return spawnSync(process.execPath, [...script, ...args], { encoding: 'utf8' });
}

describe('npm run value command line', () => {
  it('prints its usage on --help', () => {
    const r = valueCli(['--help']);
    expect(r.status, r.stderr).toBe(0);
    for (const o of ['--checkpoint', '--data', '--episodes', '--init-states', '--wrong-task', '--stride', '--batch', '--seed', '--out', '--svg', '--plot-episode']) expect(r.stdout).toContain(o);
  });

  it('names the problem and exits 2 on bad input', () => {
    let r = valueCli(['--checkpoint', 'c', '--data', 'd', '--strides', '2']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^value: unknown option --strides \(options: .*--stride/);
    r = valueCli(['--checkpoint', 'c', '--data', 'd', '--batch', '1']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^value: --batch must be an integer >= 2, got '1'/);
    r = valueCli(['--checkpoint', 'c', '--data', 'd', '--episodes', '3-1']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^value: --episodes: range '3-1' is empty/);
  });

  it('refuses a missing --checkpoint without creating it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'prts-value-cli-'));
    try {
      const missing = join(dir, 'no-such-run');
      const r = valueCli(['--checkpoint', missing, '--data', join(dir, 'data')]);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`--checkpoint ${missing}: no such directory or checkpoint archive`);
      expect(existsSync(missing)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('value CLI helpers', () => {
  it('selects episodes by index and by init_index', () => {
    const eps = [0, 1, 2, 3].map((i) => ({ index: i, meta: { init_index: i % 2 } }));
    expect(selectEpisodes(eps, null, null)).toEqual([0, 1, 2, 3]);
    expect(selectEpisodes(eps, null, [1])).toEqual([1, 3]);
    expect(selectEpisodes(eps, [0, 1, 2], [0])).toEqual([0, 2]);
    expect(() => selectEpisodes(eps, [9], null)).toThrow(/does not exist/);
  });

  it('picks the next different task as the wrong instruction', () => {
    expect(autoWrongInstruction(['a', 'b', 'c'], 'a')).toBe('b');
    expect(autoWrongInstruction(['a', 'b', 'c'], 'c')).toBe('a');
    expect(autoWrongInstruction(['a', 'b'], 'zzz')).toBe('b');
    expect(() => autoWrongInstruction(['a'], 'a')).toThrow(/single task/);
  });

  it('writes a standalone SVG with both curves and escaped labels', () => {
    const svg = valueCurveSvg({ t: [0, 1, 2], vTrue: [0.1, 0.2, 0.3], vWrong: [0, 0, 0], instruction: 'put <a> & b', wrongInstruction: 'x', metrics: { fracTrueAbove: 1, spearmanTime: 1 } });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<path /g)?.length).toBe(2);
    expect(svg).toContain('put &lt;a&gt; &amp; b');
    expect(svg).not.toContain('NaN');
  });
});
