/**
 * ROS 2 through the rosbridge v2 JSON protocol (rosbridge_suite's websocket server).
 *
 * Outgoing: `advertise` the command topics, `publish` commands once per control step
 * (EE deltas received within a step are summed and re-clamped, exactly like the other
 * drivers, so a fast client cannot outrun the per-step limits), `call_service` for hold
 * and e-stop. Incoming: `subscribe` to joint states, the end-effector pose and the
 * gripper state. Topic names and types come from config; the message bodies for each
 * supported type are built below and nothing else is accepted at start.
 *
 * The connection is retried with exponential backoff. After every (re)connect the
 * driver re-advertises, re-subscribes and asks the robot to hold before anything else,
 * and it reports itself unavailable until fresh joint states and an EE pose arrive, so
 * the bridge never clamps against a stale state.
 */
import WebSocket from 'ws';
import { z } from 'zod';
import type { RosbridgeConfig, SafetyConfig } from '../config.ts';
import { redactUrl } from '../redact.ts';
import { sumDeltas } from '../robot/safety.ts';
import type { DriverEvents, RobotDriver, RobotInfo, RobotState, SafeCommand } from './types.ts';

const EE_DELTA_TYPES = ['std_msgs/msg/Float64MultiArray', 'geometry_msgs/msg/Twist'] as const;
const JOINT_TARGET_TYPES = ['sensor_msgs/msg/JointState', 'std_msgs/msg/Float64MultiArray'] as const;
const GRIPPER_TYPES = ['std_msgs/msg/Float64'] as const;
const SERVICE_TYPES = ['std_srvs/srv/Trigger', 'std_srvs/srv/Empty'] as const;

function checkType(what: string, type: string, allowed: readonly string[]): void {
  if (!allowed.includes(type)) throw new Error(`invalid config: rosbridge.${what}.type must be one of ${allowed.join(', ')}, got ${type}`);
}

const num = z.number().refine(Number.isFinite, 'must be finite');
const JointStateMsg = z.object({ name: z.array(z.string()), position: z.array(num) }).passthrough();
const PoseStampedMsg = z
  .object({ pose: z.object({ position: z.object({ x: num, y: num, z: num }).passthrough(), orientation: z.object({ x: num, y: num, z: num, w: num }).passthrough() }).passthrough() })
  .passthrough();
const Float64Msg = z.object({ data: num }).passthrough();
const Incoming = z.object({ op: z.string(), topic: z.string().optional(), msg: z.unknown().optional(), id: z.string().optional(), result: z.boolean().optional(), values: z.unknown().optional() }).passthrough();

export interface RosbridgeDriverOptions {
  /** Injected for tests: called with each delay before a reconnect attempt. */
  onReconnectScheduled?: (delayMs: number, attempt: number) => void;
}

export class RosbridgeDriver implements RobotDriver {
  readonly info: RobotInfo;
  /** Messages from rosbridge that failed validation (ignored, counted for diagnostics). */
  protocolErrors = 0;
  private ws: WebSocket | null = null;
  private events: DriverEvents = {};
  private closed = false;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private tickTimer: NodeJS.Timeout | null = null;
  private callId = 0;
  private q: number[] | null = null;
  private qAt = 0;
  private eePos: [number, number, number] | null = null;
  private eeQuat: [number, number, number, number] = [1, 0, 0, 0];
  private gripper = 0;
  private pendingDeltas: number[][] = [];
  private pendingJoint: { q: number[]; gripper?: number } | null = null;
  private pendingGripper: number | null = null;
  private holding = true;
  private lastMoveAt = 0;
  /** Availability last reported, so that failed reconnect attempts do not repeat "lost". */
  private reportedUp = false;

