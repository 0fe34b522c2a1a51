/**
 * Issue 16, item 1: a flood from authenticated clients must not stall anyone else.
 * Per-connection byte and parse budgets are checked before JSON.parse, error replies are
 * bounded and never echo the input, and a client that does not read is closed once its
 * send buffer passes the cap.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Client, sleep, startTestServer, type TestServer } from './helpers.ts';
import { runFlood } from '../../../server/tools/flood.ts';
import { MAX_ERROR_MESSAGE_CHARS } from '../../../server/robot/protocol.ts';

/** The flood message: 3,000 unknown keys, about 29 KB. */
function floodMessage(keys = 3000): string {
  const o: Record<string, unknown> = { op: 'heartbeat' };
  for (let i = 0; i < keys; i++) o[`x${String(i).padStart(4, '0')}`] = 1;
  return JSON.stringify(o);
}

describe('flood of 16 non-reading clients (29 KB of unknown keys, 250 msg/s each)', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer();
  });
  afterAll(async () => {
    await srv.cleanup();
  });

  it('e-stop and health stay fast, telemetry keeps flowing, the controller keeps its lease, memory stays bounded', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const r = await runFlood(srv, { flooders: 16, hz: 250, keys: 3000, durationMs: 8000, gc });
    console.log(`flood: ${JSON.stringify(r)}`);
    expect(r.floodMsgBytes).toBeGreaterThan(29_000);
    expect(r.floodSent).toBeGreaterThan(1000);
    expect(r.estopAcked).toBe(r.estopTrials);
    expect(r.estopTrials).toBeGreaterThan(10);
    // The issue sets 50 ms (e-stop p99) and 100 ms (health p99); `npm run bench:server --
    // --mode flood` measures those figures. This test runs on a shared 2-core machine next
    // to other jobs, where the scheduler alone can stall the process for tens of ms, so it
    // asserts 5x the figures: still far below the 1.5 s and 4.5 s before the fix.
    expect(r.estopP99Ms).toBeLessThan(250);
    expect(r.healthP99Ms).toBeLessThan(500);
    expect(r.controllerKeptLease).toBe(true);
    expect(r.telemetryMaxGapMs).toBeLessThan(1000);
    expect(r.telemetryHz).toBeGreaterThan(15);
    // Retained memory (after a full GC, heap plus buffers) per flooding client, sampled
    // under flood, so it includes each client's in-flight socket reads (~0.2-2 MB measured).
    // Bounded by design: a socket read, one message, and the send-buffer cap. Before: the
    // replies echoing 3,000 keys piled up unread, ~35 MB per client.
    expect(r.liveGrowthPerFlooderMb).toBeLessThan(4);
  }, 60_000);
});

describe('per-connection budgets', () => {
  let srv: TestServer;
  const opened: Client[] = [];
  beforeAll(async () => {
    // 2 KB/s with the 1 KiB minimum payload: a 2 KB burst, then one ~1 KB message a half second.
    srv = await startTestServer({ maxPayloadBytes: 1024, safety: { inboundBytesPerSec: 2000, inboundByteBurst: 2000 } });
  });
  afterAll(async () => {
    await srv.cleanup();
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    for (const c of opened.splice(0)) if (c.ws.readyState === 1) await c.close();
  });

  it('an over-budget message is dropped without being parsed, and the drop names its seq', async () => {
    const c = await Client.connect(srv);
    opened.push(c);
    const pad = 'p'.repeat(900);
    const msgs = Array.from({ length: 10 }, (_, i) => JSON.stringify({ op: 'heartbeat', seq: i + 1, pad }));
    const parsed: number[] = [];
    const real = JSON.parse;
    vi.spyOn(JSON, 'parse').mockImplementation((text, reviver) => {
      if (typeof text === 'string' && text.includes(pad)) parsed.push(text.length);
      return real(text, reviver);
    });
    const report = c.next((m) => m.type === 'error' && m.code === 'rate_limited', 3000);
    for (const m of msgs) c.sendRaw(m);
    const e = await report;
    await sleep(300);
    // The 2 KB burst pays for two ~930-byte messages; the other eight are never parsed.
    expect(parsed.length).toBe(2);
    const reports = c.messages.filter((m) => m.type === 'error' && m.code === 'rate_limited');
    expect(e.dropped.limits).toContain('bytes');
    const droppedSeqs = reports.flatMap((m) => m.dropped.seqs as number[]);
    expect(reports.reduce((a, m) => a + m.dropped.count, 0)).toBe(8);
    expect(droppedSeqs.sort((a, b) => a - b)).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
    expect(e.message).toMatch(/dropped/);
    expect(e.message).toMatch(/seq 3/);
  });

  it('an e-stop still gets through a connection that is over its budget', async () => {
    const c = await Client.connect(srv);
    opened.push(c);
    const pad = 'p'.repeat(900);
    for (let i = 0; i < 6; i++) c.sendRaw(JSON.stringify({ op: 'heartbeat', seq: i + 1, pad }));
    const ack = await c.request({ op: 'estop', seq: 99, reason: 'over budget' });
    expect(ack.type).toBe('ack');
    expect(srv.bridge.estopLatched).toBe(true);
    const admin = await Client.connect(srv, { token: srv.adminToken });
    opened.push(admin);
    await admin.request({ op: 'reset_estop' });
  });
});

