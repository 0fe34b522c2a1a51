/**
 * The robot bridge: the latched e-stop, command validation and clamping, message
 * dispatch, telemetry and camera streaming, and teleop recording hooks. All robot safety
 * decisions are made here, in one place, so that no client (however buggy or hostile)
 * can move the robot except through these checks. Around it:
 *   connection.ts  one client's inbound budgets and outbound backpressure
 *   lease.ts       the control lease and the watchdog
 *   status.ts      the hello and telemetry messages
 *   limits.ts      token buckets, timers, the send-buffer cap
 *
 * Invariants:
 * - Only the lease holder's motion commands reach the driver, and only after schema
 *   validation, the e-stop check, the sequence check, the rate limit and clamping.
 * - When the holder goes quiet for `watchdogMs`, disconnects, loses or changes the lease,
 *   the driver is told to hold.
 * - The e-stop is server state, not connection state: it survives reconnects and lease
 *   changes and is cleared only by an explicit reset_estop. Any authenticated message
 *   with op "estop" latches it, whatever is wrong with its other fields.
 * - No client's traffic can hold up another's: every message is bounded work, paid for
 *   from its own connection's budgets (connection.ts).
 */
import type { WebSocket } from 'ws';
import type { Config } from '../config.ts';
import type { AuditLog } from '../audit.ts';
import { hasFk, type RobotDriver, type RobotState, type SafeCommand } from '../drivers/types.ts';
import { encodeCameraFrame, MOTION_OPS, type AckMessage, type ClientMessage, type ErrorCode, type FieldWarning, type ParseResult } from './protocol.ts';
import { clampEeDelta, clampGripper, clampJointTarget, type Clamp } from './safety.ts';
import type { TeleopRecorder } from './recorder.ts';
import { Connection, type ConnectionHandlers, type ConnectionLimits, type Role } from './connection.ts';
import { LeaseManager } from './lease.ts';
import { defaultSendBufferCap } from './limits.ts';
import { helloMessage, telemetryMessage, type BridgeSnapshot } from './status.ts';

export type { Role } from './connection.ts';

export interface BridgeOptions {
  config: Config;
  driver: RobotDriver;
  audit: AuditLog;
  recorder?: TeleopRecorder;
  version: string;
}

export class RobotBridge {
  private readonly conns = new Map<string, Connection>();
  private nextConnId = 1;
  private readonly lease: LeaseManager;
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
  private readonly limits: ConnectionLimits;
  private readonly handlers: ConnectionHandlers;

  constructor(private readonly opts: BridgeOptions) {
    this.cfg = opts.config;
    this.driver = opts.driver;
    this.audit = opts.audit;
    this.recorder = opts.recorder;
    this.limits = {
      safety: this.cfg.safety,
      maxPayloadBytes: this.cfg.maxPayloadBytes,
      sendBufferCap: this.cfg.sendBufferCapBytes ?? defaultSendBufferCap(this.cfg.maxConnections),
    };
    this.lease = new LeaseManager(this.cfg.safety, {
      audit: this.audit,
      hold: (reason) => this.hold(reason),
      broadcast: (obj) => this.broadcast(obj),
      discardRecording: (reason) => this.discardRecording(reason),
      onWatchdog: (holder, silentMs) => {
        if (this.holdReason !== null) return;
        this.hold('watchdog');
        this.audit.write('watchdog', { conn: holder.id, silentMs });
        this.broadcast({ type: 'safety', event: 'hold', reason: 'watchdog' });
      },
    });
    this.handlers = {
      onMessage: (conn, r, now) => this.onMessage(conn, r, now),
      onClose: (conn, code) => this.onClose(conn, code),
      onInternalError: (conn, e) => {
        this.audit.write('internal_error', { conn: conn.id, message: e.message });
        this.hold('internal_error');
        conn.sendError('internal', 'internal error; the robot was held');
      },
    };
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
    return this.lease.holder?.id ?? null;
  }

  get estopLatched(): boolean {
    return this.estop.latched;
  }

  /** Unsent bytes past which a connection is closed as not reading. */
  get sendBufferCap(): number {
    return this.limits.sendBufferCap;
  }

  accept(ws: WebSocket, role: Role, remote: string): void {
    const conn = new Connection(`c${this.nextConnId++}`, ws, role, remote, this.limits, this.audit, this.handlers);
    this.conns.set(conn.id, conn);
    this.audit.write('connect', { conn: conn.id, role, remote });
    const holder = this.lease.holder;
    conn.send(helloMessage(this.cfg, this.driver.info, this.opts.version, conn, { estop: this.estop, holder }, this.limits.sendBufferCap));
  }

