/**
 * Flood load for the robot bridge (issue 16): N authenticated connections each sending a
 * large message of unknown keys at a fixed rate and never reading the replies, while a
 * controller holds the lease, an observer presses the e-stop, and /api/health is polled.
 * Used by tests/unit/server/flood.test.ts and `npm run bench:server -- --mode flood`.
 *
 * The flooders run in a child process on raw TCP sockets: generating 100+ MB/s of masked
 * frames in the server's process would measure the generator (its CPU and its socket
 * buffers would count as the server's), and a raw socket can stop reading
 * (socket.pause()) the way a stuck client does. The child is plain JavaScript passed with
 * `-e` so that it runs the same under vitest and under the esbuild bundle of the bench.
 */
import { spawn } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import WebSocket from 'ws';
import type { RunningServer } from '../app.ts';
import { quantile } from './loadgen.ts';

export interface FloodOptions {
  /** Flooding connections. */
  flooders: number;
  /** Messages per second per flooder. */
  hz: number;
  /** Unknown keys per flood message (3,000 keys is about 29 KB). */
  keys: number;
  durationMs: number;
  /** Milliseconds between e-stop trials by the observer. */
  estopEveryMs?: number;
  /** Health requests per second. */
  healthHz?: number;
  /** Controller command rate (ee_delta plus a heartbeat every 4th tick). */
  controllerHz?: number;
  /**
   * A full garbage collection (node --expose-gc's `gc`). When given, live memory is
   * sampled after a collection before the flood and at its end (while it still runs, after
   * the latencies are measured), so growth means retained memory, not garbage.
   */
  gc?: () => void;
}

export interface FloodResult {
  flooders: number;
  floodHz: number;
  floodMsgBytes: number;
  /** Flood messages written to sockets / skipped because the flooder's own socket buffer was full (server not reading). */
  floodSent: number;
  floodSkipped: number;
  /** Flood connections the server closed (each is reopened at once, so the flood goes on). */
  floodClosed: number;
  floodMbPerS: number;
  estopTrials: number;
  estopAcked: number;
  estopP50Ms: number;
  estopP99Ms: number;
  estopMaxMs: number;
  healthRequests: number;
  healthP50Ms: number;
  healthP99Ms: number;
  healthMaxMs: number;
  telemetryMaxGapMs: number;
  telemetryHz: number;
  controllerKeptLease: boolean;
  leaseLostEvents: number;
  eventLoopP99Ms: number;
  eventLoopMaxMs: number;
  rssBeforeMb: number;
  rssMaxMb: number;
  rssGrowthPerFlooderMb: number;
  /** Highest RSS in each quarter of the run: flat when memory is bounded, rising when it leaks. */
  rssQuartersMb: number[];
  heapMaxMb: number;
  /**
   * After a full collection, before the flood and at its end (only with `gc`): the JS heap
   * plus memory outside it held by JS objects (Buffers: socket reads, queued sends).
   */
  liveBeforeMb?: number;
  liveAfterMb?: number;
  liveGrowthPerFlooderMb?: number;
}

const FLOODER_SRC = `
// No backslash escapes in here: bundlers rewrite them inside template literals.
const NL = String.fromCharCode(10), CRLF = String.fromCharCode(13, 10);
const net = require('node:net');
const crypto = require('node:crypto');
const { port, token, flooders, hz, keys, durationMs } = JSON.parse(process.env.PRTS_FLOOD);
const report = (o) => process.stdout.write(JSON.stringify(o) + NL);
let body = '{"op":"heartbeat"';
for (let i = 0; i < keys; i++) body += ',"x' + String(i).padStart(4, '0') + '":1';
body += '}';
const payload = Buffer.from(body);
const mask = crypto.randomBytes(4);
const len = payload.length;
const head = len < 126 ? Buffer.from([0x81, 0x80 | len]) : len < 65536 ? Buffer.from([0x81, 0x80 | 126, len >> 8, len & 255]) : null;
if (!head) throw new Error('flood message too large for this generator');
const masked = Buffer.alloc(len);
for (let i = 0; i < len; i++) masked[i] = payload[i] ^ mask[i & 3];
const frame = Buffer.concat([head, mask, masked]);
let sent = 0, skipped = 0, closed = 0, stopping = false;
const socks = new Array(flooders).fill(null);
function open(i) {
  if (stopping) return;
  const s = net.connect(port, '127.0.0.1');
  let ready = false, buf = '';
  s.setNoDelay(true);
  s.on('connect', () => {
    s.write(['GET /ws/robot HTTP/1.1', 'Host: 127.0.0.1:' + port, 'Upgrade: websocket', 'Connection: Upgrade',
      'Sec-WebSocket-Key: ' + crypto.randomBytes(16).toString('base64'), 'Sec-WebSocket-Version: 13',
      'Sec-WebSocket-Protocol: prts.v1', 'Authorization: Bearer ' + token, '', ''].join(CRLF));
  });
  const onData = (d) => {
    buf += d.toString('latin1');
    const end = buf.indexOf(CRLF + CRLF);
    if (end < 0) return;
    if (!buf.startsWith('HTTP/1.1 101')) { s.destroy(); return; }
    ready = true;
    s.off('data', onData);
    // Never read again: replies pile up in the kernel and then in the server's send buffer.
    s.pause();
    socks[i] = s;
  };
  s.on('data', onData);
  s.on('error', () => {});
  s.on('close', () => {
    if (socks[i] === s) socks[i] = null;
    if (ready) closed++;
    if (!stopping) setTimeout(() => open(i), ready ? 20 : 200);
  });
}
for (let i = 0; i < flooders; i++) open(i);
const t0 = performance.now();
let n = 0;
const period = 1000 / hz;
function tick() {
  const now = performance.now() - t0;
  while (n * period <= now) {
    n++;
    for (const s of socks) {
      if (!s) continue;
      // A real client's send buffer is finite too; past 1 MiB the server is not keeping up.
      if (s.writableLength > (1 << 20)) { skipped++; continue; }
      s.write(frame);
      sent++;
    }
  }
  if (now >= durationMs) return finish();
  setTimeout(tick, Math.max(1, n * period - now));
}
function finish() {
  stopping = true;
  for (const s of socks) if (s) s.destroy();
  report({ sent, skipped, closed, bytes: frame.length });
  setTimeout(() => process.exit(0), 50);
}
process.stdin.once('data', () => tick());
report({ ready: true, bytes: frame.length });
`;