  constructor(private readonly cfg: RosbridgeConfig, private readonly safety: SafetyConfig, private readonly opts: RosbridgeDriverOptions = {}) {
    const n = cfg.jointNames.length;
    const lower = cfg.jointLower ?? Array(n).fill(-Math.PI);
    const upper = cfg.jointUpper ?? Array(n).fill(Math.PI);
    const vel = cfg.jointMaxVel ?? Array(n).fill(1.0);
    for (const [k, v] of [['jointLower', lower], ['jointUpper', upper], ['jointMaxVel', vel]] as const) {
      if (v.length !== n) throw new Error(`invalid config: rosbridge.${k} must have ${n} entries (one per joint name), got ${v.length}`);
    }
    checkType('topics.eeDelta', cfg.topics.eeDelta.type, EE_DELTA_TYPES);
    checkType('topics.jointTarget', cfg.topics.jointTarget.type, JOINT_TARGET_TYPES);
    checkType('topics.gripper', cfg.topics.gripper.type, GRIPPER_TYPES);
    checkType('topics.jointState', cfg.topics.jointState.type, ['sensor_msgs/msg/JointState']);
    checkType('topics.eePose', cfg.topics.eePose.type, ['geometry_msgs/msg/PoseStamped']);
    checkType('topics.gripperState', cfg.topics.gripperState.type, ['std_msgs/msg/Float64']);
    checkType('services.hold', cfg.services.hold.type, SERVICE_TYPES);
    checkType('services.estop', cfg.services.estop.type, SERVICE_TYPES);
    this.info = {
      // The name is shown to clients and logged; a token in the rosbridge URL must not be.
      name: `rosbridge:${redactUrl(cfg.url)}`,
      driver: 'rosbridge',
      jointNames: cfg.jointNames.slice(),
      jointLower: lower,
      jointUpper: upper,
      jointMaxVel: vel,
      controlHz: cfg.controlHz,
      eeActionNames: ['dx', 'dy', 'dz', 'drx', 'dry', 'drz', 'gripper'],
      gripperRange: [-1, 1],
      cameras: [],
      supportsJointTarget: true,
    };
  }

  async start(events: DriverEvents): Promise<void> {
    this.events = events;
    this.connect();
    this.tickTimer = setInterval(() => this.tick(), 1000 / this.info.controlHz);
  }

