/**
 * Loopback load generator for the robot bridge: one controller streaming EE deltas at a
 * fixed rate plus N observers, all in this process so that client send times and the
 * driver's receive times share one clock. Used by the load test and `npm run bench:server`.
 */
import WebSocket from 'ws';
import type { RunningServer } from '../app.ts';
import type { KinematicDriver } from '../drivers/kinematic.ts';

export interface LoadOptions {
  hz: number;
  observers: number;
  durationMs: number;
}

export interface LoadResult {
  sent: number;
  applied: number;
  acked: number;
  lost: number;
  reordered: number;
  errors: number;
  cmdP50Ms: number;
  cmdP99Ms: number;
  cmdMaxMs: number;
  ackP50Ms: number;
  ackP99Ms: number;
  telemetryPerObserverHz: number;
  observersConnected: number;
}

function open(srv: RunningServer): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(srv.wsUrl, ['prts.v1', `prts-token.${srv.token}`]);
    ws.once('message', () => resolve(ws)); // the hello
    ws.once('error', reject);
  });
}

export function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

export async function runCommandLoad(srv: RunningServer, kin: KinematicDriver, o: LoadOptions): Promise<LoadResult> {
  const observers: WebSocket[] = [];
  const telemetryCounts: number[] = [];
  for (let i = 0; i < o.observers; i++) {
    const ws = await open(srv);
    const idx = telemetryCounts.push(0) - 1;
    ws.on('message', (d, bin) => {
      if (!bin && d.toString().startsWith('{"type":"telemetry"')) telemetryCounts[idx]++;
    });
    observers.push(ws);
  }
  const ctl = await open(srv);
  const sendTimes = new Map<number, number>();
  const ackLat: number[] = [];
  const ackSeqs: number[] = [];
  let errors = 0;
  let leased = false;
  await new Promise<void>((resolve, reject) => {
    ctl.on('message', (d) => {
      const m = JSON.parse(d.toString()) as { type: string; op?: string; seq?: number; code?: string };
      if (m.type === 'ack' && m.op === 'lease_request') {
        leased = true;
        resolve();
      } else if (m.type === 'ack' && m.op === 'ee_delta' && m.seq !== undefined) {
        ackSeqs.push(m.seq);
        ackLat.push(performance.now() - (sendTimes.get(m.seq) ?? NaN));
      } else if (m.type === 'error') {
        errors++;
        if (!leased) reject(new Error(`lease refused: ${m.code}`));
      }
    });
    ctl.send(JSON.stringify({ op: 'lease_request' }));
  });

  const traceStart = kin.trace.length;
  for (const c of telemetryCounts.keys()) telemetryCounts[c] = 0;
  const period = 1000 / o.hz;
  const t0 = performance.now();
  let seq = 0;
  // Absolute schedule: the n-th command goes at t0 + n*period, so timer jitter does not drift the rate.
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (seq * period <= now - t0 && seq * period < o.durationMs) {
        seq++;
        // Small back-and-forth motion that stays inside the workspace.
        const dir = Math.floor(seq / 50) % 2 === 0 ? 1 : -1;
        const msg = JSON.stringify({ op: 'ee_delta', seq, delta: [0.001 * dir, 0, 0, 0, 0, 0, -1] });
        sendTimes.set(seq, performance.now());
        ctl.send(msg);
      }
      if (seq * period >= o.durationMs) resolve();
      else setTimeout(tick, Math.max(0, t0 + seq * period - performance.now()));
    };
    tick();
  });
  const elapsed = performance.now() - t0;
  // Let the last acks arrive.
  const waitUntil = performance.now() + 2000;
  while (ackSeqs.length + errors < seq && performance.now() < waitUntil) await new Promise((r) => setTimeout(r, 10));

  const trace = kin.trace.slice(traceStart);
  const latencies: number[] = [];
  let reordered = 0;
  let prev = 0;
  for (const e of trace) {
    if (e.seq <= prev) reordered++;
    prev = e.seq;
    const sentAt = sendTimes.get(e.seq);
    if (sentAt !== undefined) latencies.push(e.t - sentAt);
  }
  const appliedSet = new Set(trace.map((e) => e.seq));
  let lost = 0;
  for (let s = 1; s <= seq; s++) if (!appliedSet.has(s)) lost++;

  ctl.close();
  for (const w of observers) w.close();
  const r2 = (x: number) => Math.round(x * 1000) / 1000;
  return {
    sent: seq,
    applied: trace.length,
    acked: ackSeqs.length,
    lost,
    reordered,
    errors,
    cmdP50Ms: r2(quantile(latencies, 0.5)),
    cmdP99Ms: r2(quantile(latencies, 0.99)),
    cmdMaxMs: r2(Math.max(...latencies)),
    ackP50Ms: r2(quantile(ackLat, 0.5)),
    ackP99Ms: r2(quantile(ackLat, 0.99)),
    telemetryPerObserverHz: r2(telemetryCounts.reduce((a, b) => a + b, 0) / Math.max(1, o.observers) / (elapsed / 1000)),
    observersConnected: observers.length,
  };
}
