import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DatasetError, LeRobotReader, LeRobotWriter, httpIO, memoryIO, type LazyImage } from '../../../src/data/index.ts';
import { nodeIO } from '../../../src/data/io-node.ts';
import { OPTS, episodeLength, image, makeFrames } from './helpers.ts';
import { Rng } from '../../../src/engine/random.ts';

describe('v2.1 reader', () => {
  it('reads the v2.1 fixture: episodes, tasks, stats and values', async () => {
    const r = await LeRobotReader.open(nodeIO(resolve('tests/fixtures/data/v21')));
    expect(r.version).toBe('v2.1');
    expect(r.fps).toBe(10);
    expect(r.tasks).toEqual(['pick up the cube', 'open the drawer']);
    expect(r.episodes.map((e) => [e.index, e.length, e.from, e.to, e.tasks[0]])).toEqual([[0, 3, 0, 3, 'pick up the cube'], [1, 4, 3, 7, 'open the drawer']]);
    expect(r.episodes[1].stats!.action.count).toEqual([4]);
    expect(r.stats.action.max).toEqual([0.75, 0.875]);
    const ep = await r.readEpisode(1);
    expect(Array.from(ep.columns['observation.state'].data as Float32Array)).toEqual([1, -0, 1.5, -1, 2, -2, 2.5, -3]);
    expect(Array.from(ep.columns.index.data as Float64Array)).toEqual([3, 4, 5, 6]);
    expect(Array.from(ep.columns.timestamp.data as Float32Array)).toEqual([0, 0.1, 0.2, 0.3].map(Math.fround));
    const chunk = await r.actionChunk(0, 1, 3);
    expect(Array.from(chunk.actions)).toEqual([0.25, -0.125, 0.5, -0.125, 0.5, -0.125]);
    expect(Array.from(chunk.valid)).toEqual([1, 1, 0]);
  });
});

describe('HTTP range reads (httpIO against a node:http server)', () => {
  let server: Server;
  let base = '';
  const ranges: string[] = [];
  /** Bytes sent by each range response. */
  const sent: number[] = [];
  let root = '';

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'prts-http-'));
    const w = await LeRobotWriter.create(nodeIO(root), OPTS);
    for (let ep = 0; ep < 3; ep++) {
      for (const f of makeFrames(ep, episodeLength(ep))) w.addFrame(f);
      await w.saveEpisode({ task: `task ${ep}` });
    }
    await w.finalize();
    server = createServer((req, res) => {
      const path = join(root, decodeURIComponent(new URL(req.url!, 'http://x').pathname));
      let size: number;
      try { size = statSync(path).size; } catch { res.writeHead(404).end(); return; }
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
      const suffix = /^bytes=-(\d+)$/.exec(req.headers.range ?? '');
      if (req.method === 'HEAD') { res.writeHead(200, { 'Content-Length': size, 'Accept-Ranges': 'bytes' }).end(); return; }
      const bytes = readFileSync(path);
      if (!m && !suffix) { res.writeHead(200, { 'Content-Length': size }).end(bytes); return; }
      ranges.push(req.headers.range!);
      const [a, b] = m ? [Number(m[1]), Math.min(Number(m[2]), size - 1)] : [Math.max(0, size - Number(suffix![1])), size - 1];
      sent.push(b - a + 1);
      res.writeHead(206, { 'Content-Range': `bytes ${a}-${b}/${size}`, 'Content-Length': b - a + 1 }).end(bytes.subarray(a, b + 1));
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  });
  afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

  it('opens the dataset and reads an episode with range requests, matching local reads', async () => {
    const remote = await LeRobotReader.open(httpIO(base));
    const local = await LeRobotReader.open(nodeIO(root));
    expect(remote.episodes).toEqual(local.episodes);
    expect(remote.stats).toEqual(local.stats);
    ranges.length = 0;
    const a = await remote.readEpisode(2);
    const b = await local.readEpisode(2);
    expect(ranges.length).toBeGreaterThan(0);
    for (const k of Object.keys(b.columns)) {
      if (k === 'observation.images.agentview') {
        const hex = (c: typeof a.columns[string]) => (c.data as LazyImage[]).map((i) => Buffer.from(i.bytes).toString('hex'));
        expect(hex(a.columns[k])).toEqual(hex(b.columns[k]));
      } else {
        expect(Array.from(a.columns[k].data as ArrayLike<unknown>)).toEqual(Array.from(b.columns[k].data as ArrayLike<unknown>));
      }
    }
  });

  it('fetches only part of the data file for one episode', async () => {
    // Big enough (noise images, ~1 MB) that hyparquet's 512 KB footer read cannot cover the file.
    const big = nodeIO(join(root, 'big'));
    const w = await LeRobotWriter.create(big, { ...OPTS, features: { cam: { dtype: 'image', shape: [64, 64, 3] }, action: { dtype: 'float32', shape: [2] } } });
    const rng = new Rng(7);
    for (let ep = 0; ep < 3; ep++) {
      for (let t = 0; t < 25; t++) w.addFrame({ cam: image(rng, 64, 64), action: [ep, t] });
      await w.saveEpisode({ task: 'noise' });
    }
    const remote = await LeRobotReader.open(httpIO(base + 'big/'));
    sent.length = 0;
    const d = await remote.getFrames(1, 0, 25, ['cam', 'action']);
    expect(d.columns.action.data[1]).toBe(0);
    const size = statSync(join(root, 'big/data/chunk-000/file-000.parquet')).size;
    const fetched = sent.reduce((s, x) => s + x, 0);
    expect(size).toBeGreaterThan(900_000);
    expect(fetched).toBeLessThan(0.8 * size);
  });

  it('names the URL when a file is missing', async () => {
    await expect(LeRobotReader.open(httpIO(base + 'nope/'))).rejects.toThrow(/not a LeRobot dataset/);
    await expect(httpIO(base).readFile('meta/missing.json')).rejects.toThrow(/HTTP 404/);
  });
});

