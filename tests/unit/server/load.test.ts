/**
 * Load on loopback: one controller at 100 Hz plus 50 observers for 10 s (the benchmark
 * runs 60 s). No command may be lost or reordered on its way to the driver.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers.ts';
import { runCommandLoad } from '../../../server/tools/loadgen.ts';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv.cleanup();
});

describe('load', () => {
  it('100 Hz controller + 50 observers for 10 s: nothing lost or reordered', async () => {
    const r = await runCommandLoad(srv, srv.kin, { hz: 100, observers: 50, durationMs: 10_000 });
    console.log(`load: ${JSON.stringify(r)}`);
    console.log(`command-to-driver latency p50 ${r.cmdP50Ms} ms, p99 ${r.cmdP99Ms} ms (max ${r.cmdMaxMs} ms)`);
    expect(r.sent).toBe(1000);
    expect(r.errors).toBe(0);
    expect(r.lost).toBe(0);
    expect(r.reordered).toBe(0);
    expect(r.applied).toBe(r.sent);
    expect(r.acked).toBe(r.sent);
    expect(r.observersConnected).toBe(50);
    // Observers keep getting telemetry (30 Hz nominal) while the controller streams.
    expect(r.telemetryPerObserverHz).toBeGreaterThan(20);
    // Not asserted: on a shared 2-core machine a >200 ms stall of this process can make the
    // watchdog hold the robot mid-run, which is the watchdog doing its job, not an error.
    console.log(`watchdog holds during the run: ${srv.audit.recent('watchdog').length}`);
  }, 60_000);
});
