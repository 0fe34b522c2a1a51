/**
 * Issue 16, item 2: an e-stop must always latch. Anything with op "estop" from an
 * authenticated client stops the robot; bad fields are reported afterwards as warnings
 * in the ack (naming the field), never as a refusal.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Client, releaseTestClients, sleep, startTestServer, type TestServer } from './helpers.ts';

let srv: TestServer;
const opened: Client[] = [];
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv.cleanup();
});
afterEach(() => releaseTestClients(srv, opened, { resetEstop: true }));

async function connect(token?: string): Promise<Client> {
  const c = await Client.connect(srv, { token });
  opened.push(c);
  return c;
}

/** A controller moving the robot in x, so that "the robot stops" is observable. */
async function moving(): Promise<{ ctl: Client; stop: () => void }> {
  const ctl = await connect();
  expect((await ctl.lease()).type).toBe('ack');
  let seq = 1;
  const t = setInterval(() => ctl.send({ op: 'ee_delta', seq: seq++, delta: [0.004, 0, 0, 0, 0, 0, -1] }), 20);
  await ctl.waitFor((m) => m.type === 'ack' && m.op === 'ee_delta');
  await sleep(60);
  expect(srv.kin.state().holding).toBe(false);
  return { ctl, stop: () => clearInterval(t) };
}

async function expectStoppedAndStill(): Promise<void> {
  expect(srv.bridge.estopLatched).toBe(true);
  expect(srv.kin.holds.at(-1)?.reason).toBe('estop');
  await sleep(60);
  const q0 = srv.kin.state().q;
  await sleep(100);
  expect(srv.kin.state().q).toEqual(q0);
  expect(srv.kin.state().holding).toBe(true);
}

describe('e-stop with bad fields', () => {
  it('a non-string reason latches and stops the robot; the warning names the field', async () => {
    const { ctl, stop } = await moving();
    const obs = await connect();
    const ack = await obs.request({ op: 'estop', seq: 7, reason: 5 } as never);
    stop();
    expect(ack).toMatchObject({ type: 'ack', op: 'estop', seq: 7 });
    expect(ack.warnings).toEqual([expect.objectContaining({ field: 'reason' })]);
    expect(ack.warnings[0].message).toMatch(/^reason: expected a string/);
    await expectStoppedAndStill();
    await ctl.waitFor((m) => m.type === 'safety' && m.event === 'estop');
    const logged = srv.audit.recent('estop').at(-1)!;
    expect(logged.reason).toBe('operator');
    expect((logged.warnings as { field: string }[])[0].field).toBe('reason');
    // Latched like any other e-stop: the controller's next command is refused.
    expect((await ctl.request({ op: 'ee_delta', seq: 100_000, delta: [0.01, 0, 0, 0, 0, 0, -1] })).code).toBe('estopped');
  });

  it('a reason over 200 characters latches with the reason truncated', async () => {
    const { stop } = await moving();
    const obs = await connect();
    const ack = await obs.request({ op: 'estop', seq: 1, reason: 'r'.repeat(5000) });
    stop();
    expect(ack.type).toBe('ack');
    expect(ack.warnings[0]).toMatchObject({ field: 'reason' });
    expect(ack.warnings[0].message).toMatch(/longer than 200 characters \(5000\); truncated/);
    await expectStoppedAndStill();
    expect(srv.audit.recent('estop').at(-1)!.reason).toBe('r'.repeat(200));
  });

  it('a bad seq and unknown fields latch too, each named', async () => {
    const { stop } = await moving();
    const obs = await connect();
    const p = obs.next((m) => m.type === 'ack' && m.op === 'estop');
    obs.send({ op: 'estop', seq: -3, reason: 'ok', extra: true });
    const ack = await p;
    stop();
    expect(ack.seq).toBeUndefined();
    expect(ack.warnings.map((w: { field: string }) => w.field).sort()).toEqual(['extra', 'seq']);
    await expectStoppedAndStill();
  });

  it('an e-stop carrying a 29 KB payload of unknown keys latches', async () => {
    const { stop } = await moving();
    const obs = await connect();
    const o: Record<string, unknown> = { op: 'estop', seq: 2 };
    for (let i = 0; i < 3000; i++) o[`x${i}`] = 1;
    const ack = await obs.request(o as never);
    stop();
    expect(ack.type).toBe('ack');
    expect(ack.warnings[0].message).toMatch(/3000 unknown fields .*; ignored/);
    await expectStoppedAndStill();
  });

  it('a valid e-stop has no warnings', async () => {
    const obs = await connect();
    const ack = await obs.request({ op: 'estop', seq: 3, reason: 'person in cell' });
    expect(ack).toEqual({ type: 'ack', op: 'estop', seq: 3 });
    expect(srv.bridge.estopLatched).toBe(true);
  });
});