describe('clear errors for bad input', () => {
  const good = () => makeFrames(0, 1)[0];
  async function writer() {
    return LeRobotWriter.create(memoryIO(), OPTS);
  }
  const expectField = (fn: () => unknown, field: string, msg: RegExp) => {
    try { fn(); } catch (e) {
      expect(e).toBeInstanceOf(DatasetError);
      expect((e as DatasetError).field).toBe(field);
      expect((e as Error).message).toMatch(msg);
      return;
    }
    throw new Error('expected an error');
  };

  it('wrong frame shape names the feature', async () => {
    const w = await writer();
    expectField(() => w.addFrame({ ...good(), action: [1, 2, 3] }), 'action', /feature "action": expected shape \[7\] \(7 values\), got 3/);
    expectField(() => w.addFrame({ ...good(), 'observation.images.agentview': image(new Rng(1), 4, 4) }), 'observation.images.agentview', /image is 4x4x3, expected 8x6x3/);
  });

  it('missing and unknown features are named', async () => {
    const w = await writer();
    const { phase: _p, ...noPhase } = good();
    expectField(() => w.addFrame(noPhase), 'phase', /missing feature "phase"/);
    expectField(() => w.addFrame({ ...good(), gripper_force: 1 }), 'gripper_force', /unknown feature "gripper_force"/);
    expectField(() => w.addFrame({ ...good(), index: 3 }), 'index', /filled in by the writer/);
  });

  it('NaN, Infinity, non-integers and wrong types are refused with the feature name', async () => {
    const w = await writer();
    const a = Array.from({ length: 7 }, () => 0);
    expectField(() => w.addFrame({ ...good(), action: a.map((x, i) => (i === 3 ? NaN : x)) }), 'action', /value 3 is NaN/);
    expectField(() => w.addFrame({ ...good(), action: a.map((x, i) => (i === 0 ? Infinity : x)) }), 'action', /Infinity/);
    expectField(() => w.addFrame({ ...good(), phase: 1.5 }), 'phase', /not an integer/);
    expectField(() => w.addFrame({ ...good(), phase_description: 3 }), 'phase_description', /expected a string/);
    expect(w.pendingFrames).toBe(0);
  });

  it('allowNaN lets a listed float feature hold NaN', async () => {
    const io = memoryIO();
    const w = await LeRobotWriter.create(io, { ...OPTS, allowNaN: ['observation.state'] });
    const f = good();
    w.addFrame({ ...f, 'observation.state': [NaN, 1, 2, 3, 4, 5, 6, 7] });
    await w.saveEpisode({ task: 't' });
    const r = await LeRobotReader.open(io);
    expect(Number.isNaN((await r.readEpisode(0)).columns['observation.state'].data[0] as number)).toBe(true);
  });

  it('bad specs, missing tasks and empty episodes are refused', async () => {
    await expect(LeRobotWriter.create(memoryIO(), { ...OPTS, features: { 'a/b': { dtype: 'float32', shape: [2] } } })).rejects.toThrow(/"a\/b".*must not contain/);
    await expect(LeRobotWriter.create(memoryIO(), { ...OPTS, features: { x: { dtype: 'float32', shape: [0] } } })).rejects.toThrow(/feature "x": shape/);
    await expect(LeRobotWriter.create(memoryIO(), { ...OPTS, features: { cam: { dtype: 'video', shape: [8, 8, 3] } } })).rejects.toThrow(/video/);
    const w = await writer();
    expect(() => w.saveEpisode({ task: 't' })).toThrow(/no frames/);
    w.addFrame(good());
    expect(() => w.saveEpisode({})).toThrow(/needs a task/);
    await expect(w.finalize()).rejects.toThrow(/1 frames were added/);
    w.discardEpisode();
    await w.finalize();
    expect(() => w.addFrame(good())).toThrow(/finalized/);
  });

  it('discarded episodes leave nothing behind', async () => {
    const io = memoryIO();
    const w = await LeRobotWriter.create(io, OPTS);
    for (const f of makeFrames(0, 3)) w.addFrame(f);
    w.discardEpisode();
    for (const f of makeFrames(1, 2)) w.addFrame(f);
    await w.saveEpisode({ task: 'kept' });
    const r = await LeRobotReader.open(io);
    expect(r.episodes.map((e) => e.length)).toEqual([2]);
    expect(r.totalFrames).toBe(2);
  });

  it('reader errors name the file and field', async () => {
    const io = memoryIO();
    await expect(LeRobotReader.open(io)).rejects.toThrow(/meta\/info\.json is missing/);
    io.files.set('meta/info.json', new TextEncoder().encode('{"codebase_version":"v3.0"'));
    await expect(LeRobotReader.open(io)).rejects.toThrow(/meta\/info\.json is not valid JSON/);
    io.files.set('meta/info.json', new TextEncoder().encode(JSON.stringify({ codebase_version: 'v1.6', fps: 10, total_episodes: 0, total_frames: 0, features: {}, data_path: 'x' })));
    await expect(LeRobotReader.open(io)).rejects.toThrow(/codebase_version "v1.6" is not supported/);
    io.files.set('meta/info.json', new TextEncoder().encode(JSON.stringify({ codebase_version: 'v3.0', fps: 10, total_episodes: 2, total_frames: 4, features: {}, data_path: 'x' })));
    await expect(LeRobotReader.open(io)).rejects.toThrow(/counts 2 episodes but meta\/episodes\/chunk-000\/file-000\.parquet is missing/);
  });
});
