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
      // The checks above can outlast the 1 s lease on a loaded machine (they send no
      // heartbeats); renew it so the next recording is not discarded for a lost lease.
      expect((await c.lease()).type).toBe('ack');
      await recordEpisode(c, 'after restart', 4, 200);
      const stop2 = await c.request({ op: 'record_stop' });
      expect(stop2.type, `k=${k}: ${JSON.stringify(stop2)}`).toBe('ack');
      const r2 = await LeRobotReader.open(nodeIO(join(srv.dataDir, 'teleop')));
      expect(r2.episodes.map((e) => e.tasks[0]), `k=${k}`).toEqual(['complete one', 'after restart']);
      await c.close();
      await servers.pop()!.cleanup();
    }
  }, 60_000);
});

describe('teleop recording under SIGKILL', () => {
  it('a process killed during a save never leaves an episode that looks complete', async () => {
    const { build } = await import('esbuild');
    const { spawn } = await import('node:child_process');
    const { mkdtempSync, mkdirSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const outDir = join(process.cwd(), 'node_modules/.cache/prts-test');
    mkdirSync(outDir, { recursive: true });
    const outfile = join(outDir, 'record-child.mjs');
    await build({
      entryPoints: [join(process.cwd(), 'tests/unit/server/fixtures/record-child.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile,
      packages: 'external',
      logLevel: 'warning',
    });
    const FRAMES = 300;
    // Time one save first, then kill at fractions of it: before, during and after the writes.
    let saveMs = 0;
    {
      const dir = mkdtempSync(join(tmpdir(), 'prts-kill-'));
      const child = spawn(process.execPath, [outfile, dir, String(FRAMES)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let t0 = 0;
      let buf = '';
      await new Promise<void>((resolve) => {
        child.stdout.on('data', (d: Buffer) => {
          // Lines may arrive split across chunks on a busy machine.
          buf += d.toString();
          const lines = buf.split('\n');
          buf = lines.pop()!;
          for (const l of lines) {
            if (l === 'saving 1') t0 = performance.now();
            if (l === 'saved 1') {
              saveMs = performance.now() - t0;
              child.kill('SIGKILL');
            }
          }
        });
        child.on('exit', () => resolve());
      });
      rmSync(dir, { recursive: true, force: true });
    }
    expect(saveMs).toBeGreaterThan(0);
    const delays = [0, 0.2, 0.4, 0.6, 0.75, 0.9, 1.0, 1.2].map((f) => Math.round(f * saveMs));
    const outcomes: string[] = [];
    for (const delay of delays) {
      const dir = mkdtempSync(join(tmpdir(), 'prts-kill-'));
      const child = spawn(process.execPath, [outfile, dir, String(FRAMES)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let saved = -1;
      let killedDuring = -1;
      await new Promise<void>((resolve) => {
        let buf = '';
        child.stdout.on('data', (d: Buffer) => {
          buf += d.toString();
          const lines = buf.split('\n');
          buf = lines.pop()!;
          for (const l of lines) {
            const [what, n] = l.split(' ');
            if (what === 'saved') saved = Number(n);
            // Let one episode complete, then kill during the second save, `delay` ms in.
            if (what === 'saving' && Number(n) === 1 && killedDuring < 0) {
              killedDuring = 1;
              setTimeout(() => child.kill('SIGKILL'), delay);
            }
          }
        });
        child.on('exit', () => resolve());
      });
      expect(killedDuring).toBe(1);
      const r = await LeRobotReader.open(nodeIO(join(dir, 'teleop')));
      outcomes.push(`${delay}ms:${r.episodes.length}ep/${listTree(join(dir, 'teleop')).filter((f) => f.includes('tmp-prts')).length}tmp`);
      // Episode 1 is either absent or whole (the kill came after its info.json); never partial.
      expect(r.episodes.length, `delay ${delay}`).toBeGreaterThanOrEqual(saved + 1);
      expect(r.episodes.length, `delay ${delay}`).toBeLessThanOrEqual(2);
      expect(r.info.total_frames).toBe(r.episodes.length * FRAMES);
      for (const e of r.episodes) {
        expect(e.length).toBe(FRAMES);
        const d = await r.getFrames(e.index, 0, e.length, ['action', 'observation.images.scene']);
        expect(d.length).toBe(FRAMES);
      }
      // A new recorder on the same dataset sweeps the debris and appends after the last whole episode.
      const info = new KinematicDriver(parseConfig({}).safety).info;
      const rec = new LeRobotRecorder(dir, info);
      await rec.start('teleop', 'after the crash');
      const kin = new KinematicDriver(parseConfig({}).safety, { manualStep: true });
      for (let i = 0; i < 5; i++) {
        kin.stepOnce();
        rec.addFrame(kin.state(), [0, 0, 0, 0, 0, 0, -1], kin.camera(0));
      }
      const ep = await rec.stop();
      expect(ep.episodeIndex).toBe(r.episodes.length);
      await rec.close();
      rmSync(dir, { recursive: true, force: true });
    }
    // Which trials died before, during or after the save's final info.json write.
    console.log(`save takes ${saveMs.toFixed(0)} ms; kill outcomes (delay: episodes/temp files left): ${outcomes.join(' ')}`);
  }, 120_000);
});
