/**
 * The control lease and the watchdog. One connection at a time holds the lease; only its
 * motion commands reach the driver. The holder renews the lease with every command or
 * heartbeat; silence for `watchdogMs` holds the robot, silence for `leaseTimeoutMs`
 * releases the lease. Losing or changing the lease always holds the robot: a new
 * controller starts from a robot at rest, never from the previous one's motion.
 */
import type { AuditLog } from '../audit.ts';
import type { SafetyConfig } from '../config.ts';
import type { Connection } from './connection.ts';
import { Deadline } from './limits.ts';

export interface LeaseHooks {
  audit: AuditLog;
  hold(reason: string): void;
  broadcast(obj: object): void;
  discardRecording(reason: string): void;
  /** The holder went quiet for watchdogMs. */
  onWatchdog(holder: Connection, silentMs: number): void;
}

export class LeaseManager {
  private holderConn: Connection | null = null;
  /** Highest seq accepted from the current holder; restarts with every lease. */
  lastSeq = -1;
  private lastActivity = 0;
  private readonly watchdogTimer: Deadline;
  private readonly leaseTimer: Deadline;

  constructor(private readonly safety: SafetyConfig, private readonly hooks: LeaseHooks) {
    this.watchdogTimer = new Deadline(safety.watchdogMs, () => this.onWatchdog());
    this.leaseTimer = new Deadline(safety.leaseTimeoutMs, () => this.onLeaseTimeout());
  }

  get holder(): Connection | null {
    return this.holderConn;
  }

  request(conn: Connection, seq?: number): void {
    if (this.holderConn === conn) {
      this.renew();
      conn.send({ type: 'ack', op: 'lease_request', seq });
      return;
    }
    if (this.holderConn) {
      this.hooks.audit.write('lease_denied', { conn: conn.id, holder: this.holderConn.id });
      return conn.sendError('lease_held', `the lease is held by ${this.holderConn.id}${conn.role === 'admin' ? '; use takeover' : ''}`, { op: 'lease_request', seq });
    }
    this.grant(conn, 'granted');
    conn.send({ type: 'ack', op: 'lease_request', seq });
  }

  release(conn: Connection, seq?: number): void {
    if (this.holderConn !== conn) return conn.sendError('not_controller', 'you do not hold the lease', { op: 'lease_release', seq });
    this.releaseLease('released');
    conn.send({ type: 'ack', op: 'lease_release', seq });
  }

  takeover(conn: Connection, seq?: number): void {
    if (conn.role !== 'admin') {
      this.hooks.audit.write('refused', { conn: conn.id, op: 'takeover', code: 'forbidden' });
      return conn.sendError('forbidden', 'takeover needs the admin token', { op: 'takeover', seq });
    }
    const prev = this.holderConn;
    if (prev && prev !== conn) {
      this.hooks.discardRecording('lease_takeover');
      prev.send({ type: 'lease', holder: conn.id, reason: 'revoked', by: conn.id });
    }
    this.grant(conn, prev && prev !== conn ? 'takeover' : 'granted', prev?.id);
    conn.send({ type: 'ack', op: 'takeover', seq });
  }

  private grant(conn: Connection, reason: string, from?: string): void {
    this.holderConn = conn;
    this.lastSeq = -1;
    this.hooks.hold('lease_change');
    this.renew();
    this.leaseTimer.arm();
    this.hooks.audit.write('lease', { conn: conn.id, role: conn.role, reason, from: from ?? null });
    this.hooks.broadcast({ type: 'lease', holder: conn.id, role: conn.role, reason });
  }

  releaseLease(reason: string): void {
    const prev = this.holderConn;
    if (!prev) return;
    this.hooks.discardRecording(`lease_${reason}`);
    this.holderConn = null;
    this.watchdogTimer.disarm();
    this.leaseTimer.disarm();
    this.hooks.hold(`lease_${reason}`);
    this.hooks.audit.write('lease', { conn: prev.id, role: prev.role, reason });
    this.hooks.broadcast({ type: 'lease', holder: null, reason, previous: prev.id });
  }

  renew(): void {
    this.lastActivity = performance.now();
    this.watchdogTimer.arm();
    this.leaseTimer.arm();
  }

  /** The connection is gone: a holder that vanished loses the lease (and the robot holds). */
  onDisconnect(conn: Connection): void {
    if (this.holderConn === conn) this.releaseLease('disconnected');
  }

  private onWatchdog(): void {
    if (!this.holderConn) return;
    this.hooks.onWatchdog(this.holderConn, Math.round(performance.now() - this.lastActivity));
  }

  private onLeaseTimeout(): void {
    if (!this.holderConn) return;
    const silent = performance.now() - this.lastActivity;
    if (silent + 1 < this.safety.leaseTimeoutMs) {
      this.leaseTimer.arm();
      return;
    }
    const h = this.holderConn;
    this.releaseLease('expired');
    h.send({ type: 'lease', holder: null, reason: 'expired' });
  }

  /** Shutdown: stop the timers and forget the holder without the usual hold and events. */
  close(): void {
    this.watchdogTimer.disarm();
    this.leaseTimer.disarm();
    this.holderConn = null;
  }
}