  private onMessage(conn: Connection, r: ParseResult, now: number): void {
    if (conn.closed) return;
    if (!r.ok) {
      conn.send(r.error);
      if (this.lease.holder === conn && r.error.op && MOTION_OPS.has(r.error.op as never)) {
        this.audit.write('refused', { conn: conn.id, op: r.error.op, seq: r.error.seq, code: r.error.code, message: r.error.message });
      }
      return;
    }
    this.dispatch(conn, r.msg, r.warnings, now);
  }

  private dispatch(conn: Connection, msg: ClientMessage, warnings: FieldWarning[], now: number): void {
    switch (msg.op) {
      case 'estop':
        return this.doEstop(conn, msg.reason ?? 'operator', msg.seq, warnings);
      case 'heartbeat':
        if (this.lease.holder === conn) this.lease.renew();
        conn.send({ type: 'ack', op: 'heartbeat', seq: msg.seq });
        return;
      case 'lease_request':
        return this.lease.request(conn, msg.seq);
      case 'lease_release':
        return this.lease.release(conn, msg.seq);
      case 'takeover':
        return this.lease.takeover(conn, msg.seq);
      case 'reset_estop':
        return this.resetEstop(conn, msg.seq);
      case 'subscribe':
        conn.camera = msg.camera;
        conn.send({ type: 'ack', op: 'subscribe', seq: msg.seq });
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

  private hold(reason: string): void {
    this.holdReason = reason;
    this.lastAction = null;
    this.driver.hold(reason);
  }

  // ---- e-stop ------------------------------------------------------------------------

  private doEstop(conn: Connection, reason: string, seq: number | undefined, warnings: FieldWarning[]): void {
    // Any authenticated connection may stop the robot: an observer who sees danger must not need the lease.
    // The robot is stopped first; everything else (logging, telling clients, bad fields) comes after.
    const first = !this.estop.latched;
    this.estop = { latched: true, by: conn.id, reason, at: new Date().toISOString() };
    this.holdReason = 'estop';
    this.lastAction = null;
    this.driver.estop();
    const entry: Record<string, unknown> = { conn: conn.id, role: conn.role, reason, alreadyLatched: !first };
    if (warnings.length) entry.warnings = warnings;
    this.audit.write('estop', entry);
    this.broadcast({ type: 'safety', event: 'estop', latched: true, by: conn.id, reason });
    const ack: AckMessage = { type: 'ack', op: 'estop', seq };
    if (warnings.length) ack.warnings = warnings;
    conn.send(ack);
  }

  private resetEstop(conn: Connection, seq?: number): void {
    if (this.lease.holder !== conn && conn.role !== 'admin') {
      this.audit.write('refused', { conn: conn.id, op: 'reset_estop', code: 'not_controller' });
      return conn.sendError('not_controller', 'only the lease holder or an admin may reset the e-stop', { op: 'reset_estop', seq });
    }
    const was = this.estop.latched;
    this.estop = { latched: false, by: null, reason: null, at: null };
    // The robot stays held after a reset: motion resumes only with the next command.
    this.hold('estop_reset');
    this.audit.write('estop_reset', { conn: conn.id, role: conn.role, wasLatched: was });
    this.broadcast({ type: 'safety', event: 'estop_reset', latched: false, by: conn.id });
    conn.send({ type: 'ack', op: 'reset_estop', seq });
  }

  // ---- motion ------------------------------------------------------------------------

  private refuse(conn: Connection, code: ErrorCode, message: string, msg: { op: string; seq?: number }, field?: string): void {
    this.audit.write('refused', { conn: conn.id, op: msg.op, seq: msg.seq, code, message });
    conn.sendError(code, message, msg, field);
  }

  private motion(conn: Connection, msg: Extract<ClientMessage, { op: 'ee_delta' | 'joint_target' | 'gripper' }>, now: number): void {
    const holder = this.lease.holder;
    if (holder !== conn) {
      return this.refuse(conn, 'not_controller', holder ? `observers cannot command the robot; ${holder.id} holds the lease` : 'request the lease (lease_request) before sending commands', msg);
    }
    if (this.estop.latched) {
      return this.refuse(conn, 'estopped', 'the e-stop is latched; commands are refused until reset_estop', msg);
    }
    if (!conn.cmdBucket.take(now)) {
      // Reported (with this seq) in the connection's next aggregated rate_limited error.
      return conn.noteDrop('commands', now, msg.seq, msg.op);
    }
    if (msg.seq <= this.lease.lastSeq) {
      return this.refuse(conn, 'stale_seq', `seq ${msg.seq} is not greater than the last accepted seq ${this.lease.lastSeq}`, msg, 'seq');
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
    this.lease.lastSeq = msg.seq;
    this.holdReason = null;
    this.lease.renew();
    this.lastAction = action ?? this.lastAction;
    this.driver.command(safe);
    if (clamps.length) this.audit.write('clamp', { conn: conn.id, op: msg.op, seq: msg.seq, clamps });
    const ack: AckMessage = { type: 'ack', op: msg.op, seq: msg.seq };
    if (clamps.length) ack.clamps = clamps;
    conn.send(ack);
  }

  private async resetScene(conn: Connection, seq?: number): Promise<void> {
    if (this.lease.holder !== conn) return this.refuse(conn, 'not_controller', 'only the lease holder may reset the scene', { op: 'reset_scene', seq });
    if (this.estop.latched) return this.refuse(conn, 'estopped', 'the e-stop is latched', { op: 'reset_scene', seq });
    if (!this.driver.resetScene) return this.refuse(conn, 'unsupported', `the ${this.driver.info.driver} driver cannot reset its scene`, { op: 'reset_scene', seq });
    this.hold('reset_scene');
    await this.driver.resetScene();
    this.hold('reset_scene');
    this.audit.write('reset_scene', { conn: conn.id });
    conn.send({ type: 'ack', op: 'reset_scene', seq });
  }

  // ---- recording ---------------------------------------------------------------------

  private async record(conn: Connection, msg: Extract<ClientMessage, { op: 'record_start' | 'record_stop' | 'record_discard' }>): Promise<void> {
    if (!this.recorder) return this.refuse(conn, 'unsupported', 'recording is not available on this server', msg);
    if (this.lease.holder !== conn) return this.refuse(conn, 'not_controller', 'only the lease holder may record', msg);
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
      conn.send({ type: 'ack', op: msg.op, seq: msg.seq });
    } catch (e) {
      this.audit.write('record_failed', { conn: conn.id, op: msg.op, message: (e as Error).message });
      this.broadcast({ type: 'record', state: 'failed', message: (e as Error).message });
      conn.sendError('recording', `recording ${msg.op} failed: ${(e as Error).message}`, msg);
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

  private snapshot(): BridgeSnapshot {
    return {
      estop: this.estop,
      holdReason: this.holdReason,
      holder: this.lease.holder,
      lastSeq: this.lease.lastSeq,
      driverAvailable: this.driver.available(),
      recording: this.recorder?.active ? this.recorder.status() : null,
      clients: this.conns.size,
    };
  }

  private sendTelemetry(): void {
    if (this.conns.size === 0) return;
    const msg = telemetryMessage(this.telemetrySeq++, this.now(), this.driver.state(), this.snapshot());
    // Also the periodic backpressure check: a client that stopped reading is closed here.
    for (const c of this.conns.values()) c.sendRaw(msg, false);
  }

  private sendCamera(): void {
    let any = false;
    for (const c of this.conns.values()) if (c.camera) any = true;
    if (!any || !this.driver.camera) return;
    const f = this.driver.camera(0);
    if (!f) return;
    const buf = encodeCameraFrame(f.camera, f.width, f.height, this.cameraSeq++, this.now(), f.rgb);
    for (const c of this.conns.values()) if (c.camera) c.sendRaw(buf, false);
  }

  broadcast(obj: object): void {
    const text = JSON.stringify(obj);
    for (const c of this.conns.values()) c.sendRaw(text, true);
  }

  private onClose(conn: Connection, code: number): void {
    if (!this.conns.has(conn.id)) return;
    this.conns.delete(conn.id);
    this.audit.write('disconnect', { conn: conn.id, code });
    this.lease.onDisconnect(conn);
  }

  /** Graceful shutdown: hold the robot, roll back an unfinished recording, close every socket. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.telemetryTimer) clearInterval(this.telemetryTimer);
    if (this.cameraTimer) clearInterval(this.cameraTimer);
    const holder = this.lease.holder;
    this.lease.close();
    this.hold('shutdown');
    this.audit.write('shutdown', { holder: holder?.id ?? null });
    if (this.recorder?.active) {
      await this.recorder.discard().catch((e: Error) => this.audit.write('record_failed', { reason: 'shutdown', message: e.message }));
      this.audit.write('record_discarded', { reason: 'shutdown' });
    }
    for (const c of [...this.conns.values()]) c.shutdown();
    this.conns.clear();
    await this.driver.close();
  }
}
