/** The default `sim` driver: MuJoCo headless in Node behind the same bridge. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../../server/app.ts';
import { decodeCameraFrame } from '../../../server/robot/protocol.ts';
import { Client, sleep } from './helpers.ts';

let srv: RunningServer;
let dataDir: string;
beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'prts-sim-'));
  srv = await startServer({ config: { port: 0, dataDir, robot: 'sim' } });
});
afterAll(async () => {
  await srv.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('sim driver', () => {
  it('moves the simulated arm with EE deltas, holds when commands stop, streams camera frames', async () => {
    const c = await Client.connect(srv);
    expect(c.hello.robot).toMatchObject({ driver: 'sim', controlHz: 20, supportsJointTarget: false });
    expect(c.hello.robot.jointNames).toHaveLength(7);
    await c.lease();
    await c.request({ op: 'subscribe', camera: true });
    const z0 = srv.driver.state()!.eePos[2];
    for (let i = 1; i <= 10; i++) {
      c.send({ op: 'ee_delta', seq: i, delta: [0, 0, 0.01, 0, 0, 0, -1] });
      await sleep(50);
    }
    await sleep(100);
    const z1 = srv.driver.state()!.eePos[2];
    expect(z1 - z0).toBeGreaterThan(0.04);
    // Silence: the watchdog holds and the arm stays put (within servo settling).
    await sleep(400);
    c.send({ op: 'heartbeat' }); // keep the lease (1 s); the robot stays held
    const za = srv.driver.state()!.eePos[2];
    await sleep(300);
    c.send({ op: 'heartbeat' });
    expect(Math.abs(srv.driver.state()!.eePos[2] - za)).toBeLessThan(0.002);
    expect(srv.driver.state()!.holding).toBe(true);
    expect((await c.request({ op: 'joint_target', seq: 20, q: [0, 0, 0, -2, 0, 2, 0.7] })).code).toBe('unsupported');
    await c.waitFor(() => c.binary.length > 0, 3000).catch(() => undefined);
    expect(c.binary.length).toBeGreaterThan(0);
    const f = decodeCameraFrame(c.binary[0]);
    expect([f.width, f.height, f.rgb.length]).toEqual([64, 64, 64 * 64 * 3]);
    // Recording in the sim: state and actions, no images (the CPU camera is too slow for every step).
    const rs = await c.request({ op: 'record_start', task: 'lift the gripper' });
    expect(rs.type, JSON.stringify(rs)).toBe('ack');
    for (let i = 21; i <= 26; i++) {
      c.send({ op: 'ee_delta', seq: i, delta: [0, 0, 0.005, 0, 0, 0, -1] });
      await sleep(50);
    }
    const stop = await c.request({ op: 'record_stop' });
    expect(stop.type).toBe('ack');
    const ev = await c.waitFor((m) => m.type === 'record' && m.state === 'saved');
    expect(ev.frames).toBeGreaterThan(3);
    await c.close();
  }, 30_000);
});
