/**
 * Tokens and origins. Tokens are compared through SHA-256 digests with timingSafeEqual,
 * so neither the length nor the content of a guess leaks through response timing.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { TOKEN_SUBPROTOCOL_PREFIX } from './robot/protocol.ts';
import type { Role } from './robot/connection.ts';

export function generateToken(): string {
  return randomBytes(24).toString('base64url');
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export function tokenEquals(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  return timingSafeEqual(digest(given), digest(expected));
}

export interface Tokens {
  token: string;
  adminToken: string;
}

export function roleForToken(given: string | undefined, t: Tokens): Role | null {
  // Evaluate both comparisons unconditionally so the admin check costs the same either way.
  const admin = tokenEquals(given, t.adminToken);
  const op = tokenEquals(given, t.token);
  return admin ? 'admin' : op ? 'operator' : null;
}

/** Token from `Authorization: Bearer`, `X-PRTS-Token`, for HTTP routes. */
export function httpToken(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const x = req.headers['x-prts-token'];
  return typeof x === 'string' ? x : undefined;
}

/**
 * Token for the WebSocket upgrade. Browsers cannot set headers on a WebSocket, so the
 * token may also come as a subprotocol `prts-token.<token>` (next to `prts.v1`), or, as
 * a last resort, as `?token=` in the URL (which can end up in proxy logs; prefer the
 * subprotocol).
 */
export function wsToken(req: IncomingMessage, url: URL): string | undefined {
  const h = httpToken(req);
  if (h) return h;
  const protos = req.headers['sec-websocket-protocol'];
  if (typeof protos === 'string') {
    for (const p of protos.split(',').map((s) => s.trim())) {
      if (p.startsWith(TOKEN_SUBPROTOCOL_PREFIX)) return p.slice(TOKEN_SUBPROTOCOL_PREFIX.length);
    }
  }
  return url.searchParams.get('token') ?? undefined;
}

/** The server's own origins (what a browser sends when the app was loaded from this server) plus configured extras. */
export function allowedOrigins(host: string, port: number, extra: string[]): Set<string> {
  const set = new Set<string>(extra.map((o) => o.toLowerCase()));
  const hosts = new Set(['127.0.0.1', 'localhost', '[::1]']);
  if (host !== '0.0.0.0' && host !== '::') hosts.add(host.includes(':') && !host.startsWith('[') ? `[${host}]` : host);
  for (const h of hosts) set.add(`http://${h}:${port}`.toLowerCase());
  return set;
}

/**
 * A request without an Origin header does not come from a browser page (curl, Node,
 * Python clients); it still needs the token. A browser always sends Origin on WebSocket
 * upgrades and cross-origin writes, so a page from another site is refused here even if
 * it somehow learned the token.
 */
export function originAllowed(origin: string | undefined, allowed: Set<string>): boolean {
  if (origin === undefined) return true;
  return allowed.has(origin.toLowerCase());
}
