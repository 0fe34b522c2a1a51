/**
 * httpIO's size(): one suffix-range GET instead of a HEAD, its bytes serving the parquet
 * footer read. Against the workbench server (server/files.ts) for the request counts, and
 * against stubbed responses for the servers and answers it does not give.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LeRobotReader, LeRobotWriter, httpIO } from '../../../src/data/index.ts';
import { HTTP_TAIL_BYTES } from '../../../src/data/io.ts';
import { nodeIO } from '../../../src/data/io-node.ts';
import { openParquet } from '../../../src/data/parquet.ts';
import { Rng } from '../../../src/engine/random.ts';
import { startTestServer, type TestServer } from '../server/helpers.ts';
import { OPTS, episodeLength, image, makeFrames } from './helpers.ts';

type Fetch = NonNullable<Parameters<typeof httpIO>[1]>;

/** The global fetch, logging "METHOD path range" for each request. */
function counting(prefix: string) {
  const calls: string[] = [];
  const fetchFn: Fetch = (input, init) => {
    calls.push(`${init?.method ?? 'GET'} ${input.slice(prefix.length)}${init?.headers?.Range ? ` ${init.headers.Range}` : ''}`);
    return fetch(input, init) as unknown as ReturnType<Fetch>;
  };
  return { calls, fetchFn };
}

describe('httpIO against the workbench server', () => {
  let srv: TestServer;
  let base = '';
  const DATA = 'data/chunk-000/file-000.parquet';

  beforeAll(async () => {
    srv = await startTestServer();
    const root = join(srv.dataDir, 'demo');
    const w = await LeRobotWriter.create(nodeIO(root), OPTS);
    for (let ep = 0; ep < 2; ep++) {
      for (const f of makeFrames(ep, episodeLength(ep))) w.addFrame(f);
      await w.saveEpisode({ task: `task ${ep}` });
    }
    await w.finalize();
    // Noise images: a data file several times the tail, so the footer read is a real part of it.
    const big = await LeRobotWriter.create(nodeIO(join(srv.dataDir, 'big')), { ...OPTS, features: { cam: { dtype: 'image', shape: [64, 64, 3] }, action: { dtype: 'float32', shape: [2] } } });
    const rng = new Rng(3);
    for (let t = 0; t < 30; t++) big.addFrame({ cam: image(rng, 64, 64), action: [0, t] });
    await big.saveEpisode({ task: 'noise' });
    mkdirSync(join(root, 'misc'));
    writeFileSync(join(root, 'misc/empty.bin'), new Uint8Array(0));
    writeFileSync(join(root, 'misc/short.bin'), Uint8Array.from({ length: 100 }, (_, i) => i));
    base = `${srv.url}/api/datasets/`;
  });
  afterAll(async () => {
    await srv.cleanup();
  });

  it('opens a large parquet file and reads its metadata with one request and no HEAD', async () => {
    const size = statSync(join(srv.dataDir, 'big', DATA)).size;
    expect(size).toBeGreaterThan(4 * HTTP_TAIL_BYTES);
    const { calls, fetchFn } = counting(base);
    const io = httpIO(base + 'big/files/', fetchFn);
    const pf = await openParquet(io, DATA);
    expect(pf.numRows).toBe(30);
    expect(calls).toEqual([`GET big/files/${DATA} bytes=-${HTTP_TAIL_BYTES}`]);
    expect(await io.size(DATA)).toBe(size);
    expect(calls).toHaveLength(1);
  });

  it('reads an episode: no HEAD for the data file, whose footer and (small) body come with its size', async () => {
    const { calls, fetchFn } = counting(base);
    const remote = await LeRobotReader.open(httpIO(base + 'demo/files/', fetchFn));
    const local = await LeRobotReader.open(nodeIO(join(srv.dataDir, 'demo')));
    calls.length = 0;
    const a = await remote.readEpisode(1);
    const b = await local.readEpisode(1);
    expect(Array.from(a.columns.action.data as Float32Array)).toEqual(Array.from(b.columns.action.data as Float32Array));
    // The fixture's data file is smaller than the tail: one request reads all of it.
    expect(statSync(join(srv.dataDir, 'demo', DATA)).size).toBeLessThan(HTTP_TAIL_BYTES);
    expect(calls).toEqual([`GET demo/files/${DATA} bytes=-${HTTP_TAIL_BYTES}`]);
  });

  it('a file shorter than the suffix: its length, and its bytes without another request', async () => {
    const { calls, fetchFn } = counting(base);
    const io = httpIO(base + 'demo/files/', fetchFn);
    expect(await io.size('misc/short.bin')).toBe(100);
    expect(Array.from(await io.readRange('misc/short.bin', 10, 14))).toEqual([10, 11, 12, 13]);
    expect(calls).toHaveLength(1);
  });

  it('an empty file (the server answers 416 bytes */0) has size 0', async () => {
    const { calls, fetchFn } = counting(base);
    const io = httpIO(base + 'demo/files/', fetchFn);
    expect(await io.size('misc/empty.bin')).toBe(0);
    expect(await io.readRange('misc/empty.bin', 0, 0)).toEqual(new Uint8Array(0));
    expect(calls).toHaveLength(1);
    await expect(openParquet(io, 'misc/empty.bin')).rejects.toThrow(/misc\/empty\.bin is not a readable parquet file/);
  });

  it('a missing file keeps the existing error', async () => {
    await expect(httpIO(base + 'demo/files/').size('misc/nope.bin')).rejects.toThrow(/^GET .*misc\/nope\.bin failed: HTTP 404/);
  });
});