  private connect(): void {
    if (this.closed) return;
    const ws = new WebSocket(this.cfg.url, { maxPayload: 16 << 20, perMessageDeflate: false, handshakeTimeout: 5000 });
    this.ws = ws;
    ws.on('open', () => {
      this.attempt = 0;
      const t = this.cfg.topics;
      for (const topic of [t.eeDelta, t.jointTarget, t.gripper]) this.sendOp({ op: 'advertise', id: `prts:advertise:${topic.name}`, topic: topic.name, type: topic.type });
      for (const topic of [t.jointState, t.eePose, t.gripperState]) {
        this.sendOp({ op: 'subscribe', id: `prts:subscribe:${topic.name}`, topic: topic.name, type: topic.type, queue_length: 1 });
      }
      // Whatever the robot was doing before we (re)connected, it holds now.
      this.callService(this.cfg.services.hold.name, this.cfg.services.hold.type);
      this.reportedUp = true;
      this.events.onAvailability?.(true, 'connected');
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        this.protocolErrors++;
        return;
      }
      this.onRosMessage(data.toString());
    });
    ws.on('error', () => {
      // 'close' follows and schedules the reconnect; the error itself carries nothing to act on.
    });
    ws.on('close', () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.q = null;
      this.eePos = null;
      this.pendingDeltas = [];
      this.pendingJoint = null;
      this.pendingGripper = null;
      if (this.reportedUp) this.events.onAvailability?.(false, 'rosbridge connection lost');
      this.reportedUp = false;
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    const delay = Math.min(this.cfg.reconnectMaxMs, this.cfg.reconnectBaseMs * 2 ** this.attempt);
    this.attempt++;
    this.opts.onReconnectScheduled?.(delay, this.attempt);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  private sendOp(obj: Record<string, unknown>): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj));
  }

  private callService(service: string, type: string): void {
    this.sendOp({ op: 'call_service', id: `prts:call:${++this.callId}`, service, type, args: {} });
  }

  private onRosMessage(text: string): void {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      this.protocolErrors++;
      return;
    }
    const m = Incoming.safeParse(raw);
    if (!m.success) {
      this.protocolErrors++;
      return;
    }
    const t = this.cfg.topics;
    if (m.data.op === 'publish') {
      if (m.data.topic === t.jointState.name) {
        const js = JointStateMsg.safeParse(m.data.msg);
        if (!js.success) return void this.protocolErrors++;
        const byName = new Map(js.data.name.map((n, i) => [n, js.data.position[i]]));
        const q = this.info.jointNames.map((n) => byName.get(n));
        if (q.some((v) => v === undefined || !Number.isFinite(v))) return void this.protocolErrors++;
        const prev = this.q;
        this.q = q as number[];
        this.qAt = performance.now();
        if (prev && prev.some((v, i) => Math.abs(v - this.q![i]) > 1e-6)) this.lastMoveAt = this.qAt;
        const s = this.state();
        if (s) this.events.onStep?.(s);
      } else if (m.data.topic === t.eePose.name) {
        const p = PoseStampedMsg.safeParse(m.data.msg);
        if (!p.success) return void this.protocolErrors++;
        const { position: pos, orientation: o } = p.data.pose;
        this.eePos = [pos.x, pos.y, pos.z];
        this.eeQuat = [o.w, o.x, o.y, o.z];
      } else if (m.data.topic === t.gripperState.name) {
        const g = Float64Msg.safeParse(m.data.msg);
        if (!g.success) return void this.protocolErrors++;
        this.gripper = g.data.data;
      }
    } else if (m.data.op === 'service_response' && m.data.result === false) {
      this.protocolErrors++;
    }
  }

  available(): boolean {
    return this.ws?.readyState === WebSocket.OPEN && this.q !== null && this.eePos !== null;
  }

  state(): RobotState | null {
    if (!this.q || !this.eePos) return null;
    return {
      t: this.qAt,
      q: this.q.slice(),
      eePos: [...this.eePos],
      eeQuat: [...this.eeQuat],
      gripper: this.gripper,
      moving: performance.now() - this.lastMoveAt < 150,
      holding: this.holding,
    };
  }

  command(cmd: SafeCommand): void {
    this.holding = false;
    if (cmd.kind === 'ee_delta') this.pendingDeltas.push(cmd.delta);
    else if (cmd.kind === 'joint_target') this.pendingJoint = { q: cmd.q, gripper: cmd.gripper };
    else this.pendingGripper = cmd.value;
  }

  /** One control step: publish what arrived since the last one. */
  private tick(): void {
    if (!this.available()) return;
    const t = this.cfg.topics;
    const d = sumDeltas(this.pendingDeltas, this.safety);
    this.pendingDeltas = [];
    if (d) {
      const msg =
        t.eeDelta.type === 'geometry_msgs/msg/Twist'
          ? { linear: { x: d[0], y: d[1], z: d[2] }, angular: { x: d[3], y: d[4], z: d[5] } }
          : { layout: { dim: [], data_offset: 0 }, data: d.slice(0, 6) };
      this.sendOp({ op: 'publish', topic: t.eeDelta.name, msg });
      this.sendOp({ op: 'publish', topic: t.gripper.name, msg: { data: d[6] } });
    }
    if (this.pendingJoint) {
      const { q, gripper } = this.pendingJoint;
      this.pendingJoint = null;
      const msg =
        t.jointTarget.type === 'sensor_msgs/msg/JointState'
          ? { header: { stamp: stamp(), frame_id: '' }, name: this.info.jointNames, position: q, velocity: [], effort: [] }
          : { layout: { dim: [], data_offset: 0 }, data: q };
      this.sendOp({ op: 'publish', topic: t.jointTarget.name, msg });
      if (gripper !== undefined) this.sendOp({ op: 'publish', topic: t.gripper.name, msg: { data: gripper } });
    }
    if (this.pendingGripper !== null) {
      this.sendOp({ op: 'publish', topic: t.gripper.name, msg: { data: this.pendingGripper } });
      this.pendingGripper = null;
    }
  }

  hold(_reason?: string): void {
    this.pendingDeltas = [];
    this.pendingJoint = null;
    this.pendingGripper = null;
    this.holding = true;
    this.callService(this.cfg.services.hold.name, this.cfg.services.hold.type);
  }

  estop(): void {
    this.pendingDeltas = [];
    this.pendingJoint = null;
    this.pendingGripper = null;
    this.holding = true;
    this.callService(this.cfg.services.estop.name, this.cfg.services.estop.type);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.tickTimer) clearInterval(this.tickTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState === WebSocket.OPEN) {
      const t = this.cfg.topics;
      for (const topic of [t.jointState, t.eePose, t.gripperState]) ws.send(JSON.stringify({ op: 'unsubscribe', id: `prts:subscribe:${topic.name}`, topic: topic.name }));
      for (const topic of [t.eeDelta, t.jointTarget, t.gripper]) ws.send(JSON.stringify({ op: 'unadvertise', id: `prts:advertise:${topic.name}`, topic: topic.name }));
      await new Promise<void>((res) => {
        ws.once('close', () => res());
        ws.close(1000, 'server shutting down');
        setTimeout(() => {
          ws.terminate();
          res();
        }, 1000).unref();
      });
    } else ws?.terminate();
  }
}

/** ROS 2 builtin_interfaces/Time from the wall clock. */
function stamp(): { sec: number; nanosec: number } {
  const ms = Date.now();
  return { sec: Math.floor(ms / 1000), nanosec: (ms % 1000) * 1e6 };
}
