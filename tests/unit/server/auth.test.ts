/** Token and origin checks at the WebSocket upgrade; observers are read-only. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Client, sleep, startTestServer, type TestServer } from './helpers.ts';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ allowedOrigins: ['http://workbench.example:5173'] });
});
afterAll(async () => {
  await srv.cleanup();
});

async function refused(p: Promise<unknown>): Promise<{ status: number; body: Record<string, unknown> }> {
  const e = (await p.then(
    () => {
      throw new Error('connection was accepted');
    },
    (err: { status?: number; body?: string }) => err,
  )) as { status: number; body: string };
  return { status: e.status, body: JSON.parse(e.body) };
}

describe('WebSocket upgrade auth', () => {
  it('refuses a connection without a token with 401 before upgrading', async () => {
    const r = await refused(Client.connect(srv, { token: null }));
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('unauthorized');
    expect(srv.bridge.connectionCount).toBe(0);
  });

  it('refuses a wrong token with 401 (header, subprotocol and query forms)', async () => {
    for (const via of ['header', 'subprotocol', 'query'] as const) {
      const r = await refused(Client.connect(srv, { token: 'x'.repeat(32), via }));
      expect(r.status).toBe(401);
    }
    expect(srv.audit.recent('ws_refused').filter((e) => e.reason === 'token').length).toBeGreaterThanOrEqual(3);
  });

  it('refuses a foreign origin with 403 even with the right token', async () => {
    const r = await refused(Client.connect(srv, { origin: 'http://evil.example' }));
    expect(r.status).toBe(403);
    expect(r.body.error).toBe('origin_not_allowed');
    const r2 = await refused(Client.connect(srv, { origin: `http://127.0.0.1:${srv.port + 1}` }));
    expect(r2.status).toBe(403);
  });

  it('accepts its own origins, configured origins, and every token transport', async () => {
    for (const origin of [`http://127.0.0.1:${srv.port}`, `http://localhost:${srv.port}`, 'http://workbench.example:5173']) {
      const c = await Client.connect(srv, { origin, via: 'subprotocol' });
      expect(c.ws.protocol).toBe('prts.v1');
      expect(c.hello.role).toBe('operator');
      await c.close();
    }
    const q = await Client.connect(srv, { via: 'query' });
    await q.close();
    const admin = await Client.connect(srv, { token: srv.adminToken });
    expect(admin.hello.role).toBe('admin');
    await admin.close();
  });

  it('refuses unknown WebSocket paths with 404', async () => {
    const ws = new WebSocket(srv.wsUrl.replace('/ws/robot', '/ws/other'), { headers: { authorization: `Bearer ${srv.token}` } });
    const status = await new Promise<number>((res) => ws.once('unexpected-response', (_q, r) => res(r.statusCode ?? 0)));
    expect(status).toBe(404);
  });

  it('hello comes first and describes the robot, action space, rates and role', async () => {
    const c = await Client.connect(srv);
    expect(c.messages[0].type).toBe('hello');
    const h = c.hello;
    expect(h.protocol).toBe(1);
    expect(h.server.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(h.robot.jointNames).toHaveLength(6);
    expect(h.actionSpace.ee_delta.names).toEqual(['dx', 'dy', 'dz', 'drx', 'dry', 'drz', 'gripper']);
    expect(h.actionSpace.ee_delta.high[0]).toBe(0.02);
    expect(h.robot.controlHz).toBe(50);
    expect(h.cameras[0]).toMatchObject({ index: 0, format: 'rgb8' });
    expect(h.safety.watchdogMs).toBe(200);
    await c.close();
  });

  it("an observer's commands are refused and logged; the robot does not move", async () => {
    const ctl = await Client.connect(srv);
    const obs = await Client.connect(srv);
    expect((await ctl.lease()).type).toBe('ack');
    const moved = srv.kin.movedSteps;
    const e = await obs.request({ op: 'ee_delta', seq: 1, delta: [0.01, 0, 0, 0, 0, 0, -1] });
    expect(e).toMatchObject({ type: 'error', code: 'not_controller', seq: 1 });
    expect(e.message).toContain(ctl.hello.connectionId);
    const e2 = await obs.request({ op: 'joint_target', seq: 2, q: [0.31, 0, 0.4, Math.PI, 0, 0] });
    expect(e2.code).toBe('not_controller');
    const e3 = await obs.request({ op: 'reset_estop' });
    expect(e3.code).toBe('not_controller');
    const e4 = await obs.request({ op: 'takeover' });
    expect(e4.code).toBe('forbidden');
    await sleep(60);
    expect(srv.kin.trace).toEqual([]);
    expect(srv.kin.movedSteps).toBe(moved);
    expect(srv.audit.recent('refused').some((r) => r.conn === obs.hello.connectionId && r.code === 'not_controller')).toBe(true);
    await ctl.close();
    await obs.close();
  });

  it('mutating HTTP routes need the token and an allowed origin', async () => {
    const url = `${srv.url}/api/datasets/up/files/meta/info.json`;
    const r1 = await fetch(url, { method: 'PUT', body: '{}' });
    expect(r1.status).toBe(401);
    expect((await r1.json()).error).toBe('unauthorized');
    const r2 = await fetch(url, { method: 'PUT', body: '{}', headers: { authorization: 'Bearer wrongwrongwrongwrong' } });
    expect(r2.status).toBe(401);
    const r3 = await fetch(url, { method: 'PUT', body: '{}', headers: { authorization: `Bearer ${srv.token}`, origin: 'http://evil.example' } });
    expect(r3.status).toBe(403);
    const r4 = await fetch(`${srv.url}/api/datasets/up`, { method: 'DELETE' });
    expect(r4.status).toBe(401);
    const r5 = await fetch(url, { method: 'PUT', body: '{}', headers: { authorization: `Bearer ${srv.token}` } });
    expect(r5.status).toBe(201);
  });
});
