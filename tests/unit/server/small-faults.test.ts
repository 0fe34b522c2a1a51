/**
 * Issue 16, item 4: credentials are redacted wherever they could be logged; rate_limited
 * errors say which seqs were dropped; the send-buffer cap is sized to the machine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { Client, sleep, startTestServer, type TestServer } from './helpers.ts';
import { parseConfig } from '../../../server/config.ts';
import { AuditLog } from '../../../server/audit.ts';
import { RosbridgeDriver } from '../../../server/drivers/rosbridge.ts';
import { redactHeaders, redactUrl } from '../../../server/redact.ts';
import { defaultSendBufferCap, SEND_BUFFER_CEILING, SEND_BUFFER_FLOOR } from '../../../server/robot/limits.ts';

const SECRET = 'SuperSecretToken1234567890';

describe('credential redaction', () => {
  it('a refused write does not log the ?token= of its URL, in the ring or in the file', async () => {
    const srv = await startTestServer();
    try {
      const r = await fetch(`${srv.url}/api/datasets/x/files/a.bin?token=${SECRET}&part=1`, { method: 'PUT', body: 'abc' });
      expect(r.status).toBe(401);
      const r2 = await fetch(`${srv.url}/api/datasets/x/files/a.bin?Password=${SECRET}`, { method: 'PUT', body: 'abc', headers: { authorization: `Bearer ${SECRET}` } });
      expect(r2.status).toBe(401);
      const refused = srv.audit.recent('http_refused');
      expect(refused).toHaveLength(2);
      expect(refused[0].url).toBe('/api/datasets/x/files/a.bin?token=[redacted]&part=1');
      expect(refused[1].url).toBe('/api/datasets/x/files/a.bin?Password=[redacted]');
      await srv.close();
      const file = readFileSync(srv.audit.path!, 'utf8');
      expect(file).toContain('http_refused');
      expect(file).not.toContain(SECRET);
    } finally {
      await srv.cleanup();
    }
  });

  it('every audit entry is redacted: secret-named fields, headers, URLs and bearer tokens in text', () => {
    const log = new AuditLog(null);
    log.write('x', {
      url: `/ws/robot?auth=${SECRET}&key=${SECRET}&api_key=${SECRET}&ok=1`,
      headers: { Authorization: `Bearer ${SECRET}`, 'X-PRTS-Token': SECRET, accept: '*/*' },
      token: SECRET,
      nested: { password: SECRET, note: `retrying ws://user:${SECRET}@robot:9090/` },
      message: `upstream said: Authorization: Bearer ${SECRET}`,
    });
    const e = log.recent('x')[0];
    expect(JSON.stringify(e)).not.toContain(SECRET);
    expect(e.url).toBe('/ws/robot?auth=[redacted]&key=[redacted]&api_key=[redacted]&ok=1');
    expect(e.headers).toEqual({ Authorization: '[redacted]', 'X-PRTS-Token': '[redacted]', accept: '*/*' });
    expect(e.token).toBe('[redacted]');
  });

  it('helpers for URLs and headers', () => {
    expect(redactUrl(`wss://u:${SECRET}@h/p?x=1&token=${SECRET}#f`)).toBe('wss://[redacted]@h/p?x=1&token=[redacted]#f');
    expect(redactUrl('/plain/path')).toBe('/plain/path');
    expect(redactHeaders({ authorization: `Basic ${SECRET}`, cookie: 'a=b', host: 'h' })).toEqual({ authorization: '[redacted]', cookie: '[redacted]', host: 'h' });
  });

  it('a rosbridge URL carrying a token is not shown to clients as the robot name', () => {
    const cfg = parseConfig({ robot: 'rosbridge', rosbridge: { url: `ws://robot:9090/?token=${SECRET}` } });
    const d = new RosbridgeDriver(cfg.rosbridge, cfg.safety);
    expect(d.info.name).toBe('rosbridge:ws://robot:9090/?token=[redacted]');
  });
});

/** Every seq sent is either acked or named in exactly one rate_limited report. */
function accountFor(c: Client, op: string, seqs: number[]): { acked: number[]; dropped: number[] } {
  const acked = c.messages.filter((m) => m.type === 'ack' && m.op === op).map((m) => m.seq as number);
  const reports = c.messages.filter((m) => m.type === 'error' && m.code === 'rate_limited');
  const dropped = reports.flatMap((m) => m.dropped.seqs as number[]);
  expect(reports.reduce((a, m) => a + m.dropped.count, 0)).toBe(dropped.length);
  for (const m of reports) {
    expect(m.dropped.seqFrom).toBe(Math.min(...m.dropped.seqs));
    expect(m.dropped.seqTo).toBe(Math.max(...m.dropped.seqs));
    expect(m.message).toMatch(m.dropped.seqFrom === m.dropped.seqTo ? `seq ${m.dropped.seqFrom}` : `seq ${m.dropped.seqFrom}-${m.dropped.seqTo}`);
  }
  expect([...acked, ...dropped].sort((a, b) => a - b)).toEqual(seqs);
  return { acked, dropped };
}

