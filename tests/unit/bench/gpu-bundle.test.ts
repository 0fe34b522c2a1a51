/**
 * The GPU bundle end to end (issue 11, DESIGN.md 13): `npm run gpu:pack` fills a folder
 * under the size limit, and scripts/gpu/run.sh unpacks that same folder into a temporary
 * directory and runs the campaign from it with its own Node, here on SwiftShader
 * (--allow-software). Every bundle the pack makes runs once (train-small and train-base
 * share train-tiny's). Without --allow-software the software adapter is refused.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const tmp = mkdtempSync(join(tmpdir(), 'prts-gpu-bundle-'));
const bundle = join(tmp, 'bundle');
let packLine: { bytes: number; mib: number; limit_mib: number; node: string; debs: number };

beforeAll(() => {
  const r = spawnSync(process.execPath, ['scripts/gpu/pack.mjs', '--dir', bundle], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`gpu:pack failed (exit ${r.status}):\n${r.stderr}`);
  packLine = JSON.parse(r.stdout.trim().split('\n').pop()!);
}, 600_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function runSh(args: string[], timeoutMs: number) {
  // Software on purpose: without a GPU, Dawn would pick SwiftShader on its own too.
  const env = { ...process.env, VK_ICD_FILENAMES: '/usr/lib/chromium/vk_swiftshader_icd.json' };
  return spawnSync('bash', ['scripts/gpu/run.sh', '--bundle', bundle, ...args], { encoding: 'utf8', env, timeout: timeoutMs, maxBuffer: 1 << 26 });
}

describe('the GPU bundle', () => {
  test('gpu:pack stays under 60 MiB and carries Node, the app and the Vulkan loader', () => {
    expect(packLine.limit_mib).toBe(60);
    expect(packLine.bytes).toBeGreaterThan(10 * 2 ** 20);
    expect(packLine.bytes).toBeLessThanOrEqual(60 * 2 ** 20);
    expect(packLine.node).toBe(process.versions.node);
    expect(packLine.debs).toBeGreaterThanOrEqual(7);
    const manifest = JSON.parse(readFileSync(join(bundle, 'manifest.json'), 'utf8'));
    for (const f of ['node.xz', 'app.tar.xz']) {
      expect(existsSync(join(bundle, f))).toBe(true);
      expect(manifest.files[f].sha256).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(Object.keys(manifest.files).filter((f) => f.startsWith('debs/') && f.includes('libvulkan1_'))).toHaveLength(1);
  });

  test('run.sh refuses the software adapter unless told to allow it', () => {
    const r = runSh(['--out', join(tmp, 'refused'), '--items', 'decode'], 120_000);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/adapter: google \/ swiftshader/);
    expect(r.stderr).toMatch(/refusing a software adapter/);
    expect(existsSync(join(tmp, 'refused', 'gpu-results.json'))).toBe(false);
  }, 180_000);

  test('run.sh runs every bundled item on SwiftShader and writes the results', () => {
    const out = join(tmp, 'out');
    const items = ['matmul', 'train-tiny', 'attention', 'decode', 'twin-peer', 'overfit', 'train-base'];
    // train-base comes last with a budget too small for it: the campaign must skip it, not overrun.
    const r = runSh(['--out', out, '--allow-software', '--items', items.join(','), '--budget', '700'], 900_000);
    if (r.status !== 0) throw new Error(`run.sh failed (exit ${r.status}):\n${r.stderr.slice(-6000)}`);
    const line = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(line.campaign).toBe('gpu');
    expect(line.adapter.software).toBe(true);
    expect(r.stderr).toMatch(/unpacked: node v20\.\d+\.\d+, 7 bundles/);

    const report = JSON.parse(readFileSync(join(out, 'gpu-results.json'), 'utf8'));
    expect(report.items.map((i: { name: string }) => i.name)).toEqual(items);
    const byName = Object.fromEntries(report.items.map((i: { name: string }) => [i.name, i]));
    for (const name of items.slice(0, -1)) expect(byName[name].status, `${name}: ${byName[name].reason}\n${byName[name].tail}`).toBe('ok');
    if (byName['train-base'].status !== 'skipped') expect(byName['train-base'].status).toBe('timeout');
    expect(report.elapsed_s).toBeLessThan(700 + 30);

    // Each item's JSON line, as its benchmark prints it.
    expect(byName.matmul.result.bench).toBe('matmul');
    expect(Object.values(byName.matmul.result.max_abs_diff_vs_tfjs as Record<string, number>).every((d) => d < 1e-2)).toBe(true);
    expect(byName['train-tiny'].result.model.preset).toBe('tiny');
    expect(byName['train-tiny'].result.dispatches_per_step).toBeGreaterThan(0);
    expect(byName['train-tiny'].result.peak_gpu_mib).toBeGreaterThan(0);
    expect(byName.attention.result.bench).toBe('attention');
    expect(byName.decode.result.tokens_match).toBe(true);
    expect(byName.overfit.result.stages).toHaveLength(1);
    // The bundle carries the twin, which runs on this machine's torch (Debian's python3-torch).
    expect(byName['twin-peer'].result.peer_error).toBeNull();
    expect(byName['twin-peer'].result.peer.eager.status).toBe('ok');
    expect(byName['twin-peer'].result.ratios.eager_over_engine).toBeGreaterThan(0);
    expect(line.items.decode.status).toBe('ok');

    const md = readFileSync(join(out, 'gpu-results.md'), 'utf8');
    expect(md).toMatch(/software: figures are not a GPU's/);
    for (const name of items) expect(md).toContain(`| ${name} |`);
    expect(existsSync(join(out, 'gpu-pack-manifest.json'))).toBe(true);
  }, 900_000);
});
