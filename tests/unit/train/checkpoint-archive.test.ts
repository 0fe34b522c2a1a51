/**
 * Checkpoint archives (src/train/checkpoint-archive.ts, checkpoint-node.ts): a run saved
 * in Node, packed the way the Train tab's Download packs a browser run, comes back with
 * every file byte-identical and loads through the CLIs' path (nodeCheckpointIO on the
 * .prts.zip) to the same tensors, config and tokenizers; broken or non-checkpoint
 * archives are refused with the reason; `npm run value` takes the archive end to end.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LeRobotReader } from '../../../src/data/index.ts';
import { nodeIO } from '../../../src/data/io-node.ts';
import { Runtime } from '../../../src/engine/runtime.ts';
import { loadCheckpoint, saveCheckpoint, type CheckpointData } from '../../../src/train/checkpoint.ts';
import { ARCHIVE_SUFFIX, archiveFileName, checkpointRoot, isZipBytes, packCheckpoint, runNameFromArchive, unpackCheckpoint } from '../../../src/train/checkpoint-archive.ts';
import { nodeCheckpointIO, readCheckpointDir } from '../../../src/train/checkpoint-node.ts';
import { Pretrainer } from '../../../src/train/pretrain.ts';
import { droppedCheckpointFiles } from '../../../src/ui/tabs/value/checkpoints.ts';
import { npmRun } from '../cli/npm-run.ts';
import { tinyConfig } from './pretrain.helpers.ts';
import { writeTinyDataset } from './tiny-dataset.ts';

let dir = '';
let runDir = '';
let zipPath = '';
let files: Map<string, Uint8Array>;
let zip: Uint8Array;

/** 3 tasks x 2 episodes of 8 frames: tinyConfig's shapes. */
const writeDataset = (root: string) => writeTinyDataset(root, { repoId: 'prts/archive-test', lengths: [8, 8, 8, 8, 8, 8], seed: 4 });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'prts-archive-'));
  await writeDataset(join(dir, 'data'));
  const reader = await LeRobotReader.open(nodeIO(join(dir, 'data')));
  const rt = await Runtime.create();
  runDir = join(dir, 'run');
  try {
    const tr = await Pretrainer.create(rt, tinyConfig({ steps: 2 }), reader);
    try {
      const io = await nodeCheckpointIO(runDir);
      await tr.step();
      await saveCheckpoint(io, await tr.checkpoint());
      await tr.step();
      // Two step directories (Node keeps the previous one): the archive carries both.
      await saveCheckpoint(io, await tr.checkpoint());
    } finally {
      tr.dispose();
    }
  } finally {
    rt.destroy();
  }
  files = await readCheckpointDir(runDir);
  zip = packCheckpoint(files);
  zipPath = join(dir, archiveFileName('tiny run'));
  writeFileSync(zipPath, zip);
}, 180_000);
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function expectSameCheckpoint(a: CheckpointData, b: CheckpointData): void {
  expect(a.config).toEqual(b.config);
  expect(a.tokenizers).toEqual(b.tokenizers);
  expect(a.trainer).toEqual(b.trainer);
  expect(a.metrics).toEqual(b.metrics);
  expect(a.optimizerSteps).toEqual(b.optimizerSteps);
  for (const [x, y] of [[a.params, b.params], [a.optimizer, b.optimizer]]) {
    expect(x.map((t) => [t.name, t.shape])).toEqual(y.map((t) => [t.name, t.shape]));
    x.forEach((t, i) => expect(t.data).toEqual(y[i].data));
  }
}

