/**
 * Built-in datasets (the ones that ship with the app, e.g. the demo run's held-out
 * episodes): listed beside the data dir's, served by the same JSON and range routes,
 * read-only (uploads, deletes and teleop recordings under their ids are refused), and
 * a data-dir dataset of the same id is hidden by the built-in one and reported.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startServer } from '../../../server/app.ts';
import { defaultBuiltinDir, shadowedDatasets } from '../../../server/datasets.ts';
import { DEMO_DIR } from '../../../src/train/demo-run.ts';
import { writeTinyDataset } from '../train/tiny-dataset.ts';
import { Client, startTestServer, type TestServer } from './helpers.ts';

let srv: TestServer;
let builtinDir: string;

beforeAll(async () => {
  builtinDir = mkdtempSync(join(tmpdir(), 'prts-builtin-'));
  await writeTinyDataset(join(builtinDir, 'shipped'), { repoId: 'prts/shipped', lengths: [5, 7], seed: 1 });
  // The same id in the data dir (hidden by the built-in one) and a data-dir dataset of its own.
  const dataDir = mkdtempSync(join(tmpdir(), 'prts-builtin-data-'));
  await writeTinyDataset(join(dataDir, 'shipped'), { repoId: 'local/shipped', lengths: [3, 3, 3], seed: 2 });
  await writeTinyDataset(join(dataDir, 'mine'), { repoId: 'local/mine', lengths: [4], seed: 3 });
  srv = await startTestServer({ dataDir, builtinDatasetsDir: builtinDir });
});
afterAll(async () => {
  await srv.cleanup();
  rmSync(builtinDir, { recursive: true, force: true });
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(srv.url + path, { headers });
const write = (method: 'PUT' | 'DELETE', path: string, body?: string) => fetch(srv.url + path, { method, body, headers: { authorization: `Bearer ${srv.token}` } });

describe('built-in datasets', () => {
  it('are listed beside the data dir, flagged builtin, and claim their id', async () => {
    const { datasets } = await (await get('/api/datasets')).json();
    expect(datasets.map((d: { id: string; builtin: boolean }) => [d.id, d.builtin])).toEqual([['mine', false], ['shipped', true]]);
    expect(datasets[1]).toMatchObject({ total_episodes: 2, total_frames: 12 });
    expect(await shadowedDatasets(srv.dataDir, builtinDir)).toEqual(['shipped']);
  });

  it('serve info, stats, episodes and byte ranges from the built-in copy', async () => {
    expect((await (await get('/api/datasets/shipped/info')).json()).total_episodes).toBe(2);
    expect(Object.keys(await (await get('/api/datasets/shipped/stats')).json())).toContain('action');
    const eps = await (await get('/api/datasets/shipped/episodes')).json();
    expect(eps).toMatchObject({ format: 'v3.0', total: 2 });
    const file = 'meta/info.json';
    const bytes = readFileSync(join(builtinDir, 'shipped', file));
    for (const prefix of ['/data/shipped/', '/api/datasets/shipped/files/']) {
      const r = await get(prefix + file, { range: 'bytes=2-9' });
      expect(r.status).toBe(206);
      expect(r.headers.get('content-range')).toBe(`bytes 2-9/${bytes.length}`);
      expect(Buffer.from(await r.arrayBuffer()).equals(bytes.subarray(2, 10))).toBe(true);
    }
    // The data dir's own datasets are served as before.
    expect((await (await get('/api/datasets/mine/info')).json()).total_episodes).toBe(1);
  });

  it('refuse uploads and deletes with a message naming the id, and leave both copies alone', async () => {
    const put = await write('PUT', '/api/datasets/shipped/files/meta/info.json', '{}');
    expect(put.status).toBe(409);
    expect(await put.json()).toEqual({ error: 'read_only', message: 'id: dataset shipped ships with the app and is read-only; use another dataset id' });
    const del = await write('DELETE', '/api/datasets/shipped');
    expect(del.status).toBe(409);
    expect((await del.json()).error).toBe('read_only');
    expect(existsSync(join(builtinDir, 'shipped/meta/info.json'))).toBe(true);
    expect(existsSync(join(srv.dataDir, 'shipped/meta/info.json'))).toBe(true);
    expect((await (await get('/api/datasets/shipped/info')).json()).total_episodes).toBe(2);
    // Auth comes first: without the token it is 401, not a hint about the dataset.
    expect((await fetch(`${srv.url}/api/datasets/shipped`, { method: 'DELETE' })).status).toBe(401);
    // Another id is writable as before.
    expect((await write('PUT', '/api/datasets/fresh/files/notes.txt', 'hi')).status).toBe(201);
  });
});

describe('built-in datasets, recording and defaults', () => {
  it('teleop recordings into a built-in id are refused', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'prts-builtin-rec-'));
    // startServer's own recorder (the test helper disables recording).
    const s = await startServer({ config: { port: 0, dataDir, builtinDatasetsDir: builtinDir, robot: 'kinematic' } });
    try {
      const c = await Client.connect(s);
      await c.lease();
      const r = await c.request({ op: 'record_start', task: 'touch', dataset: 'shipped' });
      expect(r.type).toBe('error');
      expect(r.message).toMatch(/dataset shipped ships with the app and is read-only/);
      expect(existsSync(join(dataDir, 'shipped'))).toBe(false);
      await c.close();
    } finally {
      await s.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('default to the demo folder of the app being served: dist/ once built, else public/', () => {
    const dist = mkdtempSync(join(tmpdir(), 'prts-dist-'));
    try {
      expect(defaultBuiltinDir(dist)).toBe(resolve(DEMO_DIR, 'datasets'));
      writeFileSync(join(dist, 'index.html'), '<!doctype html>');
      mkdirSync(join(dist, 'demo'));
      expect(defaultBuiltinDir(dist)).toBe(join(dist, 'demo', 'datasets'));
    } finally {
      rmSync(dist, { recursive: true, force: true });
    }
  });
});
