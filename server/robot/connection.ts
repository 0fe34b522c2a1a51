/**
 * One robot WebSocket connection: what it may cost the server coming in, and what it may
 * queue going out. Every inbound message passes three per-connection budgets before it is
 * decoded or parsed (messages/s, bytes/s, parse ms/s), so one client's traffic, however
 * large, costs the event loop a bounded amount and cannot delay another client's e-stop,
 * heartbeat or health request (issue 16). Outbound, a client that stops reading is closed
 * once its unsent bytes pass the send-buffer cap, so it cannot grow server memory.
 *
 * The bridge sees only parse results; the robot decisions stay there.
 */
import type { RawData, WebSocket } from 'ws';
import type { AuditLog } from '../audit.ts';
import type { SafetyConfig } from '../config.ts';
import { boundedError, MAX_MESSAGE_BYTES, parseClientMessage, type DropReport, type ErrorCode, type ParseResult } from './protocol.ts';
import { TokenBucket } from './limits.ts';

export type Role = 'operator' | 'admin';

export interface ConnectionLimits {
  safety: SafetyConfig;
  maxPayloadBytes: number;
  /** Unsent bytes past which the client is closed as not reading. */
  sendBufferCap: number;
}

export interface ConnectionHandlers {
  onMessage(conn: Connection, r: ParseResult, now: number): void;
  onClose(conn: Connection, code: number): void;
  /** A handler threw: the bridge holds the robot. */
  onInternalError(conn: Connection, e: Error): void;
}

type DropLimit = 'messages' | 'bytes' | 'parse' | 'commands';

interface PendingDrops {
  count: number;
  seqFrom?: number;
  seqTo?: number;
  seqs: number[];
  seqsTruncated: boolean;
  limits: Set<DropLimit>;
  op?: string;
}

/** Rate-limit errors are aggregated: at most one report per connection per this long. */
const DROP_REPORT_MS = 250;
const MAX_LISTED_SEQS = 32;
/** A parse cost above this is the process being descheduled, not the message; it is not charged. */
const MAX_PARSE_CHARGE_MS = 5;
/** E-stops let through while a connection is over its budgets. */
const ESTOP_BYPASS_RATE = 5;
const ESTOP_BYPASS_BURST = 10;
const ESTOP_HINT = /"op"\s*:\s*"estop"/;
const SEQ_HINT = /"seq"\s*:\s*(\d{1,15})(?![\d.eE])/;
/** Only this much of a dropped message is looked at, for its seq or an e-stop op. */
const PEEK_BYTES = 512;
/** Non-essential traffic (telemetry, camera) is skipped above this share of the send-buffer cap. */
const SLOW_CLIENT_SHARE = 0.5;
const SLOW_CLIENT_MAX = 1 << 20;

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data as ArrayBuffer);
}

function peek(buf: Buffer): string {
  return buf.toString('latin1', 0, Math.min(buf.length, PEEK_BYTES));
}

export class Connection {
  camera = false;
  closed = false;
  /** Motion commands/s (the bridge spends it; drops are reported through noteDrop). */
  readonly cmdBucket: TokenBucket;
  private readonly msgBucket: TokenBucket;
  private readonly byteBucket: TokenBucket;
  private readonly parseBucket: TokenBucket;
  private readonly estopBucket = new TokenBucket(ESTOP_BYPASS_RATE, ESTOP_BYPASS_BURST);
  private floodWindowStart = performance.now();
  private floodDrops = 0;
  private pending: PendingDrops | null = null;
  private lastDropReport = -Infinity;
  private dropTimer: NodeJS.Timeout | null = null;
  private resumeTimer: NodeJS.Timeout | null = null;
  private readonly slowBytes: number;

