/** Dataset API: listing, JSON metadata, byte ranges, path safety, atomic uploads. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync, symlinkSync, readdirSync, existsSync, readFileSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { request as httpRequest } from 'node:http';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { Rng } from '../../../src/engine/random.ts';
import { startTestServer, sleep, type TestServer } from './helpers.ts';
import { parseRange } from '../../../server/files.ts';

let srv: TestServer;
let blob: Uint8Array;
const SIZE = 300_001;

beforeAll(async () => {
  srv = await startTestServer();
  const d = join(srv.dataDir, 'demo');
  mkdirSync(join(d, 'meta/episodes/chunk-000'), { recursive: true });
  mkdirSync(join(d, 'data/chunk-000'), { recursive: true });
  writeFileSync(join(d, 'meta/info.json'), JSON.stringify({ codebase_version: 'v3.0', robot_type: 'panda', fps: 20, total_episodes: 2, total_frames: 30, features: { action: { dtype: 'float32', shape: [7] } } }));
  writeFileSync(join(d, 'meta/stats.json'), JSON.stringify({ action: { min: [0], max: [1] } }));
  const ep = parquetWriteBuffer({
    columnData: [
      { name: 'episode_index', data: [0n, 1n], type: 'INT64' },
      { name: 'length', data: [10n, 20n], type: 'INT64' },
      { name: 'tasks', data: ['pick', 'place'], type: 'STRING' },
    ],
  });
  writeFileSync(join(d, 'meta/episodes/chunk-000/file-000.parquet'), new Uint8Array(ep));
  const rng = new Rng(7);
  blob = new Uint8Array(SIZE);
  for (let i = 0; i < SIZE; i++) blob[i] = rng.u32() & 255;
  writeFileSync(join(d, 'data/chunk-000/file-000.parquet'), blob);
  writeFileSync(join(d, 'data/.secret.tmp-prts'), 'SECRET-CONTENT');
  // A directory without info.json is not a dataset; a symlink escaping the data dir is refused.
  mkdirSync(join(srv.dataDir, 'not-a-dataset'));
  const outside = mkdtempSync(join(tmpdir(), 'prts-outside-'));
  writeFileSync(join(outside, 'passwd'), 'root:x:0:0');
  mkdirSync(join(outside, 'meta'));
  writeFileSync(join(outside, 'meta/info.json'), '{"codebase_version":"v3.0"}');
  symlinkSync(join(outside, 'passwd'), join(d, 'data/escape.parquet'));
  symlinkSync(outside, join(srv.dataDir, 'linked'));
});
afterAll(async () => {
  await srv.cleanup();
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(srv.url + path, { headers });

/** Raw request (fetch normalises some paths, e.g. "/../"), so traversal attempts reach the server as typed. */
function raw(path: string, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(srv.url);
    const req = httpRequest({ host: u.hostname, port: u.port, path, method }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('dataset API', () => {
  it('lists only directories with meta/info.json inside the data dir', async () => {
    const r = await get('/api/datasets');
    const j = await r.json();
    expect(j.datasets.map((d: { id: string }) => d.id)).toEqual(['demo']);
    expect(j.datasets[0]).toMatchObject({ codebase_version: 'v3.0', fps: 20, total_episodes: 2, features: ['action'] });
  });

  it('serves info, stats and episodes as JSON', async () => {
    expect((await (await get('/api/datasets/demo/info')).json()).robot_type).toBe('panda');
    expect((await (await get('/api/datasets/demo/stats')).json()).action.max).toEqual([1]);
    const e = await (await get('/api/datasets/demo/episodes')).json();
    expect(e).toMatchObject({ format: 'v3.0', total: 2 });
    expect(e.episodes).toEqual([
      { episode_index: 0, length: 10, tasks: 'pick' },
      { episode_index: 1, length: 20, tasks: 'place' },
    ]);
    const e2 = await (await get('/api/datasets/demo/episodes?offset=1&limit=1')).json();
    expect(e2.episodes).toEqual([{ episode_index: 1, length: 20, tasks: 'place' }]);
    const bad = await get('/api/datasets/demo/episodes?limit=abc');
    expect(bad.status).toBe(400);
    expect((await bad.json()).message).toMatch(/^limit:/);
    const missing = await get('/api/datasets/nope/info');
    expect(missing.status).toBe(404);
    expect((await missing.json()).error).toBe('not_found');
  });

  it('range requests return exactly the bytes asked for', async () => {
    const rng = new Rng(11);
    const path = '/data/demo/data/chunk-000/file-000.parquet';
    for (let i = 0; i < 40; i++) {
      const a = rng.u32() % SIZE;
      const len = 1 + (rng.u32() % 5000);
      const b = Math.min(SIZE - 1, a + len - 1);
      const r = await get(path, { range: `bytes=${a}-${b}` });
      expect(r.status).toBe(206);
      expect(r.headers.get('content-range')).toBe(`bytes ${a}-${b}/${SIZE}`);
      expect(r.headers.get('accept-ranges')).toBe('bytes');
      const got = new Uint8Array(await r.arrayBuffer());
      expect(got.length).toBe(b - a + 1);
      expect(Buffer.compare(Buffer.from(got), Buffer.from(blob.subarray(a, b + 1)))).toBe(0);
    }
    // Suffix, open-ended, past-the-end end, first and last byte.
    const suffix = await get(path, { range: 'bytes=-100' });
    expect(Buffer.from(await suffix.arrayBuffer()).equals(Buffer.from(blob.subarray(SIZE - 100)))).toBe(true);
    const open = await get(path, { range: `bytes=${SIZE - 10}-` });
    expect(open.headers.get('content-range')).toBe(`bytes ${SIZE - 10}-${SIZE - 1}/${SIZE}`);
    const clipped = await get(path, { range: `bytes=${SIZE - 5}-${SIZE + 100}` });
    expect((await clipped.arrayBuffer()).byteLength).toBe(5);
    const first = await get(path, { range: 'bytes=0-0' });
    expect(new Uint8Array(await first.arrayBuffer())).toEqual(blob.subarray(0, 1));
    // The same path under /api/datasets/:id/files/ (src/data's httpIO base).
    const alt = await get('/api/datasets/demo/files/data/chunk-000/file-000.parquet', { range: 'bytes=10-19' });
    expect(new Uint8Array(await alt.arrayBuffer())).toEqual(blob.subarray(10, 20));
    // The whole file without Range, and HEAD with the size.
    const whole = await get(path);
    expect(whole.status).toBe(200);
    expect(Buffer.from(await whole.arrayBuffer()).equals(Buffer.from(blob))).toBe(true);
    const head = await fetch(srv.url + path, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(SIZE));
  });

  it('answers 416 for unsatisfiable, malformed and multiple ranges', async () => {
    const path = '/data/demo/data/chunk-000/file-000.parquet';
    for (const range of [`bytes=${SIZE}-`, `bytes=${SIZE + 5}-${SIZE + 10}`, 'bytes=-0', 'bytes=10-5', 'bytes=abc', 'items=0-5', 'bytes=0-1,5-9']) {
      const r = await get(path, { range });
      expect(r.status, range).toBe(416);
      expect(r.headers.get('content-range')).toBe(`bytes */${SIZE}`);
      const j = await r.json();
      expect(j.error).toBe('range_not_satisfiable');
      expect(j.message).toMatch(/^Range:/);
    }
    expect(parseRange('bytes=0-1,5-9', 100)).toMatchObject({ kind: 'unsatisfiable', message: expect.stringMatching(/multiple/) });
  });

  it('makes path traversal impossible', async () => {
    const attempts = [
      '/data/demo/../../../../etc/passwd',
      '/data/demo/%2e%2e/%2e%2e/etc/passwd',
      '/data/demo/..%2f..%2fetc%2fpasswd',
      '/data/demo/%252e%252e/%252e%252e/etc/passwd',
      '/data/demo/data%5c..%5c..%5cetc%5cpasswd',
      '/data/demo/data/%00/x',
      '/data/..%2f..%2fetc/passwd',
      '/data/demo//etc/passwd',
      '/data/demo/data/escape.parquet',
      '/data/linked/passwd',
      '/data/demo/data/.secret.tmp-prts',
      '/api/datasets/..%2f..%2fetc/info',
      '/api/datasets/linked/info',
    ];
    for (const p of attempts) {
      const r = await raw(p);
      expect([400, 403, 404], `${p} -> ${r.status}`).toContain(r.status);
      expect(r.body).not.toContain('root:x');
      expect(r.body).not.toContain('SECRET-CONTENT');
      expect(() => JSON.parse(r.body), p).not.toThrow();
    }
  });

  it('uploads atomically with the token; an aborted upload leaves nothing', async () => {
    const auth = { authorization: `Bearer ${srv.token}` };
    const body = new Uint8Array(200_000).fill(7);
    const ok = await fetch(`${srv.url}/api/datasets/up2/files/data/chunk-000/file-000.parquet`, { method: 'PUT', body, headers: auth });
    expect(ok.status).toBe(201);
    expect(readFileSync(join(srv.dataDir, 'up2/data/chunk-000/file-000.parquet')).length).toBe(200_000);
    // Not listed until meta/info.json exists.
    expect((await (await get('/api/datasets')).json()).datasets.map((d: { id: string }) => d.id)).not.toContain('up2');

    // Abort halfway: send a Content-Length of 1 MB, write 100 KB, then destroy the socket.
    const u = new URL(srv.url);
    await new Promise<void>((resolve) => {
      const req = httpRequest({
        host: u.hostname,
        port: u.port,
        method: 'PUT',
        path: '/api/datasets/up2/files/data/chunk-000/file-001.parquet',
        headers: { ...auth, 'content-length': String(1 << 20), 'content-type': 'application/octet-stream' },
      });
      req.on('error', () => resolve());
      req.write(Buffer.alloc(100_000, 1));
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 100);
    });
    await sleep(200);
    const files = readdirSync(join(srv.dataDir, 'up2/data/chunk-000'));
    expect(files).toEqual(['file-000.parquet']);

    // Upload limit and bad paths are clear errors.
    const bad = await fetch(`${srv.url}/api/datasets/up2/files/.hidden`, { method: 'PUT', body: 'x', headers: auth });
    expect(bad.status).toBe(400);
    expect((await bad.json()).message).toMatch(/^path:/);
    const badId = await fetch(`${srv.url}/api/datasets/-bad/files/x`, { method: 'PUT', body: 'x', headers: auth });
    expect(badId.status).toBe(400);

    const del = await fetch(`${srv.url}/api/datasets/up2`, { method: 'DELETE', headers: auth });
    expect(del.status).toBe(200);
    expect(existsSync(join(srv.dataDir, 'up2'))).toBe(false);
  });

  it('unknown routes are JSON 404s', async () => {
    const r = await get('/api/nothing');
    expect(r.status).toBe(404);
    expect((await r.json()).error).toBe('not_found');
  });
});