describe('httpIO size() against stubbed answers', () => {
  const FILE = Uint8Array.from({ length: 1000 }, (_, i) => i & 255);
  type Answer = { status: number; body?: Uint8Array; headers?: Record<string, string> };

  /** A fetch that answers every request with `answer(range)` and logs the ranges asked. */
  function stub(answer: (range: string | undefined) => Answer) {
    const calls: string[] = [];
    const fetchFn: Fetch = async (_input, init) => {
      const range = init?.headers?.Range;
      calls.push(`${init?.method ?? 'GET'} ${range ?? ''}`.trim());
      await new Promise((r) => setTimeout(r, 1));
      const a = answer(range);
      const h = new Map(Object.entries(a.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
      const body = a.body ?? new Uint8Array(0);
      return {
        ok: a.status >= 200 && a.status < 300, status: a.status, statusText: '', headers: { get: (k: string) => h.get(k.toLowerCase()) ?? null },
        arrayBuffer: async () => body.slice().buffer as ArrayBuffer,
      };
    };
    return { calls, fetchFn };
  }

  it('a server without range support (200, whole body): the body length, and later ranges from that body', async () => {
    const { calls, fetchFn } = stub(() => ({ status: 200, body: FILE }));
    const io = httpIO('http://host/ds', fetchFn);
    expect(await io.size('a.parquet')).toBe(1000);
    expect(Array.from(await io.readRange('a.parquet', 998, 1000))).toEqual([998 & 255, 999 & 255]);
    expect(Array.from(await io.readRange('a.parquet', 0, 3))).toEqual([0, 1, 2]);
    expect(calls).toEqual([`GET bytes=-${HTTP_TAIL_BYTES}`]);
  });

  it('reads outside the kept tail go to the server', async () => {
    const total = HTTP_TAIL_BYTES + 500;
    const { calls, fetchFn } = stub((range) => {
      if (range === `bytes=-${HTTP_TAIL_BYTES}`) return { status: 206, body: new Uint8Array(HTTP_TAIL_BYTES).fill(7), headers: { 'Content-Range': `bytes 500-${total - 1}/${total}` } };
      return { status: 206, body: new Uint8Array(10).fill(1), headers: { 'Content-Range': `bytes 0-9/${total}` } };
    });
    const io = httpIO('http://host/ds', fetchFn);
    expect(await io.size('a.parquet')).toBe(total);
    expect(Array.from(await io.readRange('a.parquet', total - 2, total))).toEqual([7, 7]);
    expect(Array.from(await io.readRange('a.parquet', 0, 10))).toEqual(Array(10).fill(1));
    expect(calls).toEqual([`GET bytes=-${HTTP_TAIL_BYTES}`, 'GET bytes=0-9']);
  });

  it('a suffix refused with 416 "bytes */N" for a non-empty file (Chromium\'s cache does this) falls back to an explicit range of the same tail', async () => {
    const total = 200_000;
    const file = Uint8Array.from({ length: total }, (_, i) => i % 251);
    const { calls, fetchFn } = stub((range) => {
      if (range?.startsWith('bytes=-')) return { status: 416, headers: { 'Content-Range': `bytes */${total}` } };
      const [a, b] = range!.slice(6).split('-').map(Number);
      return { status: 206, body: file.subarray(a, b + 1), headers: { 'Content-Range': `bytes ${a}-${b}/${total}` } };
    });
    const io = httpIO('http://host/ds', fetchFn);
    expect(await io.size('a.parquet')).toBe(total);
    expect(Array.from(await io.readRange('a.parquet', total - 8, total))).toEqual(Array.from(file.subarray(total - 8)));
    expect(calls).toEqual([`GET bytes=-${HTTP_TAIL_BYTES}`, `GET bytes=${total - HTTP_TAIL_BYTES}-${total - 1}`]);
  });

  it('concurrent callers share one request; a failure is not kept, and a retry asks again', async () => {
    let answer: Answer = { status: 503 };
    const { calls, fetchFn } = stub(() => answer);
    const io = httpIO('http://host/ds', fetchFn);
    const tries = await Promise.allSettled([io.size('a.parquet'), io.size('a.parquet'), io.size('a.parquet')]);
    expect(tries.map((t) => t.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect((tries[0] as PromiseRejectedResult).reason.message).toBe('GET http://host/ds/a.parquet failed: HTTP 503 ');
    expect(calls).toHaveLength(1);
    answer = { status: 206, body: FILE, headers: { 'Content-Range': 'bytes 0-999/1000' } };
    expect(await Promise.all([io.size('a.parquet'), io.size('a.parquet')])).toEqual([1000, 1000]);
    expect(await io.size('a.parquet')).toBe(1000);
    expect(calls).toHaveLength(2);
  });

  it('missing, malformed or inconsistent Content-Range: an error naming the URL and the header', async () => {
    const cases: [Answer, RegExp][] = [
      [{ status: 206, body: FILE }, /no Content-Range/],
      [{ status: 206, body: FILE, headers: { 'Content-Range': 'bytes 0-999' } }, /malformed Content-Range "bytes 0-999"/],
      [{ status: 206, body: FILE, headers: { 'Content-Range': 'bytes 0-999/*' } }, /malformed Content-Range "bytes 0-999\/\*"/],
      [{ status: 206, body: FILE, headers: { 'Content-Range': 'bytes 0-999/5000' } }, /"bytes 0-999\/5000" with 1000 bytes is not the end of the file/],
      [{ status: 206, body: FILE.subarray(0, 10), headers: { 'Content-Range': 'bytes 0-999/1000' } }, /with 10 bytes is not the end/],
      [{ status: 416, headers: { 'Content-Range': 'bytes 5-9/1000' } }, /HTTP 416 .*"bytes 5-9\/1000" \(expected "bytes \*\/<size>"\)/],
      [{ status: 416 }, /HTTP 416 .*no Content-Range/],
    ];
    for (const [answer, msg] of cases) {
      const { calls, fetchFn } = stub(() => answer);
      const io = httpIO('http://host/ds/', fetchFn);
      const err = await io.size('data/f.parquet').then(() => null, (e: Error) => e);
      expect(err?.message).toMatch(/^GET http:\/\/host\/ds\/data\/f\.parquet with Range bytes=-65536: /);
      expect(err?.message).toMatch(msg);
      expect(err?.message).toMatch(/cannot tell the file size$/);
      await io.size('data/f.parquet').catch(() => undefined);
      expect(calls).toHaveLength(2);
    }
  });
});
