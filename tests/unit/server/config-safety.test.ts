/** Config parsing, CLI flags, pure clamping functions, graceful shutdown. */
import { describe, expect, it } from 'vitest';
import { parseArgs, parseConfig } from '../../../server/config.ts';
import { KinematicDriver } from '../../../server/drivers/kinematic.ts';
import { clampEeDelta, clampJointTarget, sumDeltas } from '../../../server/robot/safety.ts';
import { parseClientMessage } from '../../../server/robot/protocol.ts';
import { Client, sleep, startTestServer } from './helpers.ts';

const cfg = parseConfig({}).safety;
const kin = new KinematicDriver(cfg, { manualStep: true });

describe('config', () => {
  it('defaults bind to loopback with the sim robot and the documented safety limits', () => {
    const c = parseConfig({});
    expect(c).toMatchObject({ host: '127.0.0.1', port: 8787, robot: 'sim', maxPayloadBytes: 65536 });
    expect(c.safety).toMatchObject({ watchdogMs: 200, leaseTimeoutMs: 1000 });
  });
  it('rejects bad values naming the field', () => {
    expect(() => parseConfig({ safety: { watchdogMs: -1 } })).toThrow(/safety\.watchdogMs/);
    expect(() => parseConfig({ robot: 'ufo' })).toThrow(/robot/);
    expect(() => parseConfig({ token: 'short' })).toThrow(/token/);
    expect(() => parseConfig({ safty: {} })).toThrow(/safty/);
  });
  it('parses CLI flags', () => {
    expect(parseArgs(['--host', '0.0.0.0', '--port=9000', '--data-dir', 'd', '--robot', 'rosbridge', '--config', 'c.json'])).toEqual({
      overrides: { host: '0.0.0.0', port: 9000, dataDir: 'd', robot: 'rosbridge' },
      configPath: 'c.json',
      help: false,
    });
    expect(() => parseArgs(['--port', 'abc'])).toThrow(/--port/);
    expect(() => parseArgs(['--port', '70000'])).toThrow(/--port must be an integer in \[0, 65535\]/);
    expect(() => parseArgs(['--nope'])).toThrow(/unknown option --nope \(options: .*--host --port --data-dir --dist-dir --robot --config/);
    expect(() => parseArgs(['--host'])).toThrow(/--host needs a value/);
    expect(parseArgs(['-h']).help).toBe(true);
  });
});

describe('clamping functions', () => {
  const state = kin.state();
  it('leaves in-range EE deltas alone', () => {
    const r = clampEeDelta([0.01, -0.01, 0.005, 0.05, 0, -0.05, 0.5], state, kin.info, cfg);
    expect(r.clamps).toEqual([]);
    expect(r.delta).toEqual([0.01, -0.01, 0.005, 0.05, 0, -0.05, 0.5]);
  });
  it('stops at the workspace boundary but lets a robot outside move back in', () => {
    const atFloor = { ...state, eePos: [0.3, 0, 0.01] as [number, number, number] };
    const r = clampEeDelta([0, 0, -0.02, 0, 0, 0, 0], atFloor, kin.info, cfg);
    expect(r.delta[2]).toBeCloseTo(-0.01);
    expect(r.clamps[0]).toMatchObject({ index: 2, rule: 'workspace' });
    const below = { ...state, eePos: [0.3, 0, -0.05] as [number, number, number] };
    expect(clampEeDelta([0, 0, 0.02, 0, 0, 0, 0], below, kin.info, cfg).clamps).toEqual([]);
    expect(clampEeDelta([0, 0, -0.02, 0, 0, 0, 0], below, kin.info, cfg).delta[2]).toBeCloseTo(0);
  });
  it('shortens joint steps that would leave the workspace along the same direction', () => {
    // A workspace floor at z = 0.1, above the joint's own lower limit, so only the box binds.
    const box = { ...cfg, workspaceMin: [-0.6, -0.6, 0.1] as [number, number, number] };
    const low = { ...state, q: [0.3, 0, 0.105, Math.PI, 0, 0], eePos: [0.3, 0, 0.105] as [number, number, number] };
    const r = clampJointTarget([0.305, 0, 0.095, Math.PI, 0, 0], undefined, low, kin.info, box, (q) => kin.fk(q));
    expect(r.q[2]).toBeCloseTo(0.1, 6);
    expect(r.q[0]).toBeCloseTo(0.3025, 6); // half the x step: the same fraction as z
    expect(r.clamps.some((c) => c.rule === 'workspace')).toBe(true);
  });
  it('sums deltas of one control step and clamps the sum', () => {
    expect(sumDeltas([], cfg)).toBeNull();
    const s = sumDeltas([[0.015, 0, 0, 0.08, 0, 0, -1], [0.015, 0, 0, 0.08, 0, 0, 1]], cfg)!;
    expect(s).toEqual([0.02, 0, 0, 0.1, 0, 0, 1]);
  });
  it('parses valid messages and names the offending field otherwise', () => {
    expect(parseClientMessage('{"op":"ee_delta","seq":1,"delta":[0,0,0,0,0,0,1]}')).toMatchObject({ ok: true });
    const r = parseClientMessage('{"op":"record_start","task":""}');
    expect(r).toMatchObject({ ok: false, error: { field: 'task' } });
    const s = parseClientMessage('{"op":"ee_delta","seq":-1,"delta":[0,0,0,0,0,0,1]}');
    expect(s).toMatchObject({ ok: false, error: { field: 'seq' } });
    expect(parseClientMessage('{"op":"__proto__"}')).toMatchObject({ ok: false, error: { code: 'unknown_op' } });
    expect(parseClientMessage('{"op":"constructor"}')).toMatchObject({ ok: false, error: { code: 'unknown_op' } });
  });
});

describe('graceful shutdown', () => {
  it('holds the robot, closes sockets with 1001 and logs it', async () => {
    const srv = await startTestServer();
    const c = await Client.connect(srv);
    await c.lease();
    c.send({ op: 'ee_delta', seq: 1, delta: [0.01, 0, 0, 0, 0, 0, -1] });
    await c.waitFor((m) => m.type === 'ack' && m.seq === 1);
    const closed = c.closed;
    await srv.cleanup();
    expect((await closed).code).toBe(1001);
    expect(srv.kin.holds.at(-1)?.reason).toBe('shutdown');
    expect(srv.audit.recent('shutdown')).toHaveLength(1);
    expect(srv.audit.recent('stopped')).toHaveLength(1);
    await sleep(10);
  });
});
