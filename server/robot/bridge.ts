/**
 * The robot bridge: WebSocket connections, the control lease, the watchdog, the latched
 * e-stop, command validation and clamping, telemetry and camera streaming, and teleop
 * recording hooks. All robot safety decisions are made here, in one place, so that no
 * client (however buggy or hostile) can move the robot except through these checks.
 *
 * Invariants:
 * - Only the lease holder's motion commands reach the driver, and only after schema
 *   validation, the e-stop check, the sequence check, the rate limit and clamping.
 * - When the holder goes quiet for `watchdogMs`, disconnects, loses or changes the lease,
 *   the driver is told to hold.
 * - The e-stop is server state, not connection state: it survives reconnects and lease
 *   changes and is cleared only by an explicit reset_estop.
 */
import type { WebSocket, RawData } from 'ws';
import type { Config } from '../config.ts';
import type { AuditLog } from '../audit.ts';
import { hasFk, type RobotDriver, type RobotState, type SafeCommand } from '../drivers/types.ts';
import {
  MOTION_OPS,
  PROTOCOL_VERSION,
  encodeCameraFrame,
  parseClientMessage,
  type AckMessage,
  type ClientMessage,
  type ErrorCode,
  type ErrorMessage,
} from './protocol.ts';
import { clampEeDelta, clampGripper, clampJointTarget, jointStepLimit, type Clamp } from './safety.ts';
import type { TeleopRecorder } from './recorder.ts';

export type Role = 'operator' | 'admin';

/** Above this many queued bytes a client is too slow for telemetry; frames are skipped for it. */
const SLOW_CLIENT_BYTES = 1 << 20;
/** Above this a client is not reading at all; it is closed so it cannot grow server memory. */
const STUCK_CLIENT_BYTES = 32 << 20;

class Bucket {
  private tokens: number;
  private last = performance.now();
  constructor(private readonly rate: number, private readonly burst: number) {
    this.tokens = burst;
  }
  take(now: number): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }
}

/**
 * A one-shot timer that can be pushed back cheaply. `refresh()` on a pending timer moves
 * its deadline without allocating, which matters at 100 commands a second; a fired or
 * disarmed timer is replaced by a new one (Node does not revive a cleared timer).
 */
class Deadline {
  private t: NodeJS.Timeout | null = null;
  constructor(private readonly ms: number, private readonly fn: () => void) {}
  arm(): void {
    if (this.t) this.t.refresh();
    else {
      this.t = setTimeout(() => {
        this.t = null;
        this.fn();
      }, this.ms);
    }
  }
  disarm(): void {
    if (this.t) clearTimeout(this.t);
    this.t = null;
  }
}

interface Conn {
  id: string;
  ws: WebSocket;
  role: Role;
  remote: string;
  msgBucket: Bucket;
  cmdBucket: Bucket;
  dropWindowStart: number;
  dropsInWindow: number;
  lastRateErrorAt: number;
  rateRefusals: number;
  camera: boolean;
  closed: boolean;
}

export interface BridgeOptions {
  config: Config;
  driver: RobotDriver;
  audit: AuditLog;
  recorder?: TeleopRecorder;
  version: string;
}

export class RobotBridge {
  private readonly conns = new Map<string, Conn>();
  private nextConnId = 1;
  private holder: Conn | null = null;
  private lastSeq = -1;
  private lastActivity = 0;
  private readonly watchdogTimer: Deadline;
  private readonly leaseTimer: Deadline;
  private estop: { latched: boolean; by: string | null; reason: string | null; at: string | null } = { latched: false, by: null, reason: null, at: null };
  private holdReason: string | null = 'startup';
  private telemetrySeq = 0;
  private cameraSeq = 0;
  private telemetryTimer: NodeJS.Timeout | null = null;
  private cameraTimer: NodeJS.Timeout | null = null;
  private lastAction: number[] | null = null;
  private readonly t0 = performance.now();
  private closing = false;
  private readonly cfg: Config;
  private readonly driver: RobotDriver;
  private readonly audit: AuditLog;
  private readonly recorder?: TeleopRecorder;