describe('checkpoint archives', () => {
  test('names: <run>.prts.zip and back', () => {
    expect(archiveFileName('tiny run')).toBe(`tiny_run${ARCHIVE_SUFFIX}`);
    expect(runNameFromArchive('/x/y/e2e-pre.prts.zip')).toBe('e2e-pre');
    expect(runNameFromArchive('C:\\dl\\run.zip')).toBe('run');
    expect(checkpointRoot(['a/step-00000001/trainer.json', 'a/latest.json', 'b.txt'])).toBe('a/');
    expect(checkpointRoot(['x.json'])).toBeNull();
  });

  test('pack -> unpack gives every file of the run directory byte-identical', async () => {
    expect([...files.keys()].sort()).toEqual([
      'latest.json',
      ...['step-00000001', 'step-00000002'].flatMap((d) => ['config.json', 'metrics.jsonl', 'model.safetensors', 'optimizer.safetensors', 'tokenizers.json', 'trainer.json'].map((f) => `${d}/${f}`)),
    ]);
    const back = await unpackCheckpoint(readFileSync(zipPath), zipPath);
    expect([...back.keys()].sort()).toEqual([...files.keys()].sort());
    for (const [p, b] of files) expect(Buffer.from(back.get(p)!).equals(Buffer.from(b)), p).toBe(true);
    // Safetensors are stored, JSON deflated: the archive is about the size of the files.
    const total = [...files.values()].reduce((s, b) => s + b.length, 0);
    expect(zip.length).toBeLessThan(total + 2048);
    // A date ZIP cannot hold (before 1980) does not stop a download.
    expect((await unpackCheckpoint(packCheckpoint(files, 0), 'epoch.zip')).size).toBe(files.size);
  });

  test('the CLIs\' loader opens the archive like the directory: same tensors, config and tokenizers', async () => {
    const fromDir = await loadCheckpoint(await nodeCheckpointIO(runDir));
    const io = await nodeCheckpointIO(zipPath);
    expect(io.archive).toBe(true);
    const fromZip = await loadCheckpoint(io);
    expect(fromZip.trainer.step).toBe(2);
    expectSameCheckpoint(fromZip, fromDir);
    expectSameCheckpoint(await loadCheckpoint(io, 'step-00000001'), await loadCheckpoint(await nodeCheckpointIO(runDir), 'step-00000001'));
    await expect(saveCheckpoint(io, fromDir)).rejects.toThrow(/is a checkpoint archive, which is read-only/);
  });

  test('an archive of the folder (and OS clutter beside it) opens at the run root; a step directory alone too', async () => {
    const nested = zipSync({
      ...Object.fromEntries([...files].map(([p, b]) => [`tiny run/${p}`, b])),
      '__MACOSX/._latest.json': new Uint8Array(4),
    });
    const back = await unpackCheckpoint(nested, 'nested.zip');
    expect([...back.keys()].sort()).toEqual([...files.keys()].sort());
    const step = zipSync(Object.fromEntries([...files].filter(([p]) => p.startsWith('step-00000002/')).map(([p, b]) => [p.slice(14), b])));
    const one = await unpackCheckpoint(step, 'step.zip');
    expect([...one.keys()]).toContain('trainer.json');
  });

  test('corrupt, truncated and non-checkpoint archives give named errors', async () => {
    const bad = (bytes: Uint8Array) => unpackCheckpoint(bytes, 'bad.prts.zip');
    await expect(bad(files.get('latest.json')!)).rejects.toThrow(/bad\.prts\.zip is not a ZIP archive/);
    await expect(bad(zip.slice(0, zip.length - 30))).rejects.toThrow(/no ZIP end record \(truncated/);
    await expect(bad(zip.slice(0, zip.length >> 1))).rejects.toThrow(/no ZIP end record \(truncated/);
    // A flipped byte inside a stored (uncompressed) tensor file.
    const model = 'step-00000002/model.safetensors';
    const at = Buffer.from(zip).indexOf(Buffer.from(files.get(model)!.subarray(0, 64)));
    expect(at).toBeGreaterThan(0);
    const flipped = zip.slice();
    flipped[at + 200] ^= 0x10;
    await expect(bad(flipped)).rejects.toThrow(/"step-00000002\/model\.safetensors" is corrupted \(its CRC-32/);
    // The CLIs report the same, naming the archive file.
    const flippedPath = join(dir, 'flipped.prts.zip');
    writeFileSync(flippedPath, flipped);
    await expect(loadCheckpoint(await nodeCheckpointIO(flippedPath))).rejects.toThrow(/flipped\.prts\.zip: "step-00000002\/model\.safetensors" is corrupted/);

    await expect(bad(zipSync({ 'notes.txt': new Uint8Array(3), 'data/x.parquet': new Uint8Array(2) }))).rejects.toThrow(/holds no latest\.json or trainer\.json, so it is not a checkpoint \(it has: notes\.txt, data\/x\.parquet\)/);
    const without = (...drop: string[]) => zipSync(Object.fromEntries([...files].filter(([p]) => !drop.includes(p))));
    await expect(bad(without('step-00000002/config.json', 'step-00000002/tokenizers.json'))).rejects.toThrow(/step-00000002\/ lacks config\.json, tokenizers\.json/);
    const gone = new TextEncoder().encode('{"dir":"step-00000009","step":9}\n');
    await expect(bad(zipSync({ ...Object.fromEntries(files), 'latest.json': gone }))).rejects.toThrow(/step-00000009\/ lacks trainer\.json, model\.safetensors, optimizer\.safetensors, config\.json, tokenizers\.json, metrics\.jsonl/);
    const pointer = new TextEncoder().encode('{"dir":"../elsewhere"}\n');
    await expect(bad(zipSync({ ...Object.fromEntries(files), 'latest.json': pointer }))).rejects.toThrow(/latest\.json field "dir" must name a step directory/);
    await expect(bad(zipSync({ '../trainer.json': new Uint8Array(2) }))).rejects.toThrow(/entry "\.\.\/trainer\.json" is not a relative path/);
  });
});

describe('npm run value on an archive', () => {
  const valueCli = (args: string[]) => npmRun('value', args);
  const summary = (stdout: string) => {
    const { checkpoint: _c, seconds: _s, ...rest } = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    return rest;
  };

  test('gives the same value curves from the .prts.zip as from the folder; a broken archive is named', () => {
    const common = ['--data', join(dir, 'data'), '--episodes', '0-2', '--stride', '2'];
    const a = valueCli(['--checkpoint', runDir, ...common]);
    expect(a.status, a.stderr).toBe(0);
    const b = valueCli(['--checkpoint', zipPath, ...common]);
    expect(b.status, b.stderr).toBe(0);
    expect(summary(b.stdout)).toEqual(summary(a.stdout));
    expect(summary(b.stdout)).toMatchObject({ step: 2, episodes: 3 });

    const notCkpt = join(dir, 'not-a-checkpoint.prts.zip');
    writeFileSync(notCkpt, zipSync({ 'README.md': new Uint8Array(1) }));
    const c = valueCli(['--checkpoint', notCkpt, ...common]);
    expect(c.status).toBe(2);
    expect(c.stderr).toMatch(/--checkpoint .*not-a-checkpoint\.prts\.zip: checkpoint archive .* holds no latest\.json or trainer\.json/);
  }, 240_000);
});

describe('npm run pack-run', () => {
  const packRun = (args: string[]) => npmRun('pack-run', args);

  test('packs a Node run into an archive the shared loader and the browser\'s drop path open to the same checkpoint', async () => {
    const out = join(dir, 'out', 'packed.prts.zip');
    const r = packRun(['--run', runDir, '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toMatchObject({ out, files: files.size, step: 2, dit: false });
    expectSameCheckpoint(await loadCheckpoint(await nodeCheckpointIO(out, { create: false })), await loadCheckpoint(await nodeCheckpointIO(runDir)));
    const back = await unpackCheckpoint(readFileSync(out), out);
    expect([...back.keys()].sort()).toEqual([...files.keys()].sort());
    for (const [p, b] of files) expect(Buffer.from(back.get(p)!).equals(Buffer.from(b)), p).toBe(true);
    // What the Value and Sim tabs do with a dropped archive.
    const dropped = await droppedCheckpointFiles(new Map([['packed.prts.zip', new File([readFileSync(out)], 'packed.prts.zip')]]));
    expect(dropped.label).toBe('packed');
    expect(Object.keys(dropped.files).sort()).toEqual([...files.keys()].sort());

    // A lone step directory packs too.
    const fromStep = join(dir, 'out', 'step.prts.zip');
    const s = packRun(['--run', join(runDir, 'step-00000001'), '--out', fromStep]);
    expect(s.status, s.stderr).toBe(0);
    expectSameCheckpoint(await loadCheckpoint(await nodeCheckpointIO(fromStep, { create: false })), await loadCheckpoint(await nodeCheckpointIO(runDir), 'step-00000001'));
  }, 120_000);

  test('refuses a missing directory, a folder that is not a run, a damaged run and an existing --out without --force', () => {
    const out = join(dir, 'refused.prts.zip');
    const refused = (args: string[], message: RegExp) => {
      const r = packRun(args);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toContain('usage: npm run pack-run --');
    };
    refused(['--run', join(dir, 'no-such-run'), '--out', out], /^pack-run: --run .*no-such-run: no such directory/);
    refused(['--run', join(dir, 'data'), '--out', out], /^pack-run: --run .*data: not a checkpoint run or step directory \(no latest\.json or trainer\.json at its top; it has /);
    // The folder that holds the run is not the run.
    refused(['--run', dir, '--out', `${dir}-outside.prts.zip`], /not a checkpoint run or step directory .*one is in run\/; give that folder/);
    refused(['--run', zipPath, '--out', out], /is a file, not a checkpoint directory \(it is already an archive\)/);
    refused(['--run', runDir, '--out', join(runDir, 'self.prts.zip')], /--out .*self\.prts\.zip: must not be inside --run/);
    expect(existsSync(out)).toBe(false);

    const damaged = join(dir, 'damaged');
    cpSync(runDir, damaged, { recursive: true });
    const model = join(damaged, 'step-00000002', 'model.safetensors');
    const bytes = readFileSync(model);
    bytes[bytes.length - 1] ^= 0x01;
    writeFileSync(model, bytes);
    refused(['--run', damaged, '--out', out], /--run .*damaged: .*model\.safetensors/);
    expect(existsSync(out)).toBe(false);

    writeFileSync(out, 'keep me');
    refused(['--run', runDir, '--out', out], /--out .*refused\.prts\.zip: exists \(give --force to replace it\)/);
    expect(readFileSync(out, 'utf8')).toBe('keep me');
    const forced = packRun(['--run', runDir, '--out', out, '--force']);
    expect(forced.status, forced.stderr).toBe(0);
    expect(isZipBytes(readFileSync(out))).toBe(true);
  }, 120_000);
});
