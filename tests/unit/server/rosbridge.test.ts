/**
 * The rosbridge driver against a small rosbridge v2 peer (a ws server in this test) that
 * checks the exact JSON messages: advertise, subscribe, hold on connect, publish per
 * control step, call_service for hold and e-stop, reconnect with backoff, and commands
 * from a WebSocket client reaching ROS through the bridge's safety checks.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { parseConfig } from '../../../server/config.ts';
import { RosbridgeDriver } from '../../../server/drivers/rosbridge.ts';
import { startServer, type RunningServer } from '../../../server/app.ts';
import { Client, sleep } from './helpers.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type Json = Record<string, any>;

class RosPeer {
  readonly wss: WebSocketServer;
  readonly received: Json[] = [];
  readonly connections: WebSocket[] = [];
  connectTimes: number[] = [];
  private constructor(wss: WebSocketServer) {
    this.wss = wss;
    wss.on('connection', (ws) => {
      this.connections.push(ws);
      this.connectTimes.push(performance.now());
      ws.on('message', (d) => {
        const m = JSON.parse(d.toString()) as Json;
        this.received.push(m);
        if (m.op === 'call_service') ws.send(JSON.stringify({ op: 'service_response', id: m.id, service: m.service, values: { success: true, message: '' }, result: true }));
      });
    });
  }
  static async start(port = 0): Promise<RosPeer> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port });
    await new Promise((r) => wss.once('listening', r));
    return new RosPeer(wss);
  }
  get port(): number {
    return (this.wss.address() as { port: number }).port;
  }
  publishState(q: number[], pos = [0.4, 0, 0.3]): void {
    for (const ws of this.connections) {
      if (ws.readyState !== 1) continue;
      ws.send(JSON.stringify({ op: 'publish', topic: '/joint_states', msg: { header: { stamp: { sec: 1, nanosec: 0 }, frame_id: '' }, name: ['joint2', 'joint1'], position: [q[1], q[0]], velocity: [], effort: [] } }));
      ws.send(JSON.stringify({ op: 'publish', topic: '/prts/ee_pose', msg: { header: { stamp: { sec: 1, nanosec: 0 }, frame_id: 'base' }, pose: { position: { x: pos[0], y: pos[1], z: pos[2] }, orientation: { x: 0, y: 1, z: 0, w: 0 } } } }));
      ws.send(JSON.stringify({ op: 'publish', topic: '/prts/gripper_state', msg: { data: -1 } }));
    }
  }
  ops(op: string): Json[] {
    return this.received.filter((m) => m.op === op);
  }
  async waitFor(pred: (m: Json) => boolean, ms = 2000): Promise<Json> {
    const end = performance.now() + ms;
    for (;;) {
      const m = this.received.find(pred);
      if (m) return m;
      if (performance.now() > end) throw new Error(`peer never received the expected message; got ${JSON.stringify(this.received.slice(-5))}`);
      await sleep(5);
    }
  }
  dropAll(): void {
    for (const ws of this.connections) ws.terminate();
  }
  close(): Promise<void> {
    for (const ws of this.connections) ws.terminate();
    return new Promise((r) => this.wss.close(() => r()));
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function rosConfig(port: number, extra: Json = {}) {
  return parseConfig({ robot: 'rosbridge', rosbridge: { url: `ws://127.0.0.1:${port}`, jointNames: ['joint1', 'joint2'], controlHz: 50, reconnectBaseMs: 100, reconnectMaxMs: 400, ...extra } });
}

describe('rosbridge driver', () => {
  it('advertises, subscribes and holds on connect with the exact rosbridge v2 messages', async () => {
    const peer = await RosPeer.start();
    cleanups.push(() => peer.close());
    const cfg = rosConfig(peer.port);
    const d = new RosbridgeDriver(cfg.rosbridge, cfg.safety);
    cleanups.push(() => d.close());
    const avail: boolean[] = [];
    await d.start({ onAvailability: (a) => avail.push(a) });
    await peer.waitFor((m) => m.op === 'call_service');
    expect(peer.received.slice(0, 7)).toEqual([
      { op: 'advertise', id: 'prts:advertise:/prts/ee_delta', topic: '/prts/ee_delta', type: 'std_msgs/msg/Float64MultiArray' },
      { op: 'advertise', id: 'prts:advertise:/prts/joint_target', topic: '/prts/joint_target', type: 'sensor_msgs/msg/JointState' },
      { op: 'advertise', id: 'prts:advertise:/prts/gripper', topic: '/prts/gripper', type: 'std_msgs/msg/Float64' },
      { op: 'subscribe', id: 'prts:subscribe:/joint_states', topic: '/joint_states', type: 'sensor_msgs/msg/JointState', queue_length: 1 },
      { op: 'subscribe', id: 'prts:subscribe:/prts/ee_pose', topic: '/prts/ee_pose', type: 'geometry_msgs/msg/PoseStamped', queue_length: 1 },
      { op: 'subscribe', id: 'prts:subscribe:/prts/gripper_state', topic: '/prts/gripper_state', type: 'std_msgs/msg/Float64', queue_length: 1 },
      { op: 'call_service', id: 'prts:call:1', service: '/prts/hold', type: 'std_srvs/srv/Trigger', args: {} },
    ]);
    expect(avail).toEqual([true]);
    // Not available for commands until state arrives; then joint names are mapped by name.
    expect(d.available()).toBe(false);
    peer.publishState([0.1, -0.2]);
    for (let i = 0; i < 100 && !d.available(); i++) await sleep(5);
    expect(d.state()).toMatchObject({ q: [0.1, -0.2], eePos: [0.4, 0, 0.3], eeQuat: [0, 0, 1, 0], gripper: -1 });
  });

  it('publishes summed, re-clamped EE deltas once per control step, joint targets, and calls hold/estop', async () => {
    const peer = await RosPeer.start();
    cleanups.push(() => peer.close());
    const cfg = rosConfig(peer.port, { topics: { eeDelta: { name: '/servo/twist', type: 'geometry_msgs/msg/Twist' } } });
    const d = new RosbridgeDriver(cfg.rosbridge, cfg.safety);
    cleanups.push(() => d.close());
    await d.start({});
    await peer.waitFor((m) => m.op === 'call_service');
    peer.publishState([0, 0]);
    for (let i = 0; i < 100 && !d.available(); i++) await sleep(5);
    d.command({ kind: 'ee_delta', seq: 1, delta: [0.015, 0, 0, 0, 0, 0.05, 1] });
    d.command({ kind: 'ee_delta', seq: 2, delta: [0.015, 0.001, 0, 0, 0, 0.02, 1] });
    const pub = await peer.waitFor((m) => m.op === 'publish' && m.topic === '/servo/twist');
    // 0.03 summed in x, clamped back to the 0.02 per-step limit.
    expect(pub).toEqual({ op: 'publish', topic: '/servo/twist', msg: { linear: { x: 0.02, y: 0.001, z: 0 }, angular: { x: 0, y: 0, z: 0.07 } } });
    expect(await peer.waitFor((m) => m.op === 'publish' && m.topic === '/prts/gripper')).toEqual({ op: 'publish', topic: '/prts/gripper', msg: { data: 1 } });
    expect(peer.ops('publish').filter((m) => m.topic === '/servo/twist')).toHaveLength(1);

    d.command({ kind: 'joint_target', seq: 3, q: [0.01, -0.01] });
    const jt = await peer.waitFor((m) => m.op === 'publish' && m.topic === '/prts/joint_target');
    expect(jt.msg).toMatchObject({ header: { frame_id: '' }, name: ['joint1', 'joint2'], position: [0.01, -0.01], velocity: [], effort: [] });
    expect(Number.isInteger(jt.msg.header.stamp.sec)).toBe(true);

    d.command({ kind: 'ee_delta', seq: 4, delta: [0.01, 0, 0, 0, 0, 0, 1] });
    d.hold('watchdog');
    await sleep(60);
    expect(peer.ops('publish').filter((m) => m.topic === '/servo/twist')).toHaveLength(1); // the held delta never went out
    expect(peer.ops('call_service').at(-1)).toEqual({ op: 'call_service', id: 'prts:call:2', service: '/prts/hold', type: 'std_srvs/srv/Trigger', args: {} });
    d.estop();
    expect(await peer.waitFor((m) => m.op === 'call_service' && m.service === '/prts/estop')).toEqual({ op: 'call_service', id: 'prts:call:3', service: '/prts/estop', type: 'std_srvs/srv/Trigger', args: {} });
  });

  it('reconnects with exponential backoff, then re-advertises, re-subscribes and holds', async () => {
    const peer = await RosPeer.start();
    const port = peer.port;
    const cfg = rosConfig(port);
    const delays: number[] = [];
    const d = new RosbridgeDriver(cfg.rosbridge, cfg.safety, { onReconnectScheduled: (ms) => delays.push(ms) });
    cleanups.push(() => d.close());
    const avail: boolean[] = [];
    await d.start({ onAvailability: (a) => avail.push(a) });
    await peer.waitFor((m) => m.op === 'call_service');
    peer.publishState([0, 0]);
    for (let i = 0; i < 100 && !d.available(); i++) await sleep(5);
    // The peer goes away entirely: attempts back off 100, 200, 400, 400 ms (capped).
    await peer.close();
    for (let i = 0; i < 300 && delays.length < 4; i++) await sleep(10);
    expect(delays.slice(0, 4)).toEqual([100, 200, 400, 400]);
    expect(d.available()).toBe(false);
    expect(avail).toEqual([true, false]);
    // It comes back on the same port: the driver reconnects and starts over.
    const peer2 = await RosPeer.start(port);
    cleanups.push(() => peer2.close());
    await peer2.waitFor((m) => m.op === 'call_service', 3000);
    expect(peer2.received.map((m) => m.op)).toEqual(['advertise', 'advertise', 'advertise', 'subscribe', 'subscribe', 'subscribe', 'call_service']);
    expect(avail.at(-1)).toBe(true);
  });

  it('commands from a WebSocket client reach ROS only through the safety checks', async () => {
    const peer = await RosPeer.start();
    cleanups.push(() => peer.close());
    const dataDir = mkdtempSync(join(tmpdir(), 'prts-ros-'));
    const srv: RunningServer = await startServer({
      config: { port: 0, dataDir, robot: 'rosbridge', rosbridge: { url: `ws://127.0.0.1:${peer.port}`, jointNames: ['joint1', 'joint2'], controlHz: 50 } },
      recorder: null,
    });
    cleanups.push(async () => {
      await srv.close();
      rmSync(dataDir, { recursive: true, force: true });
    });
    await peer.waitFor((m) => m.op === 'call_service');
    const c = await Client.connect(srv);
    await c.lease();
    // No state from ROS yet: refused, nothing published.
    expect((await c.request({ op: 'ee_delta', seq: 1, delta: [0.01, 0, 0, 0, 0, 0, -1] })).code).toBe('robot_unavailable');
    const stateTimer = setInterval(() => peer.publishState([0, 0]), 20);
    cleanups.push(async () => clearInterval(stateTimer));
    await sleep(80);
    const ack = await c.request({ op: 'ee_delta', seq: 2, delta: [0.5, 0, 0, 0, 0, 0, -1] });
    expect(ack.clamps[0]).toMatchObject({ index: 0, rule: 'ee_step', applied: 0.02 });
    const pub = await peer.waitFor((m) => m.op === 'publish' && m.topic === '/prts/ee_delta');
    expect(pub).toEqual({ op: 'publish', topic: '/prts/ee_delta', msg: { layout: { dim: [], data_offset: 0 }, data: [0.02, 0, 0, 0, 0, 0] } });
    // E-stop from the client reaches ROS as the estop service.
    await c.request({ op: 'estop' });
    await peer.waitFor((m) => m.op === 'call_service' && m.service === '/prts/estop');
    expect((await c.request({ op: 'ee_delta', seq: 3, delta: [0.01, 0, 0, 0, 0, 0, -1] })).code).toBe('estopped');
    await c.close();
  });
});