  constructor(
    readonly id: string,
    readonly ws: WebSocket,
    readonly role: Role,
    readonly remote: string,
    private readonly limits: ConnectionLimits,
    private readonly audit: AuditLog,
    private readonly handlers: ConnectionHandlers,
  ) {
    const s = limits.safety;
    this.msgBucket = new TokenBucket(s.messageRateHz, s.messageBurst);
    this.cmdBucket = new TokenBucket(s.commandRateHz, s.commandBurst);
    // A single message of the largest allowed size must always be able to pass eventually.
    this.byteBucket = new TokenBucket(s.inboundBytesPerSec, Math.max(s.inboundByteBurst, limits.maxPayloadBytes));
    this.parseBucket = new TokenBucket(s.parseMsPerSec, s.parseBurstMs);
    this.slowBytes = Math.min(SLOW_CLIENT_MAX, Math.floor(limits.sendBufferCap * SLOW_CLIENT_SHARE));
    ws.on('message', (data, isBinary) => {
      try {
        this.receive(data, isBinary);
      } catch (e) {
        // A bug must not take the process (and every other client) down.
        handlers.onInternalError(this, e as Error);
      }
    });
    ws.on('close', (code) => this.onSocketClose(code));
    ws.on('error', (e) => audit.write('socket_error', { conn: id, message: e.message }));
  }

  private receive(data: RawData, isBinary: boolean): void {
    if (this.closed) return;
    const now = performance.now();
    const buf = toBuffer(data);
    let over: DropLimit | null = null;
    if (!this.msgBucket.take(now)) over = 'messages';
    else if (!this.byteBucket.take(now, buf.length)) over = 'bytes';
    else if (this.parseBucket.balance(now) < 0) over = 'parse';
    const tooBig = buf.length > MAX_MESSAGE_BYTES;
    let estop = false;
    if (over || tooBig) {
      const head = isBinary ? '' : peek(buf);
      // An e-stop gets through a connection's own flood, within a small budget of its own.
      estop = ESTOP_HINT.test(head) && this.estopBucket.take(now);
      if (!estop) {
        const m = SEQ_HINT.exec(head);
        const seq = m ? Number(m[1]) : undefined;
        if (over) {
          this.noteDrop(over, now, seq);
          if (over === 'bytes') this.throttle(now, buf.length);
        } else {
          this.sendError('bad_message', `message is ${buf.length} bytes; no valid message is over ${MAX_MESSAGE_BYTES} bytes (not parsed)`, { seq }, '(root)');
        }
        return;
      }
    }
    if (isBinary) {
      this.sendError('binary_not_accepted', 'binary frames are not accepted from clients; send JSON text frames');
      return;
    }
    const t0 = performance.now();
    const r = parseClientMessage(buf.toString('utf8'));
    const t1 = performance.now();
    this.parseBucket.charge(t1, Math.min(MAX_PARSE_CHARGE_MS, t1 - t0));
    this.handlers.onMessage(this, r, now);
  }

