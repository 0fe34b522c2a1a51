/** Lease, admin takeover, latched e-stop, clamping, sequence numbers, camera frames. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Client, releaseTestClients, sleep, startTestServer, type TestServer } from './helpers.ts';
import { decodeCameraFrame } from '../../../server/robot/protocol.ts';

let srv: TestServer;
const opened: Client[] = [];
beforeAll(async () => {
  srv = await startTestServer({ safety: { leaseTimeoutMs: 400, watchdogMs: 150 } });
});
afterAll(async () => {
  await srv.cleanup();
});
afterEach(async () => {
  await releaseTestClients(srv, opened, { resetEstop: true });
  srv.kin.trace.length = 0;
});

async function connect(token?: string): Promise<Client> {
  const c = await Client.connect(srv, { token });
  opened.push(c);
  return c;
}

describe('lease', () => {
  it('two clients asking for control: exactly one gets it', async () => {
    const a = await connect();
    const b = await connect();
    const [ra, rb] = await Promise.all([a.lease(), b.lease()]);
    const kinds = [ra.type, rb.type].sort();
    expect(kinds).toEqual(['ack', 'error']);
    const loser = ra.type === 'error' ? ra : rb;
    expect(loser.code).toBe('lease_held');
    const winner = ra.type === 'ack' ? a : b;
    expect(srv.bridge.leaseHolder).toBe(winner.hello.connectionId);
    // Both hear who holds it.
    await a.waitFor((m) => m.type === 'lease' && m.holder === winner.hello.connectionId);
    await b.waitFor((m) => m.type === 'lease' && m.holder === winner.hello.connectionId);
  });

  it('the lease expires without heartbeats and another client can take it', async () => {
    const a = await connect();
    const b = await connect();
    expect((await a.lease()).type).toBe('ack');
    const t0 = performance.now();
    const expired = await a.next((m) => m.type === 'lease' && m.holder === null && m.reason === 'expired', 2000);
    const dt = performance.now() - t0;
    expect(expired).toBeTruthy();
    expect(dt).toBeGreaterThanOrEqual(350);
    expect(dt).toBeLessThan(1000);
    expect((await b.lease()).type).toBe('ack');
    const e = await a.request({ op: 'ee_delta', seq: 1, delta: [0.01, 0, 0, 0, 0, 0, -1] });
    expect(e.code).toBe('not_controller');
    expect(srv.audit.recent('lease').some((l) => l.reason === 'expired' && l.conn === a.hello.connectionId)).toBe(true);
  });

  it('heartbeats keep the lease alive past the timeout', async () => {
    const a = await connect();
    expect((await a.lease()).type).toBe('ack');
    for (let i = 0; i < 10; i++) {
      await sleep(100);
      a.send({ op: 'heartbeat' });
    }
    expect(srv.bridge.leaseHolder).toBe(a.hello.connectionId);
    expect(a.messages.some((m) => m.type === 'lease' && m.reason === 'expired')).toBe(false);
  });

  it('admin takeover revokes the holder and holds the robot', async () => {
    const op = await connect();
    const admin = await connect(srv.adminToken);
    expect(admin.hello.role).toBe('admin');
    expect((await op.lease()).type).toBe('ack');
    op.send({ op: 'ee_delta', seq: 1, delta: [0.01, 0, 0, 0, 0, 0, -1] });
    await op.waitFor((m) => m.type === 'ack' && m.seq === 1);
    const denied = await admin.lease();
    expect(denied.code).toBe('lease_held');
    expect(denied.message).toMatch(/takeover/);
    const holds0 = srv.kin.holds.length;
    expect((await admin.request({ op: 'takeover' })).type).toBe('ack');
    expect(srv.bridge.leaseHolder).toBe(admin.hello.connectionId);
    expect(srv.kin.holds.length).toBeGreaterThan(holds0);
    await op.waitFor((m) => m.type === 'lease' && m.reason === 'revoked');
    const e = await op.request({ op: 'ee_delta', seq: 2, delta: [0.01, 0, 0, 0, 0, 0, -1] });
    expect(e.code).toBe('not_controller');
    // Sequence numbers restart with the new lease.
    expect((await admin.request({ op: 'ee_delta', seq: 0, delta: [0.0, 0, 0, 0, 0, 0, -1] })).type).toBe('ack');
    expect(srv.audit.recent('lease').some((l) => l.reason === 'takeover' && l.from === op.hello.connectionId)).toBe(true);
  });

  it('commands with a stale or repeated seq are refused', async () => {
    const a = await connect();
    await a.lease();
    expect((await a.request({ op: 'gripper', seq: 5, value: -1 })).type).toBe('ack');
    expect((await a.request({ op: 'gripper', seq: 5, value: -1 })).code).toBe('stale_seq');
    expect((await a.request({ op: 'gripper', seq: 4, value: -1 })).code).toBe('stale_seq');
    expect((await a.request({ op: 'gripper', seq: 6, value: -1 })).type).toBe('ack');
  });
});

describe('e-stop', () => {
  it('is latched through reconnects and new leases until reset; commands in between are refused and logged', async () => {
    const a = await connect();
    await a.lease();
    const obs = await connect();
    // An observer may press the e-stop.
    expect((await obs.request({ op: 'estop', reason: 'person in cell' })).type).toBe('ack');
    await a.waitFor((m) => m.type === 'safety' && m.event === 'estop');
    expect(srv.kin.holds.at(-1)?.reason).toBe('estop');
    const e1 = await a.request({ op: 'ee_delta', seq: 1, delta: [0.01, 0, 0, 0, 0, 0, -1] });
    expect(e1.code).toBe('estopped');
    // Reconnect and re-lease: still latched.
    await a.close();
    await sleep(30);
    const a2 = await connect();
    expect(a2.hello.safety.estop).toBe(true);
    expect((await a2.lease()).type).toBe('ack');
    const e2 = await a2.request({ op: 'joint_target', seq: 1, q: [0.31, 0, 0.4, Math.PI, 0, 0] });
    expect(e2.code).toBe('estopped');
    const t = await a2.next((m) => m.type === 'telemetry');
    expect(t.safety.estop).toBe(true);
    // A takeover does not clear it either.
    const admin = await connect(srv.adminToken);
    await admin.request({ op: 'takeover' });
    const e3 = await admin.request({ op: 'gripper', seq: 1, value: 1 });
    expect(e3.code).toBe('estopped');
    expect(srv.kin.trace).toEqual([]);
    const refusals = srv.audit.recent('refused').filter((r) => r.code === 'estopped');
    expect(refusals.length).toBeGreaterThanOrEqual(3);
    // Only an explicit reset clears it; after that the robot stays held until a command.
    expect((await obs.request({ op: 'reset_estop' })).code).toBe('not_controller');
    expect((await admin.request({ op: 'reset_estop' })).type).toBe('ack');
    expect(srv.bridge.estopLatched).toBe(false);
    expect(srv.kin.state().holding).toBe(true);
    expect((await admin.request({ op: 'gripper', seq: 2, value: -1 })).type).toBe('ack');
    const log = srv.audit.recent().map((e) => e.event);
    expect(log).toContain('estop');
    expect(log).toContain('estop_reset');
  });
});

describe('clamping', () => {
  it('clamps per-step deltas and reports it to the client and the audit log', async () => {
    const a = await connect();
    await a.lease();
    const r = await a.request({ op: 'ee_delta', seq: 1, delta: [0.5, -0.5, 0.001, 3, 0, 0, 7] });
    expect(r.type).toBe('ack');
    const byIndex = Object.fromEntries(r.clamps.map((c: { index: number; rule: string; applied: number }) => [`${c.index}:${c.rule}`, c.applied]));
    expect(byIndex['0:ee_step']).toBeCloseTo(0.02);
    expect(byIndex['1:ee_step']).toBeCloseTo(-0.02);
    expect(byIndex['3:ee_rot_step']).toBeCloseTo(0.1);
    expect(byIndex['6:gripper_range']).toBe(1);
    expect(r.clamps.some((c: { index: number }) => c.index === 2)).toBe(false);
    const sent = srv.kin.trace.at(-1);
    expect(sent?.seq).toBe(1);
    const logged = srv.audit.recent('clamp').at(-1);
    expect(logged?.seq).toBe(1);
    expect((logged?.clamps as unknown[]).length).toBe(r.clamps.length);
  });

  it('clamps joint targets to limits, per-step change, and the workspace box', async () => {
    const a = await connect();
    await a.lease();
    const q = srv.kin.state().q;
    // z far below the workspace floor (0), x far out: joint limit, step and workspace all apply.
    const r = await a.request({ op: 'joint_target', seq: 1, q: [5, q[1], -3, q[3], q[4], q[5]] });
    expect(r.type).toBe('ack');
    const rules = new Set(r.clamps.map((c: { rule: string }) => c.rule));
    expect(rules.has('joint_limit')).toBe(true);
    expect(rules.has('joint_step')).toBe(true);
    const x = r.clamps.filter((c: { index: number }) => c.index === 0).at(-1).applied;
    expect(x).toBeCloseTo(q[0] + 0.01, 6); // velocity 0.5 / 50 Hz = 0.01 per step
  });

  it('keeps the end-effector inside the workspace box over many steps', async () => {
    const a = await connect();
    await a.lease();
    for (let i = 1; i <= 60; i++) {
      a.send({ op: 'ee_delta', seq: i, delta: [0, 0, -0.02, 0, 0, 0, -1] });
      await sleep(20);
    }
    await a.waitFor((m) => m.type === 'ack' && m.seq === 60);
    await sleep(100);
    const z = srv.kin.state().eePos[2];
    expect(z).toBeGreaterThanOrEqual(0 - 1e-9);
    expect(a.messages.some((m) => m.type === 'ack' && m.clamps?.some((c: { rule: string }) => c.rule === 'workspace'))).toBe(true);
  });
});

describe('camera', () => {
  it('streams binary RGB frames with a header to subscribers only', async () => {
    const sub = await connect();
    const other = await connect();
    expect((await sub.request({ op: 'subscribe', camera: true })).type).toBe('ack');
    await sleep(500);
    expect(sub.binary.length).toBeGreaterThan(0);
    expect(other.binary.length).toBe(0);
    const f = decodeCameraFrame(sub.binary[0]);
    expect(f).toMatchObject({ version: 1, format: 1, camera: 0, width: 32, height: 24 });
    expect(f.rgb.length).toBe(32 * 24 * 3);
    await sub.request({ op: 'subscribe', camera: false });
  });
});
