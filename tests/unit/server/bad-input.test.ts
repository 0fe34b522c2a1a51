/**
 * Bad input on the robot WebSocket, from the lease holder itself (the most dangerous
 * sender): each case gets a clear error or a clean close, another client keeps being
 * served, and the robot never moves.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Client, releaseTestClients, sleep, startTestServer, type TestServer } from './helpers.ts';

let srv: TestServer;
let observer: Client;

beforeAll(async () => {
  srv = await startTestServer({ safety: { messageRateHz: 200, messageBurst: 100, floodCloseAfter: 400 } });
  observer = await Client.connect(srv);
});
afterAll(async () => {
  await observer.close();
  await srv.cleanup();
});

let moved0 = 0;
beforeEach(() => {
  moved0 = srv.kin.movedSteps;
});

/** Releases the lease before closing, so the next test's client can take it at once. */
async function done(c: Client): Promise<void> {
  await c.request({ op: 'lease_release' });
  await c.close();
}

const opened: Client[] = [];
// A failed test must not leave the lease taken for the next one.
afterEach(() => releaseTestClients(srv, opened));

async function controller(): Promise<Client> {
  const c = await Client.connect(srv);
  opened.push(c);
  const a = await c.lease();
  expect(a.type).toBe('ack');
  return c;
}

/** The robot did not move, nothing reached the driver, and the observer still gets telemetry. */
async function robotStillAndOthersServed(): Promise<void> {
  await sleep(60);
  expect(srv.kin.trace).toEqual([]);
  expect(srv.kin.movedSteps).toBe(moved0);
  const t = await observer.next((m) => m.type === 'telemetry', 1000);
  expect(t.safety.holding).toBe(true);
  const h = await observer.request({ op: 'heartbeat', seq: 1 });
  expect(h.type).toBe('ack');
}

