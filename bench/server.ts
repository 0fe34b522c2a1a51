/**
 * npm run bench:server [-- --seconds 60 --observers 50 --hz 100 --mb 64]
 * npm run bench:server -- --mode flood [--seconds 30 --flooders 16 --flood-hz 250 --keys 3000]
 *
 * 1. Dataset streaming: a 64 MB parquet-named file read in 1 MiB HTTP range requests
 *    (sequential, and 4 in flight as hyparquet does for column chunks) against reading
 *    the same 1 MiB pieces from disk with positioned reads, in the same run, both from a
 *    warm page cache, and every range byte-checked against the disk copy.
 * 2. Robot bridge: one controller at 100 Hz plus 50 observers on loopback; command-to-
 *    driver latency percentiles, lost and reordered commands.
 * 3. --mode flood (issue 16): 16 authenticated connections each sending a 29 KB message of
 *    3,000 unknown keys 250 times a second and never reading, while a controller streams
 *    commands, an observer presses the e-stop every 250 ms (the controller resets it) and
 *    /api/health is polled at 20 Hz. E-stop ack and health latency percentiles, the longest
 *    telemetry gap, whether the controller kept its lease, event-loop delay and memory.
 *    The kinematic robot and the flood only; the streaming and load parts are skipped.
 * Ends with one JSON line.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startServer } from '../server/app.ts';
import { defineCli } from '../src/cli/args.ts';
import { parseConfig } from '../server/config.ts';
import { KinematicDriver } from '../server/drivers/kinematic.ts';
import { runCommandLoad } from '../server/tools/loadgen.ts';
import { runFlood } from '../server/tools/flood.ts';

const { seconds, observers, hz, mb, mode, flooders, 'flood-hz': floodHz, keys } = defineCli({
  name: 'bench:server',
  command: 'npm run bench:server --',
  description: 'Dataset streaming over HTTP ranges against disk reads, and the robot bridge under one controller plus observers (or, with --mode flood, under the issue-16 flood); ends with one JSON line.',
  options: {
    seconds: { type: 'number', above: 0, default: 60, help: 'duration of the robot-bridge load' },
    observers: { type: 'int', min: 1, default: 50, help: 'read-only WebSocket observers' },
    hz: { type: 'number', above: 0, default: 100, help: "the controller's command rate" },
    mb: { type: 'number', above: 0, default: 64, help: 'size of the streamed file in MiB' },
    mode: { type: 'string', choices: ['load', 'flood'], default: 'load', help: 'load: streaming + controller/observers; flood: the issue-16 flood' },
    flooders: { type: 'int', min: 1, default: 16, help: 'flood mode: flooding connections' },
    'flood-hz': { type: 'number', above: 0, default: 250, help: 'flood mode: messages per second per flooder' },
    keys: { type: 'int', min: 1, default: 3000, help: 'flood mode: unknown keys per flood message (3000 is ~29 KB)' },
  },
}).parse();

if (mode === 'flood') {
  const dir = mkdtempSync(join(tmpdir(), 'prts-bench-flood-'));
  const config = { port: 0, host: '127.0.0.1', dataDir: dir, robot: 'kinematic' as const };
  const srv = await startServer({ config, driver: new KinematicDriver(parseConfig(config).safety), recorder: null });
  console.log(`flood: ${flooders} connections x ${floodHz} msg/s of ${keys} unknown keys, never reading, for ${seconds} s ...`);
  // A full collection before and at the end of the flood shows retained memory, not garbage.
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const r = await runFlood(srv, { flooders, hz: floodHz, keys, durationMs: seconds * 1000, gc });
  console.log(`flood sent ${r.floodSent} messages (${r.floodMbPerS} MiB/s), skipped ${r.floodSkipped} (flooder socket full), flood connections closed ${r.floodClosed}`);
  console.log(`e-stop ack p50 ${r.estopP50Ms} ms, p99 ${r.estopP99Ms} ms, max ${r.estopMaxMs} ms (${r.estopAcked}/${r.estopTrials} acked)`);
  console.log(`health p50 ${r.healthP50Ms} ms, p99 ${r.healthP99Ms} ms, max ${r.healthMaxMs} ms (${r.healthRequests} requests)`);
  console.log(`telemetry ${r.telemetryHz} Hz, longest gap ${r.telemetryMaxGapMs} ms; controller kept lease: ${r.controllerKeptLease}`);
  console.log(`event loop delay p99 ${r.eventLoopP99Ms} ms, max ${r.eventLoopMaxMs} ms; rss ${r.rssBeforeMb} -> max ${r.rssMaxMb} MiB (${r.rssGrowthPerFlooderMb} MiB per flooder)`);
  console.log(`live memory after a full GC (heap + buffers): ${r.liveBeforeMb} -> ${r.liveAfterMb} MiB (${r.liveGrowthPerFlooderMb} MiB per flooder)`);
  const audit = { flood_close: srv.audit.recent('flood_close').length, slow_client_close: srv.audit.recent('slow_client_close').length };
  await srv.close();
  rmSync(dir, { recursive: true, force: true });
  console.log(JSON.stringify({ bench: 'server-flood', seconds, ...r, audit, cpus: cpus().length, loadavg: loadavg().map((x) => Math.round(x * 100) / 100), node: process.version }));
  process.exit(0);
}
const CHUNK = 1 << 20;

const dataDir = mkdtempSync(join(tmpdir(), 'prts-bench-server-'));
const rel = 'bench/data/chunk-000/file-000.parquet';
const file = join(dataDir, rel);
mkdirSync(join(dataDir, 'bench/data/chunk-000'), { recursive: true });
const bytes = randomBytes(mb * CHUNK);
writeFileSync(file, bytes);

const cfg = parseConfig({ port: 0, host: '127.0.0.1', dataDir, robot: 'kinematic' });
const kin = new KinematicDriver(cfg.safety, { trace: true });
const srv = await startServer({ config: { port: 0, host: '127.0.0.1', dataDir, robot: 'kinematic' }, driver: kin, recorder: null });
const url = `${srv.url}/data/${rel}`;

const offsets = Array.from({ length: mb }, (_, i) => i * CHUNK);

async function diskPass(): Promise<number> {
  const fh = await open(file, 'r');
  const buf = Buffer.allocUnsafe(CHUNK);
  const t0 = performance.now();
  for (const off of offsets) {
    let got = 0;
    while (got < CHUNK) got += (await fh.read(buf, got, CHUNK - got, off + got)).bytesRead;
  }
  const dt = performance.now() - t0;
  await fh.close();
  return mb / (dt / 1000);
}

async function fetchRange(off: number, check: boolean): Promise<void> {
  const r = await fetch(url, { headers: { range: `bytes=${off}-${off + CHUNK - 1}` } });
  if (r.status !== 206) throw new Error(`range ${off}: HTTP ${r.status}`);
  const got = new Uint8Array(await r.arrayBuffer());
  if (got.length !== CHUNK) throw new Error(`range ${off}: ${got.length} bytes`);
  if (check && Buffer.compare(got, bytes.subarray(off, off + CHUNK)) !== 0) throw new Error(`range ${off}: wrong bytes`);
}

async function httpPass(concurrency: number, check: boolean): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < offsets.length) await fetchRange(offsets[next++], check);
    }),
  );
  return mb / ((performance.now() - t0) / 1000);
}

// Warm the page cache and the HTTP connection pool; verify every byte once.
await diskPass();
await httpPass(1, true);
const best = async (f: () => Promise<number>) => Math.max(await f(), await f(), await f());
const diskMbps = await best(diskPass);
const rangeMbps = await best(() => httpPass(1, false));
const range4Mbps = await best(() => httpPass(4, false));
console.log(`disk positioned reads (1 MiB): ${diskMbps.toFixed(0)} MB/s`);
console.log(`HTTP ranges, sequential (1 MiB): ${rangeMbps.toFixed(0)} MB/s (${(rangeMbps / diskMbps).toFixed(3)} of disk)`);
console.log(`HTTP ranges, 4 in flight (1 MiB): ${range4Mbps.toFixed(0)} MB/s (${(range4Mbps / diskMbps).toFixed(3)} of disk)`);

console.log(`robot bridge: 1 controller at ${hz} Hz + ${observers} observers for ${seconds} s ...`);
const load = await runCommandLoad(srv, kin, { hz, observers, durationMs: seconds * 1000 });
console.log(`commands sent ${load.sent}, applied ${load.applied}, lost ${load.lost}, reordered ${load.reordered}, errors ${load.errors}`);
console.log(`command-to-driver latency p50 ${load.cmdP50Ms} ms, p99 ${load.cmdP99Ms} ms, max ${load.cmdMaxMs} ms; ack round trip p50 ${load.ackP50Ms} ms, p99 ${load.ackP99Ms} ms`);
console.log(`telemetry per observer: ${load.telemetryPerObserverHz} Hz (nominal ${cfg.telemetryHz})`);

await srv.close();
rmSync(dataDir, { recursive: true, force: true });

const r3 = (x: number) => Math.round(x * 1000) / 1000;
console.log(
  JSON.stringify({
    bench: 'server',
    file_mb: mb,
    chunk_bytes: CHUNK,
    range_mb_per_s: r3(rangeMbps),
    range_mb_per_s_4_in_flight: r3(range4Mbps),
    disk_mb_per_s: r3(diskMbps),
    range_ratio_vs_disk: r3(rangeMbps / diskMbps),
    range_ratio_vs_disk_4_in_flight: r3(range4Mbps / diskMbps),
    cmd_hz: hz,
    observers,
    seconds,
    cmd_sent: load.sent,
    cmd_lost: load.lost,
    cmd_reordered: load.reordered,
    cmd_p50_ms: load.cmdP50Ms,
    cmd_p99_ms: load.cmdP99Ms,
    cmd_max_ms: load.cmdMaxMs,
    ack_p50_ms: load.ackP50Ms,
    ack_p99_ms: load.ackP99Ms,
    telemetry_hz_per_observer: load.telemetryPerObserverHz,
    cpus: cpus().length,
    node: process.version,
  }),
);