  /**
   * Stops reading the socket until the byte budget has refilled. Frames then wait in the
   * kernel and the sender's socket fills up: the flood is paid for by the flooder, not by
   * the event loop (reading and discarding 116 MB/s cost more than the other clients had).
   */
  private throttle(now: number, len: number): void {
    if (this.resumeTimer || this.closed) return;
    const ms = Math.min(1000, Math.max(10, this.byteBucket.msUntil(now, Math.min(len, this.limits.maxPayloadBytes))));
    this.ws.pause();
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = null;
      if (!this.closed) this.ws.resume();
    }, ms);
  }

  /**
   * Records a message dropped for a budget. Every drop is counted in exactly one
   * `rate_limited` report, which names the seqs dropped (a range, and the list when short).
   */
  noteDrop(limit: DropLimit, now: number, seq?: number, op?: string): void {
    const d = (this.pending ??= { count: 0, seqs: [], seqsTruncated: false, limits: new Set() });
    d.count++;
    d.limits.add(limit);
    if (op) d.op = op;
    if (seq !== undefined) {
      d.seqFrom = d.seqFrom === undefined ? seq : Math.min(d.seqFrom, seq);
      d.seqTo = d.seqTo === undefined ? seq : Math.max(d.seqTo, seq);
      if (d.seqs.length < MAX_LISTED_SEQS) d.seqs.push(seq);
      else d.seqsTruncated = true;
    }
    if (limit === 'messages') {
      if (now - this.floodWindowStart > 1000) {
        this.floodWindowStart = now;
        this.floodDrops = 0;
      }
      if (++this.floodDrops >= this.limits.safety.floodCloseAfter) {
        this.audit.write('flood_close', { conn: this.id, dropped: this.floodDrops });
        this.close(1008, 'message rate limit exceeded');
        return;
      }
    }
    if (now - this.lastDropReport >= DROP_REPORT_MS) this.flushDrops();
    else this.dropTimer ??= setTimeout(() => this.flushDrops(), DROP_REPORT_MS - (now - this.lastDropReport));
  }

  private describeLimit(l: DropLimit): string {
    const s = this.limits.safety;
    switch (l) {
      case 'messages':
        return `more than ${s.messageRateHz} messages/s`;
      case 'bytes':
        return `more than ${s.inboundBytesPerSec} bytes/s`;
      case 'parse':
        return `more than ${s.parseMsPerSec} ms/s of parsing`;
      case 'commands':
        return `more than ${s.commandRateHz} commands/s`;
    }
  }

  private flushDrops(): void {
    if (this.dropTimer) clearTimeout(this.dropTimer);
    this.dropTimer = null;
    const d = this.pending;
    if (!d) return;
    this.pending = null;
    this.lastDropReport = performance.now();
    const limits = [...d.limits];
    const dropped: DropReport = { count: d.count, limits };
    let seqText = 'none carried a seq';
    if (d.seqFrom !== undefined) {
      dropped.seqFrom = d.seqFrom;
      dropped.seqTo = d.seqTo;
      if (!d.seqsTruncated) dropped.seqs = d.seqs;
      seqText = d.seqFrom === d.seqTo ? `seq ${d.seqFrom}` : `seq ${d.seqFrom}-${d.seqTo}`;
    }
    const message = `${d.count} ${d.count === 1 ? 'message' : 'messages'} dropped (${limits.map((l) => this.describeLimit(l)).join('; ')}): ${seqText}`;
    // One audit line per report, not one per dropped message.
    this.audit.write('refused', { conn: this.id, code: 'rate_limited', op: d.op, count: d.count, seqFrom: d.seqFrom, seqTo: d.seqTo, limits });
    if (this.closed) return;
    const e = boundedError('rate_limited', message, { op: d.op, seq: d.seqTo });
    e.dropped = dropped;
    this.send(e);
  }

  send(obj: object): void {
    this.sendRaw(JSON.stringify(obj), true);
  }

  sendError(code: ErrorCode, message: string, ref?: { op?: string; seq?: number }, field?: string): void {
    this.send(boundedError(code, message, ref, field));
  }

  /**
   * `essential` messages (acks, errors, lease and safety events) are never skipped for
   * slowness; a client is closed instead once its unsent bytes pass the cap.
   */
  sendRaw(data: string | Buffer, essential: boolean): boolean {
    if (this.closed || this.ws.readyState !== 1) return false;
    const buffered = this.ws.bufferedAmount;
    if (buffered > this.limits.sendBufferCap) {
      this.audit.write('slow_client_close', { conn: this.id, buffered, cap: this.limits.sendBufferCap });
      this.close(1008, 'client is not reading; closed');
      return false;
    }
    if (!essential && buffered > this.slowBytes) return false;
    this.ws.send(data);
    return true;
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.ws.close(code, reason);
    } catch {
      this.ws.terminate();
    }
    // Do not wait for the closing handshake to act: a flooding or stuck controller loses the robot now.
    this.onSocketClose(code);
    setTimeout(() => this.ws.terminate(), 1000).unref();
  }

  /** Shutdown: no handshake wait, no callbacks. */
  shutdown(): void {
    this.closed = true;
    this.clearTimers();
    try {
      this.ws.close(1001, 'server shutting down');
    } catch {
      this.ws.terminate();
    }
  }

  private clearTimers(): void {
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.resumeTimer = null;
    if (this.dropTimer) clearTimeout(this.dropTimer);
    this.dropTimer = null;
  }

  private onSocketClose(code: number): void {
    this.closed = true;
    if (this.pending) this.flushDrops();
    this.clearTimers();
    this.handlers.onClose(this, code);
  }
}