describe('rate_limited names the dropped seqs', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ safety: { commandRateHz: 10, commandBurst: 2, messageRateHz: 10, messageBurst: 5, floodCloseAfter: 1000 } });
  });
  afterAll(async () => {
    await srv.cleanup();
  });

  it('commands over the command rate', async () => {
    const c = await Client.connect(srv);
    await sleep(600); // the hello and lease request cost message tokens; let them refill
    expect((await c.lease()).type).toBe('ack');
    await sleep(600);
    const seqs = Array.from({ length: 5 }, (_, i) => i + 1);
    for (const seq of seqs) c.send({ op: 'ee_delta', seq, delta: [0, 0, 0, 0, 0, 0, -1] });
    await sleep(600);
    const { acked, dropped } = accountFor(c, 'ee_delta', seqs);
    expect(acked.length).toBeGreaterThanOrEqual(2);
    expect(dropped.length).toBeGreaterThanOrEqual(1);
    const e = c.messages.find((m) => m.code === 'rate_limited')!;
    expect(e).toMatchObject({ op: 'ee_delta', dropped: { limits: ['commands'] } });
    expect(e.message).toMatch(/more than 10 commands\/s/);
    const logged = srv.audit.recent('refused').filter((r) => r.code === 'rate_limited');
    expect(logged.reduce((a, r) => a + (r.count as number), 0)).toBe(dropped.length);
    await c.close();
  });

  it('messages over the message rate, dropped unparsed, still named by seq', async () => {
    const c = await Client.connect(srv);
    await sleep(600);
    const seqs = Array.from({ length: 30 }, (_, i) => i + 100);
    for (const seq of seqs) c.send({ op: 'heartbeat', seq });
    await sleep(800);
    const { dropped } = accountFor(c, 'heartbeat', seqs);
    expect(dropped.length).toBeGreaterThanOrEqual(20);
    expect(c.messages.find((m) => m.code === 'rate_limited')!.dropped.limits).toEqual(['messages']);
    await c.close();
  });
});

describe('send-buffer cap', () => {
  const GiB = 1024 ** 3;
  it('is sized from the machine memory and the connection limit, within a floor and a ceiling', () => {
    expect(defaultSendBufferCap(256, 24 * GiB)).toBe(1.5 * 1024 * 1024);
    expect(defaultSendBufferCap(256, 1 * GiB)).toBe(SEND_BUFFER_FLOOR);
    expect(defaultSendBufferCap(1, 1024 * GiB)).toBe(SEND_BUFFER_CEILING);
    for (const mem of [2, 8, 24, 64, 512].map((g) => g * GiB)) {
      for (const n of [1, 16, 256, 4096]) {
        const cap = defaultSendBufferCap(n, mem);
        // All connections together stay within 1/64 of memory, unless the floor binds.
        if (cap > SEND_BUFFER_FLOOR) expect(cap * n).toBeLessThanOrEqual(mem / 64);
        expect(cap).toBeLessThanOrEqual(SEND_BUFFER_CEILING);
      }
    }
  });

  it('the server uses it by default, and a config override when given', async () => {
    const a = await startTestServer();
    const b = await startTestServer({ sendBufferCapBytes: 100_000, maxConnections: 2 });
    try {
      expect(a.bridge.sendBufferCap).toBe(defaultSendBufferCap(256));
      // 256 connections x the cap: no longer 8 GB.
      expect(a.bridge.sendBufferCap * 256).toBeLessThanOrEqual(1024 ** 3);
      expect(b.bridge.sendBufferCap).toBe(100_000);
      const c1 = await Client.connect(b);
      const c2 = await Client.connect(b);
      await expect(Client.connect(b)).rejects.toMatchObject({ status: 503 });
      await c1.close();
      await c2.close();
    } finally {
      await a.cleanup();
      await b.cleanup();
    }
    expect(() => parseConfig({ sendBufferCapBytes: 100 })).toThrow(/sendBufferCapBytes/);
    expect(() => parseConfig({ maxConnections: 0 })).toThrow(/maxConnections/);
  });
});