  constructor(private readonly opts: BridgeOptions) {
    this.cfg = opts.config;
    this.driver = opts.driver;
    this.audit = opts.audit;
    this.recorder = opts.recorder;
    this.watchdogTimer = new Deadline(this.cfg.safety.watchdogMs, () => this.onWatchdog());
    this.leaseTimer = new Deadline(this.cfg.safety.leaseTimeoutMs, () => this.onLeaseTimeout());
  }

  async start(): Promise<void> {
    await this.driver.start({
      onStep: (s) => this.onDriverStep(s),
      onAvailability: (available, reason) => {
        this.audit.write('driver', { available, reason });
        if (!available) this.hold('driver_unavailable');
        this.broadcast({ type: 'safety', event: available ? 'driver_available' : 'driver_unavailable', reason });
      },
    });
    this.driver.hold('startup');
    this.telemetryTimer = setInterval(() => this.sendTelemetry(), 1000 / this.cfg.telemetryHz);
    const cams = this.driver.info.cameras;
    if (cams.length && this.driver.camera) {
      this.cameraTimer = setInterval(() => this.sendCamera(), 1000 / Math.min(this.cfg.cameraHz, cams[0].fps || this.cfg.cameraHz));
    }
  }

  /** Milliseconds since the bridge started; the time base of all timestamps on the wire. */
  now(): number {
    return performance.now() - this.t0;
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  get leaseHolder(): string | null {
    return this.holder?.id ?? null;
  }

  get estopLatched(): boolean {
    return this.estop.latched;
  }

  accept(ws: WebSocket, role: Role, remote: string): void {
    const s = this.cfg.safety;
    const conn: Conn = {
      id: `c${this.nextConnId++}`,
      ws,
      role,
      remote,
      msgBucket: new Bucket(s.messageRateHz, s.messageBurst),
      cmdBucket: new Bucket(s.commandRateHz, s.commandBurst),
      dropWindowStart: performance.now(),
      dropsInWindow: 0,
      lastRateErrorAt: -Infinity,
      rateRefusals: 0,
      camera: false,
      closed: false,
    };
    this.conns.set(conn.id, conn);
    this.audit.write('connect', { conn: conn.id, role, remote });
    ws.on('message', (data, isBinary) => {
      try {
        this.onMessage(conn, data, isBinary);
      } catch (e) {
        // A bug must not take the process (and every other client) down; the robot holds.
        this.audit.write('internal_error', { conn: conn.id, message: (e as Error).message });
        this.hold('internal_error');
        this.sendError(conn, 'internal', 'internal error; the robot was held');
      }
    });
    ws.on('close', (code) => this.onClose(conn, code));
    ws.on('error', (e) => this.audit.write('socket_error', { conn: conn.id, message: e.message }));
    this.send(conn, this.hello(conn));
  }

  private hello(conn: Conn) {
    const info = this.driver.info;
    const s = this.cfg.safety;
    return {
      type: 'hello',
      protocol: PROTOCOL_VERSION,
      server: { name: 'prts-workbench', version: this.opts.version },
      connectionId: conn.id,
      role: conn.role,
      controller: this.holder?.id ?? null,
      robot: {
        name: info.name,
        driver: info.driver,
        controlHz: info.controlHz,
        jointNames: info.jointNames,
        jointLower: info.jointLower,
        jointUpper: info.jointUpper,
        jointMaxVel: info.jointMaxVel,
        gripperRange: info.gripperRange,
        supportsJointTarget: info.supportsJointTarget,
      },
      actionSpace: {
        ee_delta: {
          names: info.eeActionNames,
          low: [-s.maxEeStep, -s.maxEeStep, -s.maxEeStep, -s.maxEeRotStep, -s.maxEeRotStep, -s.maxEeRotStep, Math.min(...info.gripperRange)],
          high: [s.maxEeStep, s.maxEeStep, s.maxEeStep, s.maxEeRotStep, s.maxEeRotStep, s.maxEeRotStep, Math.max(...info.gripperRange)],
          units: 'metres and radians per control step; gripper absolute',
        },
        joint_target: info.supportsJointTarget
          ? { names: info.jointNames, low: info.jointLower, high: info.jointUpper, maxStep: info.jointNames.map((_, i) => jointStepLimit(i, info, s)) }
          : null,
      },
      workspace: { min: s.workspaceMin, max: s.workspaceMax },
      cameras: info.cameras.map((c, index) => ({ index, name: c.name, width: c.width, height: c.height, fps: Math.min(c.fps, this.cfg.cameraHz), format: 'rgb8' })),
      rates: { telemetryHz: this.cfg.telemetryHz, commandRateHz: s.commandRateHz, messageRateHz: s.messageRateHz },
      safety: { watchdogMs: s.watchdogMs, leaseTimeoutMs: s.leaseTimeoutMs, estop: this.estop.latched },
      limits: { maxPayloadBytes: this.cfg.maxPayloadBytes },
    };
  }

  private onMessage(conn: Conn, data: RawData, isBinary: boolean): void {
    if (conn.closed) return;
    const now = performance.now();
    if (!conn.msgBucket.take(now)) {
      this.onDrop(conn, now);
      return;
    }
    if (isBinary) {
      this.sendError(conn, 'binary_not_accepted', 'binary frames are not accepted from clients; send JSON text frames');
      return;
    }
    const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
    const r = parseClientMessage(text);
    if (!r.ok) {
      this.send(conn, r.error);
      if (this.holder === conn && r.error.op && MOTION_OPS.has(r.error.op as never)) {
        this.audit.write('refused', { conn: conn.id, op: r.error.op, seq: r.error.seq, code: r.error.code, message: r.error.message });
      }
      return;
    }
    this.dispatch(conn, r.msg, now);
  }

  private onDrop(conn: Conn, now: number): void {
    if (now - conn.dropWindowStart > 1000) {
      conn.dropWindowStart = now;
      conn.dropsInWindow = 0;
    }
    conn.dropsInWindow++;
    if (conn.dropsInWindow >= this.cfg.safety.floodCloseAfter) {
      this.audit.write('flood_close', { conn: conn.id, dropped: conn.dropsInWindow });
      this.closeConn(conn, 1008, 'message rate limit exceeded');
      return;
    }
    if (now - conn.lastRateErrorAt > 250) {
      conn.lastRateErrorAt = now;
      this.sendError(conn, 'rate_limited', `more than ${this.cfg.safety.messageRateHz} messages/s; messages are being dropped`);
    }
  }

  private dispatch(conn: Conn, msg: ClientMessage, now: number): void {
    switch (msg.op) {
      case 'heartbeat':
        if (this.holder === conn) this.renew();
        this.send(conn, { type: 'ack', op: 'heartbeat', seq: msg.seq });
        return;
      case 'lease_request':
        return this.leaseRequest(conn, msg.seq);
      case 'lease_release':
        if (this.holder !== conn) return this.sendError(conn, 'not_controller', 'you do not hold the lease', msg);
        this.releaseLease('released');
        this.send(conn, { type: 'ack', op: 'lease_release', seq: msg.seq });
        return;
      case 'takeover':
        return this.takeover(conn, msg.seq);
      case 'estop':
        return this.doEstop(conn, msg.reason ?? 'operator', msg.seq);
      case 'reset_estop':
        return this.resetEstop(conn, msg.seq);
      case 'subscribe':
        conn.camera = msg.camera;
        this.send(conn, { type: 'ack', op: 'subscribe', seq: msg.seq });
        return;
      case 'reset_scene':
        return void this.resetScene(conn, msg.seq);
      case 'record_start':
      case 'record_stop':
      case 'record_discard':
        return void this.record(conn, msg);
      case 'ee_delta':
      case 'joint_target':
      case 'gripper':
        return this.motion(conn, msg, now);
    }
  }

  // ---- lease -------------------------------------------------------------------------

  private leaseRequest(conn: Conn, seq?: number): void {
    if (this.holder === conn) {
      this.renew();
      this.send(conn, { type: 'ack', op: 'lease_request', seq });
      return;
    }
    if (this.holder) {
      this.audit.write('lease_denied', { conn: conn.id, holder: this.holder.id });
      return this.sendError(conn, 'lease_held', `the lease is held by ${this.holder.id}${conn.role === 'admin' ? '; use takeover' : ''}`, { op: 'lease_request', seq });
    }
    this.grant(conn, 'granted');
    this.send(conn, { type: 'ack', op: 'lease_request', seq });
  }

  private takeover(conn: Conn, seq?: number): void {
    if (conn.role !== 'admin') {
      this.audit.write('refused', { conn: conn.id, op: 'takeover', code: 'forbidden' });
      return this.sendError(conn, 'forbidden', 'takeover needs the admin token', { op: 'takeover', seq });
    }
    const prev = this.holder;
    if (prev && prev !== conn) {
      this.discardRecording('lease_takeover');
      this.send(prev, { type: 'lease', holder: conn.id, reason: 'revoked', by: conn.id });
    }
    this.grant(conn, prev && prev !== conn ? 'takeover' : 'granted', prev?.id);
    this.send(conn, { type: 'ack', op: 'takeover', seq });
  }

  private grant(conn: Conn, reason: string, from?: string): void {
    this.holder = conn;
    this.lastSeq = -1;
    // A new controller starts from a robot at rest, never from the previous one's motion.
    this.hold('lease_change');
    this.renew();
    this.leaseTimer.arm();
    this.audit.write('lease', { conn: conn.id, role: conn.role, reason, from: from ?? null });
    this.broadcast({ type: 'lease', holder: conn.id, role: conn.role, reason });
  }

  private releaseLease(reason: string): void {
    const prev = this.holder;
    if (!prev) return;
    this.discardRecording(`lease_${reason}`);
    this.holder = null;
    this.watchdogTimer.disarm();
    this.leaseTimer.disarm();
    this.hold(`lease_${reason}`);
    this.audit.write('lease', { conn: prev.id, role: prev.role, reason });
    this.broadcast({ type: 'lease', holder: null, reason, previous: prev.id });
  }

  private renew(): void {
    this.lastActivity = performance.now();
    this.watchdogTimer.arm();
    this.leaseTimer.arm();
  }

  private onWatchdog(): void {
    if (!this.holder) return;
    if (this.holdReason === null) {
      this.hold('watchdog');
      this.audit.write('watchdog', { conn: this.holder.id, silentMs: Math.round(performance.now() - this.lastActivity) });
      this.broadcast({ type: 'safety', event: 'hold', reason: 'watchdog' });
    }
  }

  private onLeaseTimeout(): void {
    if (!this.holder) return;
    const silent = performance.now() - this.lastActivity;
    if (silent + 1 < this.cfg.safety.leaseTimeoutMs) {
      this.leaseTimer.arm();
      return;
    }
    const h = this.holder;
    this.releaseLease('expired');
    this.send(h, { type: 'lease', holder: null, reason: 'expired' });
  }

  private hold(reason: string): void {
    this.holdReason = reason;
    this.lastAction = null;
    this.driver.hold(reason);
  }

  // ---- e-stop ------------------------------------------------------------------------

  private doEstop(conn: Conn, reason: string, seq?: number): void {
    // Any authenticated connection may stop the robot: an observer who sees danger must not need the lease.
    const first = !this.estop.latched;
    this.estop = { latched: true, by: conn.id, reason, at: new Date().toISOString() };
    this.holdReason = 'estop';
    this.lastAction = null;
    this.driver.estop();
    this.audit.write('estop', { conn: conn.id, role: conn.role, reason, alreadyLatched: !first });
    this.broadcast({ type: 'safety', event: 'estop', latched: true, by: conn.id, reason });
    this.send(conn, { type: 'ack', op: 'estop', seq });
  }

  private resetEstop(conn: Conn, seq?: number): void {
    if (this.holder !== conn && conn.role !== 'admin') {
      this.audit.write('refused', { conn: conn.id, op: 'reset_estop', code: 'not_controller' });
      return this.sendError(conn, 'not_controller', 'only the lease holder or an admin may reset the e-stop', { op: 'reset_estop', seq });
    }
    const was = this.estop.latched;
    this.estop = { latched: false, by: null, reason: null, at: null };
    // The robot stays held after a reset: motion resumes only with the next command.
    this.hold('estop_reset');
    this.audit.write('estop_reset', { conn: conn.id, role: conn.role, wasLatched: was });
    this.broadcast({ type: 'safety', event: 'estop_reset', latched: false, by: conn.id });
    this.send(conn, { type: 'ack', op: 'reset_estop', seq });
  }

  // ---- motion ------------------------------------------------------------------------

  private refuse(conn: Conn, code: ErrorCode, message: string, msg: { op: string; seq?: number }, field?: string): void {
    if (code === 'rate_limited') {
      // Aggregate rate refusals in the log: one line per burst, not one per dropped command.
      conn.rateRefusals++;
      const now = performance.now();
      if (now - conn.lastRateErrorAt < 250) return;
      conn.lastRateErrorAt = now;
      this.audit.write('refused', { conn: conn.id, op: msg.op, seq: msg.seq, code, count: conn.rateRefusals });
      conn.rateRefusals = 0;
    } else {
      this.audit.write('refused', { conn: conn.id, op: msg.op, seq: msg.seq, code, message });
    }
    this.sendError(conn, code, message, msg, field);
  }

  private motion(conn: Conn, msg: Extract<ClientMessage, { op: 'ee_delta' | 'joint_target' | 'gripper' }>, now: number): void {
    if (this.holder !== conn) {
      return this.refuse(conn, 'not_controller', this.holder ? `observers cannot command the robot; ${this.holder.id} holds the lease` : 'request the lease (lease_request) before sending commands', msg);
    }
    if (this.estop.latched) {
      return this.refuse(conn, 'estopped', 'the e-stop is latched; commands are refused until reset_estop', msg);
    }
    if (!conn.cmdBucket.take(now)) {
      return this.refuse(conn, 'rate_limited', `more than ${this.cfg.safety.commandRateHz} commands/s`, msg);
    }
    if (msg.seq <= this.lastSeq) {
      return this.refuse(conn, 'stale_seq', `seq ${msg.seq} is not greater than the last accepted seq ${this.lastSeq}`, msg, 'seq');
    }
    const state = this.driver.available() ? this.driver.state() : null;
    if (!state || now - state.t > this.cfg.safety.staleStateMs) {
      return this.refuse(conn, 'robot_unavailable', state ? 'robot state is stale; cannot clamp the command safely' : 'robot is not connected', msg);
    }
    const info = this.driver.info;
    let safe: SafeCommand;
    let clamps: Clamp[];
    let action: number[] | null = null;
    switch (msg.op) {
      case 'ee_delta': {
        const r = clampEeDelta(msg.delta, state, info, this.cfg.safety);
        safe = { kind: 'ee_delta', seq: msg.seq, delta: r.delta };
        clamps = r.clamps;
        action = r.delta;
        break;
      }
      case 'joint_target': {
        if (!info.supportsJointTarget) return this.refuse(conn, 'unsupported', `the ${info.driver} driver does not take joint targets; use ee_delta`, msg);
        if (msg.q.length !== info.jointNames.length) {
          return this.refuse(conn, 'bad_message', `q: expected exactly ${info.jointNames.length} numbers (${info.jointNames.join(', ')}), got ${msg.q.length}`, msg, 'q');
        }
        const fk = hasFk(this.driver) ? (q: number[]) => (this.driver as unknown as { fk(q: number[]): [number, number, number] }).fk(q) : undefined;
        const r = clampJointTarget(msg.q, msg.gripper, state, info, this.cfg.safety, fk);
        safe = { kind: 'joint_target', seq: msg.seq, q: r.q, gripper: r.gripper };
        clamps = r.clamps;
        break;
      }
      case 'gripper': {
        const r = clampGripper(msg.value, info);
        safe = { kind: 'gripper', seq: msg.seq, value: r.value };
        clamps = r.clamps;
        break;
      }
    }
    this.lastSeq = msg.seq;
    this.holdReason = null;
    this.renew();
    this.lastAction = action ?? this.lastAction;
    this.driver.command(safe);
    if (clamps.length) this.audit.write('clamp', { conn: conn.id, op: msg.op, seq: msg.seq, clamps });
    const ack: AckMessage = { type: 'ack', op: msg.op, seq: msg.seq };
    if (clamps.length) ack.clamps = clamps;
    this.send(conn, ack);
  }

  private async resetScene(conn: Conn, seq?: number): Promise<void> {
    if (this.holder !== conn) return this.refuse(conn, 'not_controller', 'only the lease holder may reset the scene', { op: 'reset_scene', seq });
    if (this.estop.latched) return this.refuse(conn, 'estopped', 'the e-stop is latched', { op: 'reset_scene', seq });
    if (!this.driver.resetScene) return this.refuse(conn, 'unsupported', `the ${this.driver.info.driver} driver cannot reset its scene`, { op: 'reset_scene', seq });
    this.hold('reset_scene');
    await this.driver.resetScene();
    this.hold('reset_scene');
    this.audit.write('reset_scene', { conn: conn.id });
    this.send(conn, { type: 'ack', op: 'reset_scene', seq });
  }

  // ---- recording ---------------------------------------------------------------------

  private async record(conn: Conn, msg: Extract<ClientMessage, { op: 'record_start' | 'record_stop' | 'record_discard' }>): Promise<void> {
    if (!this.recorder) return this.refuse(conn, 'unsupported', 'recording is not available on this server', msg);
    if (this.holder !== conn) return this.refuse(conn, 'not_controller', 'only the lease holder may record', msg);
    try {
      if (msg.op === 'record_start') {
        if (this.recorder.active) return this.refuse(conn, 'recording', 'a recording is already running; stop or discard it first', msg);
        const dataset = msg.dataset ?? this.cfg.recordDataset;
        await this.recorder.start(dataset, msg.task);
        this.audit.write('record_start', { conn: conn.id, dataset, task: msg.task });
        this.broadcast({ type: 'record', state: 'started', dataset, task: msg.task, by: conn.id });
      } else if (msg.op === 'record_stop') {
        if (!this.recorder.active) return this.refuse(conn, 'recording', 'no recording is running', msg);
        const r = await this.recorder.stop();
        this.audit.write('record_saved', { conn: conn.id, ...r });
        this.broadcast({ type: 'record', state: 'saved', ...r });
      } else {
        if (!this.recorder.active) return this.refuse(conn, 'recording', 'no recording is running', msg);
        await this.recorder.discard();
        this.audit.write('record_discarded', { conn: conn.id, reason: 'operator' });
        this.broadcast({ type: 'record', state: 'discarded', reason: 'operator' });
      }
      this.send(conn, { type: 'ack', op: msg.op, seq: msg.seq });
    } catch (e) {
      this.audit.write('record_failed', { conn: conn.id, op: msg.op, message: (e as Error).message });
      this.broadcast({ type: 'record', state: 'failed', message: (e as Error).message });
      this.sendError(conn, 'recording', `recording ${msg.op} failed: ${(e as Error).message}`, msg);
    }
  }

  private discardRecording(reason: string): void {
    if (!this.recorder?.active) return;
    this.recorder.discard().then(
      () => {
        this.audit.write('record_discarded', { reason });
        this.broadcast({ type: 'record', state: 'discarded', reason });
      },
      (e: Error) => this.audit.write('record_failed', { reason, message: e.message }),
    );
  }

  private onDriverStep(s: RobotState): void {
    if (this.recorder?.active) {
      const frame = this.driver.info.cameras[0]?.everyStep ? (this.driver.camera?.(0) ?? null) : null;
      this.recorder.addFrame(s, this.lastAction ?? [0, 0, 0, 0, 0, 0, s.gripper], frame);
    }
    // An EE delta is one step's worth of motion; after it is applied, the next recorded
    // action is "no motion" until another command arrives.
    if (this.lastAction) this.lastAction = [0, 0, 0, 0, 0, 0, this.lastAction[6]];
  }

  // ---- streaming ---------------------------------------------------------------------

  private sendTelemetry(): void {
    if (this.conns.size === 0) return;
    const s = this.driver.state();
    const msg = JSON.stringify({
      type: 'telemetry',
      seq: this.telemetrySeq++,
      t: Math.round(this.now() * 10) / 10,
      q: s?.q ?? null,
      ee: s ? { pos: s.eePos, quat: s.eeQuat } : null,
      gripper: s?.gripper ?? null,
      moving: s?.moving ?? false,
      safety: {
        estop: this.estop.latched,
        estopBy: this.estop.by,
        holding: s?.holding ?? true,
        holdReason: this.holdReason,
        driverAvailable: this.driver.available(),
      },
      lease: { holder: this.holder?.id ?? null, role: this.holder?.role ?? null },
      lastSeq: this.lastSeq,
      recording: this.recorder?.active ? this.recorder.status() : null,
      clients: this.conns.size,
    });
    for (const c of this.conns.values()) this.sendRaw(c, msg, false);
  }

  private sendCamera(): void {
    let any = false;
    for (const c of this.conns.values()) if (c.camera) any = true;
    if (!any || !this.driver.camera) return;
    const f = this.driver.camera(0);
    if (!f) return;
    const buf = encodeCameraFrame(f.camera, f.width, f.height, this.cameraSeq++, this.now(), f.rgb);
    for (const c of this.conns.values()) if (c.camera) this.sendRaw(c, buf, false);
  }

  broadcast(obj: object): void {
    const text = JSON.stringify(obj);
    for (const c of this.conns.values()) this.sendRaw(c, text, true);
  }

  private send(conn: Conn, obj: object): void {
    this.sendRaw(conn, JSON.stringify(obj), true);
  }

  private sendError(conn: Conn, code: ErrorCode, message: string, msg?: { op?: string; seq?: number }, field?: string): void {
    const e: ErrorMessage = { type: 'error', code, message };
    if (field) e.field = field;
    if (msg?.op) e.op = msg.op;
    if (msg?.seq !== undefined) e.seq = msg.seq;
    this.send(conn, e);
  }

  /** `essential` messages (acks, errors, lease and safety events) are never skipped for slowness. */
  private sendRaw(conn: Conn, data: string | Buffer, essential: boolean): void {
    if (conn.closed || conn.ws.readyState !== 1) return;
    const buffered = conn.ws.bufferedAmount;
    if (buffered > STUCK_CLIENT_BYTES) {
      this.audit.write('slow_client_close', { conn: conn.id, buffered });
      this.closeConn(conn, 1008, 'client is not reading; closed');
      return;
    }
    if (!essential && buffered > SLOW_CLIENT_BYTES) return;
    conn.ws.send(data);
  }

  private closeConn(conn: Conn, code: number, reason: string): void {
    if (conn.closed) return;
    conn.closed = true;
    try {
      conn.ws.close(code, reason);
    } catch {
      conn.ws.terminate();
    }
    // Do not wait for the closing handshake to act: a flooding or stuck controller loses the robot now.
    this.onClose(conn, code);
    setTimeout(() => conn.ws.terminate(), 1000).unref();
  }

  private onClose(conn: Conn, code: number): void {
    if (!this.conns.has(conn.id)) return;
    conn.closed = true;
    this.conns.delete(conn.id);
    this.audit.write('disconnect', { conn: conn.id, code });
    if (this.holder === conn) this.releaseLease('disconnected');
  }

  /** Graceful shutdown: hold the robot, roll back an unfinished recording, close every socket. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.telemetryTimer) clearInterval(this.telemetryTimer);
    if (this.cameraTimer) clearInterval(this.cameraTimer);
    this.watchdogTimer.disarm();
    this.leaseTimer.disarm();
    this.hold('shutdown');
    this.audit.write('shutdown', { holder: this.holder?.id ?? null });
    if (this.recorder?.active) {
      await this.recorder.discard().catch((e: Error) => this.audit.write('record_failed', { reason: 'shutdown', message: e.message }));
      this.audit.write('record_discarded', { reason: 'shutdown' });
    }
    for (const c of [...this.conns.values()]) {
      c.closed = true;
      try {
        c.ws.close(1001, 'server shutting down');
      } catch {
        c.ws.terminate();
      }
    }
    this.holder = null;
    this.conns.clear();
    await this.driver.close();
  }
}
