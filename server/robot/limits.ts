/**
 * Budgets and timers for the robot bridge: token buckets (messages, bytes, parse time,
 * commands), a cheaply re-armable deadline, and the per-connection send-buffer cap.
 * Leaf module: imports nothing from the bridge.
 */
import { totalmem } from 'node:os';

/**
 * A token bucket of `rate` units a second holding at most `burst`. `take` spends only
 * when enough is there; `charge` spends after the fact (for costs known only afterwards,
 * like parse time) and may drive the balance negative, which then has to be earned back.
 */
export class TokenBucket {
  private tokens: number;
  private last = performance.now();
  constructor(private readonly rate: number, private readonly burst: number) {
    this.tokens = burst;
  }
  private refill(now: number): void {
    if (now > this.last) this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
  }
  take(now: number, n = 1): boolean {
    this.refill(now);
    if (this.tokens >= n) {
      this.tokens -= n;
      return true;
    }
    return false;
  }
  charge(now: number, n: number): void {
    this.refill(now);
    this.tokens -= n;
  }
  /** Balance after refilling to `now` (may be negative after `charge`). */
  balance(now: number): number {
    this.refill(now);
    return this.tokens;
  }
  /** Milliseconds until `n` units are available. */
  msUntil(now: number, n: number): number {
    this.refill(now);
    return n <= this.tokens ? 0 : ((n - this.tokens) * 1000) / this.rate;
  }
}

/**
 * A one-shot timer that can be pushed back cheaply. `refresh()` on a pending timer moves
 * its deadline without allocating, which matters at 100 commands a second; a fired or
 * disarmed timer is replaced by a new one (Node does not revive a cleared timer).
 */
export class Deadline {
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

export const SEND_BUFFER_FLOOR = 256 << 10;
export const SEND_BUFFER_CEILING = 4 << 20;
/** Share of the machine's memory that all connections' send buffers together may take. */
const SEND_BUFFER_MEMORY_SHARE = 1 / 64;

/**
 * Per-connection send-buffer cap: a client whose unsent bytes pass it is not reading and
 * is closed. A fixed 32 MiB was 8 GB at 256 connections; this gives all connections
 * together at most 1/64 of the machine's memory, kept between 256 KiB (a few camera
 * frames and a second of telemetry, so a briefly slow reader survives) and 4 MiB.
 */
export function defaultSendBufferCap(maxConnections: number, memBytes = totalmem()): number {
  const share = Math.floor((memBytes * SEND_BUFFER_MEMORY_SHARE) / Math.max(1, maxConnections));
  return Math.min(SEND_BUFFER_CEILING, Math.max(SEND_BUFFER_FLOOR, share));
}