function connect(srv: RunningServer, token = srv.token): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(srv.wsUrl, ['prts.v1'], { headers: { authorization: `Bearer ${token}` } });
    ws.once('message', () => resolve(ws)); // the hello
    ws.once('error', reject);
  });
}

type Msg = { type: string; op?: string; seq?: number; code?: string; holder?: string | null; connectionId?: string };

export async function runFlood(srv: RunningServer, o: FloodOptions): Promise<FloodResult> {
  const estopEvery = o.estopEveryMs ?? 250;
  const healthPeriod = 1000 / (o.healthHz ?? 20);
  const ctlPeriod = 1000 / (o.controllerHz ?? 50);

  const ctl = await connect(srv);
  let ctlId = '';
  const obs = await connect(srv);
  let leaseLost = 0;
  let estopSeq = 0;
  const estopSent = new Map<number, number>();
  const estopLat: number[] = [];
  let lastTelemetry = 0;
  let maxGap = 0;
  let telemetryCount = 0;
  let measuring = false;

  await new Promise<void>((resolve, reject) => {
    ctl.on('message', (d, bin) => {
      if (bin) return;
      const m = JSON.parse(d.toString()) as Msg;
      if (m.type === 'ack' && m.op === 'lease_request') resolve();
      else if (m.type === 'error' && m.op === 'lease_request') reject(new Error(`flood: lease refused: ${m.code}`));
      else if (m.type === 'lease' && ctlId && m.holder !== ctlId) leaseLost++;
    });
    ctl.send(JSON.stringify({ op: 'lease_request' }));
  });
  ctlId = srv.bridge.leaseHolder ?? '';
  obs.on('message', (d, bin) => {
    if (bin) return;
    const m = JSON.parse(d.toString()) as Msg;
    const now = performance.now();
    if (m.type === 'telemetry') {
      if (measuring) {
        telemetryCount++;
        if (lastTelemetry) maxGap = Math.max(maxGap, now - lastTelemetry);
      }
      lastTelemetry = now;
    } else if (m.op === 'estop' && m.seq !== undefined && estopSent.has(m.seq)) {
      estopLat.push(now - estopSent.get(m.seq)!);
      estopSent.delete(m.seq);
      // The controller clears the latch so the next trial latches afresh.
      ctl.send(JSON.stringify({ op: 'reset_estop' }));
    }
  });

  const child = spawn(process.execPath, ['-e', FLOODER_SRC], {
    stdio: ['pipe', 'pipe', 'inherit'],
    // The flood outlasts the measurement by a second, so the final memory sample is taken under flood.
    env: { ...process.env, PRTS_FLOOD: JSON.stringify({ port: srv.port, token: srv.token, flooders: o.flooders, hz: o.hz, keys: o.keys, durationMs: o.durationMs + 1000 }) },
  });
  let ready!: () => void;
  let failed!: (e: Error) => void;
  const readyP = new Promise<void>((res, rej) => ((ready = res), (failed = rej)));
  const floodDone = new Promise<{ sent: number; skipped: number; closed: number; bytes: number }>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      let nl;
      while ((nl = out.indexOf('\n')) >= 0) {
        const m = JSON.parse(out.slice(0, nl)) as { ready?: boolean };
        out = out.slice(nl + 1);
        if (m.ready) ready();
        else resolve(m as never);
      }
    });
    const fail = (e: Error) => {
      failed(e);
      reject(e);
    };
    child.once('error', fail);
    child.once('exit', (code) => fail(new Error(`flood generator exited with ${code} before reporting`)));
  });
  await readyP;
  // Let the flood connections open before measuring.
  const t1 = performance.now() + 3000;
  while (srv.bridge.connectionCount < o.flooders + 2 && performance.now() < t1) await new Promise((r) => setTimeout(r, 20));

  const live: { before?: NodeJS.MemoryUsage; after?: NodeJS.MemoryUsage } = {};
  if (o.gc) {
    o.gc();
    live.before = process.memoryUsage();
  }
  const rssBefore = process.memoryUsage().rss;
  let rssMax = rssBefore;
  let heapMax = 0;
  const loop = monitorEventLoopDelay({ resolution: 10 });
  const healthLat: number[] = [];
  child.stdin!.write('go\n');
  measuring = true;
  loop.enable();
  const t0 = performance.now();
  const end = t0 + o.durationMs;

  let seq = 0;
  const ctlTimer = setInterval(() => {
    seq++;
    ctl.send(JSON.stringify(seq % 4 === 0 ? { op: 'heartbeat' } : { op: 'ee_delta', seq, delta: [0, 0, 0, 0, 0, 0, -1] }));
  }, ctlPeriod);
  const estopTimer = setInterval(() => {
    const s = ++estopSeq;
    estopSent.set(s, performance.now());
    obs.send(JSON.stringify({ op: 'estop', seq: s, reason: 'flood trial' }));
  }, estopEvery);
  const quarters = [0, 0, 0, 0];
  const memTimer = setInterval(() => {
    const m = process.memoryUsage();
    rssMax = Math.max(rssMax, m.rss);
    heapMax = Math.max(heapMax, m.heapUsed);
    const q = Math.min(3, Math.floor(((performance.now() - t0) / o.durationMs) * 4));
    quarters[q] = Math.max(quarters[q], m.rss);
  }, 100);
  const healthLoop = (async () => {
    while (performance.now() < end) {
      const a = performance.now();
      const r = await fetch(`${srv.url}/api/health`);
      await r.arrayBuffer();
      healthLat.push(performance.now() - a);
      const wait = healthPeriod - (performance.now() - a);
      if (wait > 0) await new Promise((res) => setTimeout(res, wait));
    }
  })();

  await new Promise((r) => setTimeout(r, o.durationMs));
  clearInterval(estopTimer);
  clearInterval(memTimer);
  const elapsed = performance.now() - t0;
  await healthLoop;
  if (o.gc) {
    o.gc();
    live.after = process.memoryUsage();
  }
  const w = await floodDone;
  measuring = false;
  loop.disable();
  // E-stops still in flight count as lost for the ack count but give their age as latency.
  const drainUntil = performance.now() + 2000;
  while (estopSent.size && performance.now() < drainUntil) await new Promise((r) => setTimeout(r, 10));
  const unacked = [...estopSent.values()].map((t) => performance.now() - t);
  clearInterval(ctlTimer);
  if (child.exitCode === null) child.kill();
  const controllerKeptLease = srv.bridge.leaseHolder === ctlId && leaseLost === 0;
  ctl.close();
  obs.close();

  const r2 = (x: number) => Math.round(x * 100) / 100;
  const allEstop = estopLat.concat(unacked);
  const mb = (x: number) => r2(x / (1 << 20));
  return {
    flooders: o.flooders,
    floodHz: o.hz,
    floodMsgBytes: w.bytes,
    floodSent: w.sent,
    floodSkipped: w.skipped,
    floodClosed: w.closed,
    floodMbPerS: r2((w.sent * w.bytes) / (1 << 20) / (elapsed / 1000)),
    estopTrials: estopSeq,
    estopAcked: estopLat.length,
    estopP50Ms: r2(quantile(allEstop, 0.5)),
    estopP99Ms: r2(quantile(allEstop, 0.99)),
    estopMaxMs: r2(Math.max(...allEstop)),
    healthRequests: healthLat.length,
    healthP50Ms: r2(quantile(healthLat, 0.5)),
    healthP99Ms: r2(quantile(healthLat, 0.99)),
    healthMaxMs: r2(Math.max(...healthLat)),
    telemetryMaxGapMs: r2(maxGap),
    telemetryHz: r2(telemetryCount / (elapsed / 1000)),
    controllerKeptLease,
    leaseLostEvents: leaseLost,
    eventLoopP99Ms: r2(loop.percentile(99) / 1e6),
    eventLoopMaxMs: r2(loop.max / 1e6),
    rssBeforeMb: mb(rssBefore),
    rssMaxMb: mb(rssMax),
    rssGrowthPerFlooderMb: mb((rssMax - rssBefore) / o.flooders),
    rssQuartersMb: quarters.map(mb),
    heapMaxMb: mb(heapMax),
    ...(live.before && live.after
      ? {
          liveBeforeMb: mb(live.before.heapUsed + live.before.external),
          liveAfterMb: mb(live.after.heapUsed + live.after.external),
          liveGrowthPerFlooderMb: mb((live.after.heapUsed + live.after.external - live.before.heapUsed - live.before.external) / o.flooders),
        }
      : {}),
  };
}