describe('error replies', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer();
  });
  afterAll(async () => {
    await srv.cleanup();
  });

  it('are bounded and never echo the offending input', async () => {
    const c = await Client.connect(srv);
    const errors: Record<string, any>[] = [];
    const cases = [
      floodMessage(3000), // too large to be a valid message
      floodMessage(20), // small enough to parse, too many fields
      JSON.stringify({ op: 'heartbeat', seq: 1, 'SECRET-KEY-1234567890-abcdefghijklmnopqrstuvwxyz': 1 }),
      '{"op":"ee_delta","seq":1,"delta":[SECRET_PAYLOAD_XYZ',
      JSON.stringify({ op: 'SECRET<script>op'.repeat(20) }),
    ];
    for (const text of cases) {
      const p = c.next((m) => m.type === 'error');
      c.sendRaw(text);
      errors.push(await p);
    }
    for (const e of errors) {
      const wire = JSON.stringify(e);
      expect(wire.length).toBeLessThan(MAX_ERROR_MESSAGE_CHARS + 200);
      expect(e.message.length).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_CHARS);
      expect(wire).not.toMatch(/SECRET|x0100|x2999|<script>/);
    }
    expect(errors[0]).toMatchObject({ code: 'bad_message', field: '(root)' });
    expect(errors[1]).toMatchObject({ code: 'bad_message', op: 'heartbeat' });
    expect(errors[1].message).toMatch(/more than 8 fields: 20 unknown fields \("x0000", "x0001", "x0002" and 17 more\)/);
    expect(errors[3].code).toBe('bad_json');
    expect(errors[4].code).toBe('unknown_op');
    await c.close();
  });
});

describe('backpressure', () => {
  it('a client that does not read is closed once its send buffer passes the cap', async () => {
    // 1000x1000 camera frames (3 MB) at 5 fps fill the loopback buffers within a second.
    const srv = await startTestServer({ sendBufferCapBytes: 256 * 1024 }, { cameraWidth: 1000, cameraHeight: 1000 });
    try {
      expect(srv.bridge.sendBufferCap).toBe(256 * 1024);
      const reader = await Client.connect(srv);
      const stuck = await Client.connect(srv);
      expect(stuck.hello.limits.sendBufferCapBytes).toBe(256 * 1024);
      expect((await stuck.request({ op: 'subscribe', camera: true })).type).toBe('ack');
      stuck.ws.pause();
      const t0 = performance.now();
      while (performance.now() - t0 < 10_000 && srv.audit.recent('slow_client_close').length === 0) await sleep(50);
      const closed = srv.audit.recent('slow_client_close');
      expect(closed).toHaveLength(1);
      expect(closed[0].conn).toBe(stuck.hello.connectionId);
      expect(closed[0].buffered as number).toBeGreaterThan(256 * 1024);
      expect(srv.bridge.connectionCount).toBe(1);
      // The reader is unaffected.
      expect((await reader.request({ op: 'heartbeat', seq: 1 })).type).toBe('ack');
      await reader.close();
      stuck.ws.terminate();
    } finally {
      await srv.cleanup();
    }
  }, 30_000);
});
