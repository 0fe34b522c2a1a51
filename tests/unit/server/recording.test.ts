/**
 * Teleop recording into LeRobot v3 through src/data's writer: a stopped episode is
 * readable with the task and actions; a discarded one leaves the directory untouched;
 * a write that dies midway never shows up as a complete episode; losing the lease
 * mid-recording discards it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { LeRobotReader } from '../../../src/data/index.ts';
import { nodeIO } from '../../../src/data/io-node.ts';
import type { WritableDatasetIO } from '../../../src/data/index.ts';
import { LeRobotRecorder } from '../../../server/robot/lerobot-recorder.ts';
import { KinematicDriver } from '../../../server/drivers/kinematic.ts';
import { parseConfig } from '../../../server/config.ts';
import { Client, sleep, startTestServer, type TestServer } from './helpers.ts';

const servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.cleanup();
});

function listTree(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(`${relative(root, p)}:${statSync(p).size}`);
    }
  };
  walk(root);
  return out.sort();
}

async function recordingServer(io?: (dir: string) => WritableDatasetIO): Promise<TestServer> {
  // The recorder needs the driver's info; build it the way startServer would, with an injectable IO.
  const safety = parseConfig({}).safety;
  const info = new KinematicDriver(safety).info;
  let recorder: LeRobotRecorder | null = null;
  const srv = await startTestServer({}, {}, null);
  await srv.close();
  recorder = new LeRobotRecorder(srv.dataDir, info, { io });
  const s2 = await startTestServer({ dataDir: srv.dataDir }, {}, recorder);
  servers.push(s2);
  return s2;
}

async function recordEpisode(c: Client, task: string, steps: number, seq0: number): Promise<void> {
  expect((await c.request({ op: 'record_start', task, dataset: 'teleop' })).type).toBe('ack');
  for (let i = 0; i < steps; i++) {
    c.send({ op: 'ee_delta', seq: seq0 + i, delta: [0.005, -0.002, 0, 0, 0, 0, i < steps / 2 ? -1 : 1] });
    await sleep(20);
  }
}

describe('teleop recording', () => {
  it('record start/stop writes a LeRobot v3 episode with the task, state, actions and images', async () => {
    const srv = await recordingServer();
    const c = await Client.connect(srv);
    await c.lease();
    await recordEpisode(c, 'push the gantry to the right', 10, 1);
    const saved = await c.request({ op: 'record_stop' });
    expect(saved.type).toBe('ack');
    const ev = await c.waitFor((m) => m.type === 'record' && m.state === 'saved');
    expect(ev).toMatchObject({ dataset: 'teleop', episodeIndex: 0, task: 'push the gantry to the right' });
    expect(ev.frames).toBeGreaterThan(5);
    const r = await LeRobotReader.open(nodeIO(join(srv.dataDir, 'teleop')));
    expect(r.episodes).toHaveLength(1);
    expect(r.episodes[0].tasks).toEqual(['push the gantry to the right']);
    expect(r.episodes[0].meta).toMatchObject({ source: 'teleop', driver: 'kinematic' });
    const data = await r.getFrames(0, 0, r.episodes[0].length);
    const action = data.columns.action;
    expect(action.shape).toEqual([7]);
    // Some recorded actions carry the commanded x delta (0.005), none exceed the step limit.
    const xs = Array.from({ length: data.length }, (_, i) => (action.data as Float32Array)[i * 7]);
    expect(xs.some((x) => Math.abs(x - 0.005) < 1e-6)).toBe(true);
    expect(xs.every((x) => Math.abs(x) <= 0.02 + 1e-6)).toBe(true);
    const img = await r.getFrames(0, 0, 1, ['observation.images.scene']);
    const col = img.columns['observation.images.scene'];
    expect(col.dtype).toBe('image');
    const decoded = (col.data as { decode(): { width: number; height: number } }[])[0].decode();
    expect([decoded.width, decoded.height]).toEqual([32, 24]);
    expect(data.columns['observation.state'].shape).toEqual([7]);
    // It is served by the dataset API.
    const list = await (await fetch(`${srv.url}/api/datasets`)).json();
    expect(list.datasets.find((d: { id: string }) => d.id === 'teleop')).toMatchObject({ total_episodes: 1, codebase_version: 'v3.0' });
  });

  it('record discard leaves nothing behind', async () => {
    const srv = await recordingServer();
    const c = await Client.connect(srv);
    await c.lease();
    await recordEpisode(c, 'first', 6, 1);
    await c.request({ op: 'record_stop' });
    const before = listTree(join(srv.dataDir, 'teleop'));
    await recordEpisode(c, 'to be thrown away', 6, 100);
    expect((await c.request({ op: 'record_discard' })).type).toBe('ack');
    await c.waitFor((m) => m.type === 'record' && m.state === 'discarded');
    await sleep(50);
    expect(listTree(join(srv.dataDir, 'teleop'))).toEqual(before);
    const r = await LeRobotReader.open(nodeIO(join(srv.dataDir, 'teleop')));
    expect(r.episodes.map((e) => e.tasks[0])).toEqual(['first']);
  });

  it('losing the lease mid-recording discards the episode', async () => {
    const srv = await recordingServer();
    const c = await Client.connect(srv);
    await c.lease();
    await recordEpisode(c, 'interrupted', 5, 1);
    const admin = await Client.connect(srv, { token: srv.adminToken });
    await admin.request({ op: 'takeover' });
    await admin.waitFor((m) => m.type === 'record' && m.state === 'discarded');
    expect((await admin.request({ op: 'record_stop' })).code).toBe('recording');
  });

  it('a recording killed mid-write never appears as a complete episode', async () => {
    // Fail the k-th atomic write of the save, for every k the save performs, as if the
    // process died there; then "restart" with plain IO and read what a user would see.
    let writesPerSave = 0;
    {
      const counting = (dir: string) => {
        const io = nodeIO(dir);
        return { ...io, writeFileAtomic: async (p: string, b: Uint8Array) => { writesPerSave++; return io.writeFileAtomic(p, b); } };
      };
      const srv = await recordingServer(counting);
      const c = await Client.connect(srv);
      await c.lease();
      await recordEpisode(c, 'count writes', 4, 1);
      await c.request({ op: 'record_stop' });
      writesPerSave = 0;
      await recordEpisode(c, 'count writes again', 4, 100);
      await c.request({ op: 'record_stop' });
      await c.close();
    }
    expect(writesPerSave).toBeGreaterThanOrEqual(3);
    for (let k = 1; k <= writesPerSave; k++) {
      let n = 0;
      let armed = false;
      const crashing = (dir: string) => {
        const io = nodeIO(dir);
        return {
          ...io,
          writeFileAtomic: async (p: string, b: Uint8Array) => {
            if (armed && ++n === k) {
              // Half a temp file, as a kill during the write would leave; then the "process" is gone.
              await io.mkdirp(p.split('/').slice(0, -1).join('/'));
              const fs = await import('node:fs/promises');
              await fs.writeFile(join(io.root, `${p}.tmp-prts-crash`), b.subarray(0, b.length >> 1));
              throw new Error('simulated crash');
            }
            return io.writeFileAtomic(p, b);
          },
        };
      };
      const srv = await recordingServer(crashing);
      const c = await Client.connect(srv);
      await c.lease();
      await recordEpisode(c, 'complete one', 4, 1);
      expect((await c.request({ op: 'record_stop' })).type).toBe('ack');
      armed = true;
      await recordEpisode(c, 'killed one', 4, 100);
      const stop = await c.request({ op: 'record_stop' });
      expect(stop.code, `k=${k}`).toBe('recording');
      // After the restart: only the first episode exists, readable and whole.
      const r = await LeRobotReader.open(nodeIO(join(srv.dataDir, 'teleop')));
      expect(r.episodes.map((e) => e.tasks[0]), `k=${k}`).toEqual(['complete one']);
      await r.getFrames(0, 0, r.episodes[0].length);
      const info = await (await fetch(`${srv.url}/api/datasets/teleop/info`)).json();
      expect(info.total_episodes, `k=${k}`).toBe(1);
      // The next recording resumes cleanly after the crash.
      armed = false;
      await recordEpisode(c, 'after restart', 4, 200);
      expect((await c.request({ op: 'record_stop' })).type, `k=${k}`).toBe('ack');
      const r2 = await LeRobotReader.open(nodeIO(join(srv.dataDir, 'teleop')));
      expect(r2.episodes.map((e) => e.tasks[0]), `k=${k}`).toEqual(['complete one', 'after restart']);
      await c.close();
      await servers.pop()!.cleanup();
    }
  }, 60_000);
});
