/**
 * Credential redaction for everything the server writes down (audit log, stderr, names
 * shown to clients). Tokens reach the server in `?token=` query strings (the WebSocket
 * fallback for browsers), Authorization headers and URL user-info; none of them may be
 * copied into a log, where they outlive the session and are read by more people.
 */

export const REDACTED = '[redacted]';

/** Query parameter names whose values are credentials (compared case-insensitively). */
const SECRET_PARAMS = 'token|access_token|auth|authorization|key|api_key|apikey|password|passwd|pwd|secret|admin_token|admintoken';
const QUERY_RE = new RegExp(`([?&;](?:${SECRET_PARAMS})=)[^&#;\\s"']*`, 'gi');
/** `scheme://user:password@host`: the user-info part. */
const USERINFO_RE = /(\b[a-z][a-z0-9+.-]*:\/\/)[^/@\s"']+@/gi;
/** `Bearer abc`, `Basic abc` as they appear inside free text. */
const AUTH_SCHEME_RE = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g;

/** Field names whose values are credentials wherever they appear (headers, log fields). */
const SECRET_KEYS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-prts-token', 'token', 'admintoken', 'password', 'secret', 'key', 'apikey', 'api_key', 'auth', 'sec-websocket-protocol']);

/** Redacts credentials inside a string: query parameters, URL user-info, auth schemes. */
export function redactString(s: string): string {
  if (!/[?&;=@]|Bearer|Basic/.test(s)) return s;
  return s.replace(QUERY_RE, `$1${REDACTED}`).replace(USERINFO_RE, `$1${REDACTED}@`).replace(AUTH_SCHEME_RE, `$1 ${REDACTED}`);
}

/** A URL (or path with a query) with its credentials redacted. */
export function redactUrl(url: string): string {
  return redactString(url);
}

/** Headers with credential-carrying ones replaced; the rest with credentials in their values redacted. */
export function redactHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (SECRET_KEYS.has(k.toLowerCase())) out[k] = v === undefined ? v : REDACTED;
    else out[k] = Array.isArray(v) ? v.map(redactString) : typeof v === 'string' ? redactString(v) : v;
  }
  return out;
}

/**
 * Deep copy of a log record with credentials redacted: fields named like a secret are
 * replaced, strings are scrubbed. Depth-limited; log records are small and flat.
 */
export function redactFields(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object' || depth > 6) return value;
  if (Array.isArray(value)) return value.map((v) => redactFields(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = SECRET_KEYS.has(k.toLowerCase()) && v !== undefined && v !== null ? REDACTED : redactFields(v, depth + 1);
  }
  return out;
}