describe('robot WebSocket bad input', () => {
  it('malformed JSON gets bad_json', async () => {
    const c = await controller();
    const p = c.next((m) => m.type === 'error');
    c.sendRaw('{"op": "ee_delta", "seq": 1, "delta": [0,0,');
    const e = await p;
    expect(e.code).toBe('bad_json');
    expect(e.message).toMatch(/not valid JSON/);
    expect(e.message).not.toMatch(/at .*\.ts:\d+/); // no stack traces
    await robotStillAndOthersServed();
    await done(c);
  });

  it('unknown op gets unknown_op naming the op and the valid ones', async () => {
    const c = await controller();
    const e = await c.request({ op: 'fly_to_moon', seq: 3 } as never);
    expect(e).toMatchObject({ type: 'error', code: 'unknown_op', field: 'op', seq: 3 });
    expect(e.message).toContain('"fly_to_moon"');
    expect(e.message).toContain('ee_delta');
    await robotStillAndOthersServed();
    await done(c);
  });

  it('wrong types are refused naming the field', async () => {
    const c = await controller();
    const e1 = await c.request({ op: 'ee_delta', seq: 1, delta: [0.01, '0', 0, 0, 0, 0, 0] });
    expect(e1).toMatchObject({ code: 'bad_message', field: 'delta.1' });
    const p2 = c.next((m) => m.type === 'error');
    c.send({ op: 'ee_delta', seq: '2', delta: [0, 0, 0, 0, 0, 0, 0] });
    const e2 = await p2;
    expect(e2).toMatchObject({ code: 'bad_message', field: 'seq' });
    const e3 = await c.request({ op: 'gripper', seq: 3, value: true } as never);
    expect(e3).toMatchObject({ code: 'bad_message', field: 'value' });
    const e4 = await c.request({ op: 'ee_delta', seq: 4, delta: [0, 0, 0, 0, 0, 0, 0], extra: 1 } as never);
    expect(e4).toMatchObject({ code: 'bad_message', field: 'extra' });
    const p = c.next((m) => m.type === 'error');
    c.sendRaw('[1,2,3]');
    expect(await p).toMatchObject({ code: 'bad_message', field: '(root)' });
    await robotStillAndOthersServed();
    await done(c);
  });

  it('NaN and Infinity are refused', async () => {
    const c = await controller();
    // JSON has no NaN literal: a client that sends one produces invalid JSON.
    let p = c.next((m) => m.type === 'error');
    c.sendRaw('{"op":"ee_delta","seq":1,"delta":[NaN,0,0,0,0,0,0]}');
    expect((await p).code).toBe('bad_json');
    // 1e999 is valid JSON and parses to Infinity.
    p = c.next((m) => m.type === 'error');
    c.sendRaw('{"op":"ee_delta","seq":2,"delta":[0,0,1e999,0,0,0,0]}');
    const e = await p;
    expect(e).toMatchObject({ code: 'bad_message', field: 'delta.2', seq: 2 });
    p = c.next((m) => m.type === 'error');
    c.sendRaw('{"op":"joint_target","seq":3,"q":[0,0,0,0,0,-1e999]}');
    expect(await p).toMatchObject({ code: 'bad_message', field: 'q.5' });
    p = c.next((m) => m.type === 'error');
    c.sendRaw('{"op":"gripper","seq":4,"value":1e300}');
    expect(await p).toMatchObject({ code: 'bad_message', field: 'value' });
    await robotStillAndOthersServed();
    const refused = srv.audit.recent('refused').filter((r) => r.op === 'ee_delta' || r.op === 'joint_target');
    expect(refused.length).toBeGreaterThan(0);
    await done(c);
  });

  it('wrong vector lengths are refused', async () => {
    const c = await controller();
    const e1 = await c.request({ op: 'ee_delta', seq: 1, delta: [0, 0, 0, 0, 0, 0] });
    expect(e1).toMatchObject({ code: 'bad_message', field: 'delta' });
    expect(e1.message).toMatch(/exactly 7/);
    const e2 = await c.request({ op: 'ee_delta', seq: 2, delta: [0, 0, 0, 0, 0, 0, 0, 0] });
    expect(e2).toMatchObject({ code: 'bad_message', field: 'delta' });
    const e3 = await c.request({ op: 'joint_target', seq: 3, q: [0.3, 0, 0.4] });
    expect(e3).toMatchObject({ code: 'bad_message', field: 'q' });
    expect(e3.message).toMatch(/exactly 6 numbers/);
    await robotStillAndOthersServed();
    await done(c);
  });

  it('an oversized frame closes that connection cleanly (1009)', async () => {
    const c = await controller();
    c.sendRaw(JSON.stringify({ op: 'heartbeat', pad: 'x'.repeat(70 * 1024) }));
    const closed = await c.closed;
    expect(closed.code).toBe(1009);
    // The holder vanished: the lease is released and the robot held.
    await observer.waitFor((m) => m.type === 'lease' && m.holder === null && m.reason === 'disconnected');
    await robotStillAndOthersServed();
    expect(srv.bridge.leaseHolder).toBeNull();
  });

  it('binary where text is expected gets binary_not_accepted', async () => {
    const c = await controller();
    const p = c.next((m) => m.type === 'error');
    c.sendRaw(Buffer.from(JSON.stringify({ op: 'ee_delta', seq: 1, delta: [0.01, 0, 0, 0, 0, 0, 0] })));
    expect((await p).code).toBe('binary_not_accepted');
    await robotStillAndOthersServed();
    await done(c);
  });

  it('a flood of messages is rate limited, then the flooder is closed (1008)', async () => {
    const c = await controller();
    // Valid-looking commands with stale seq numbers, sent as fast as the socket takes them:
    // none may reach the driver, the first ones as stale_seq, the rest as dropped.
    const first = await c.request({ op: 'ee_delta', seq: 10, delta: [0, 0, 0, 0, 0, 0, -1] });
    expect(first.type).toBe('ack');
    srv.kin.trace.length = 0;
    moved0 = srv.kin.movedSteps;
    const payload = JSON.stringify({ op: 'ee_delta', seq: 5, delta: [0.02, 0, 0, 0, 0, 0, -1] });
    for (let i = 0; i < 5000 && c.ws.readyState === 1; i++) c.sendRaw(payload);
    const closed = await c.closed;
    expect(closed.code).toBe(1008);
    expect(closed.reason).toMatch(/rate limit/);
    expect(c.messages.some((m) => m.type === 'error' && m.code === 'rate_limited')).toBe(true);
    expect(c.messages.some((m) => m.type === 'error' && m.code === 'stale_seq')).toBe(true);
    expect(srv.audit.recent('flood_close').length).toBe(1);
    await robotStillAndOthersServed();
  });
});
