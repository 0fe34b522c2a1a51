import { beforeAll, describe, expect, it } from 'vitest';
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { LeRobotReader, LeRobotWriter, TEMP_SUFFIX } from '../../../src/data/index.ts';
import { nodeIO } from '../../../src/data/io-node.ts';
import { OPTS, episodeLength, makeFrames } from './helpers.ts';

const TOTAL = 3;
let bundle = '';

beforeAll(async () => {
  // Bundled once so each child starts in a fraction of a second; it lives under
  // node_modules so its bare imports (hyparquet, fast-png) resolve.
  bundle = resolve('node_modules/.cache/prts-data-test/crash-child.mjs');
  await build({
    entryPoints: [resolve('tests/unit/data/crash-child.ts')],
    bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile: bundle, packages: 'external', logLevel: 'warning',
  });
});

function child(dir: string, killAt: number, phase: 'mid' | 'after' = 'after') {
  const r = spawnSync(process.execPath, [bundle, dir, String(TOTAL), String(killAt), phase], { encoding: 'utf8' });
  return r;
}

function files(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

/** Whatever a reader sees must be a prefix of the intended dataset, value for value. */
async function checkConsistent(dir: string): Promise<number> {
  const io = nodeIO(dir);
  let r: LeRobotReader;
  try {
    r = await LeRobotReader.open(io);
  } catch (e) {
    expect(String(e)).toMatch(/meta\/info\.json is missing/);
    return -1;
  }
  expect(r.episodes.length).toBe(r.info.total_episodes);
  let frames = 0;
  for (const ep of r.episodes) {
    const want = makeFrames(ep.index, episodeLength(ep.index));
    expect(ep.length).toBe(want.length);
    const d = await r.readEpisode(ep.index, ['action', 'phase_description', 'index']);
    want.forEach((f, t) => {
      expect(d.columns.action.data[t * 7]).toBe(Math.fround((f.action as number[])[0]));
      expect(d.columns.phase_description.data[t]).toBe(f.phase_description);
      expect(d.columns.index.data[t]).toBe(frames + t);
    });
    expect(ep.meta).toEqual({ success: ep.index % 3 !== 0, perturbation: { kind: 'lighting', seed: ep.index } });
    frames += ep.length;
  }
  expect(r.totalFrames).toBe(frames);
  return r.episodes.length;
}

describe('crash safety (child process killed with SIGKILL)', () => {
  it('never leaves a dataset that reads as complete or corrupt, and resumes to the same bytes', async () => {
    const refDir = mkdtempSync(join(tmpdir(), 'prts-ref-'));
    const ok = child(refDir, 0);
    expect(ok.status, ok.stderr).toBe(0);
    const totalWrites = Number(/writes=(\d+)/.exec(ok.stdout)![1]);
    expect(totalWrites).toBeGreaterThan(TOTAL * 4);
    const reference = files(refDir);

    const seen = new Set<number>();
    // Every write is a kill point; odd ones die with a torn temp file, even ones just after the rename.
    for (let killAt = 1; killAt <= totalWrites; killAt++) {
      {
        const phase = killAt % 2 === 1 ? 'mid' : 'after';
        const dir = mkdtempSync(join(tmpdir(), 'prts-crash-'));
        const r = child(dir, killAt, phase);
        expect(r.signal, `killAt ${killAt} ${phase}: ${r.stderr}`).toBe('SIGKILL');
        const complete = await checkConsistent(dir);
        // Only a kill after the very last write (info.json of the last episode) may show all of it.
        expect(complete).toBeLessThan(killAt === totalWrites && phase === 'after' ? TOTAL + 1 : TOTAL);
        seen.add(complete);

        // Resume: a second child re-opens, cleans up and finishes the remaining episodes.
        const resumed = child(dir, 0);
        expect(resumed.status, `resume after killAt ${killAt} ${phase}: ${resumed.stderr}`).toBe(0);
        const got = files(dir);
        expect([...got.keys()].filter((k) => k.endsWith(TEMP_SUFFIX))).toEqual([]);
        expect([...got.keys()].sort()).toEqual([...reference.keys()].sort());
        for (const [k, bytes] of reference) expect(got.get(k)!.equals(bytes), `${k} differs after killAt ${killAt} ${phase}`).toBe(true);
      }
    }
    // The kill points cover: no dataset yet, an empty one, and every partial count.
    expect([...seen].sort()).toEqual(totalWrites % 2 === 0 ? [-1, 0, 1, 2, 3] : [-1, 0, 1, 2]);
  });

  it('re-opening after a crash drops the rows of the unfinished episode from the data file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prts-crash-'));
    const first = child(dir, 0);
    expect(first.status).toBe(0);
    // Kill a run that appends episodes 3..4 right after the data file of episode 3 landed
    // (writes 1-4 are the resume's own rewrite of data, episodes, tasks and stats).
    const r = spawnSync(process.execPath, [bundle, dir, '5', '5', 'after'], { encoding: 'utf8' });
    expect(r.signal).toBe('SIGKILL');
    const io = nodeIO(dir);
    const { openParquet } = await import('../../../src/data/parquet.ts');
    const before = await openParquet(io, 'data/chunk-000/file-000.parquet');
    const committed = (await LeRobotReader.open(io)).totalFrames;
    expect(before.numRows).toBeGreaterThan(committed);
    const w = await LeRobotWriter.openForAppend(io);
    expect(w.totalEpisodes).toBe(TOTAL);
    await w.finalize();
    const after = await openParquet(io, 'data/chunk-000/file-000.parquet');
    expect(after.numRows).toBe(committed);
  });
});

describe('resume in-process', () => {
  it('openOrCreate refuses a dataset whose features differ', async () => {
    const io = nodeIO(mkdtempSync(join(tmpdir(), 'prts-')));
    const w = await LeRobotWriter.create(io, OPTS);
    for (const f of makeFrames(0, 4)) w.addFrame(f);
    await w.saveEpisode({ task: 't' });
    await expect(LeRobotWriter.openOrCreate(io, { ...OPTS, features: { ...OPTS.features, action: { dtype: 'float32', shape: [6] } } }))
      .rejects.toThrow(/feature "action"/);
    await expect(LeRobotWriter.create(io, OPTS)).rejects.toThrow(/already exists/);
  });
});
