/**
 * Robot bridge wire protocol (documented in docs/robot-protocol.md). Text frames carry
 * JSON; every client message is validated by the zod schema of its `op` before anything
 * acts on it (the one exception, `estop`, is read leniently: see lenientEstop). JSON.parse is used without a reviver and the result is only ever read as
 * data, so nothing from the wire can become code.
 */
import { z } from 'zod';
import type { Clamp } from './safety.ts';

export const PROTOCOL_VERSION = 1;
export const SUBPROTOCOL = 'prts.v1';
export const TOKEN_SUBPROTOCOL_PREFIX = 'prts-token.';

// zod 4 numbers already reject NaN and +-Infinity (JSON's 1e999 parses to Infinity);
// the magnitude bound keeps absurd values out of arithmetic before clamping.
const num = z.number().refine((v) => Math.abs(v) <= 1e6, 'must be within +-1e6');
const seq = z.number().int('must be an integer').min(0, 'must be >= 0').max(Number.MAX_SAFE_INTEGER);
const optSeq = seq.optional();

export const ClientSchemas = {
  heartbeat: z.object({ op: z.literal('heartbeat'), seq: optSeq }).strict(),
  lease_request: z.object({ op: z.literal('lease_request'), seq: optSeq }).strict(),
  lease_release: z.object({ op: z.literal('lease_release'), seq: optSeq }).strict(),
  takeover: z.object({ op: z.literal('takeover'), seq: optSeq }).strict(),
  ee_delta: z
    .object({
      op: z.literal('ee_delta'),
      seq,
      delta: z.array(num).length(7, 'expected exactly 7 numbers [dx, dy, dz, drx, dry, drz, gripper]'),
    })
    .strict(),
  joint_target: z
    .object({ op: z.literal('joint_target'), seq, q: z.array(num).min(1).max(64), gripper: num.optional() })
    .strict(),
  gripper: z.object({ op: z.literal('gripper'), seq, value: num }).strict(),
  // Documents the message; parseClientMessage reads estop through lenientEstop instead.
  estop: z.object({ op: z.literal('estop'), seq: optSeq, reason: z.string().max(200).optional() }).strict(),
  reset_estop: z.object({ op: z.literal('reset_estop'), seq: optSeq }).strict(),
  reset_scene: z.object({ op: z.literal('reset_scene'), seq: optSeq }).strict(),
  subscribe: z.object({ op: z.literal('subscribe'), seq: optSeq, camera: z.boolean() }).strict(),
  record_start: z
    .object({
      op: z.literal('record_start'),
      seq: optSeq,
      task: z.string().trim().min(1, 'must not be empty').max(500),
      dataset: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'must be 1-64 letters, digits, _ or - (starting with a letter or digit)').optional(),
    })
    .strict(),
  record_stop: z.object({ op: z.literal('record_stop'), seq: optSeq }).strict(),
  record_discard: z.object({ op: z.literal('record_discard'), seq: optSeq }).strict(),
} as const;

export type ClientOp = keyof typeof ClientSchemas;
export type ClientMessage = { [K in ClientOp]: z.infer<(typeof ClientSchemas)[K]> }[ClientOp];
export const MOTION_OPS = new Set<ClientOp>(['ee_delta', 'joint_target', 'gripper']);

export type ErrorCode =
  | 'bad_json'
  | 'bad_message'
  | 'unknown_op'
  | 'binary_not_accepted'
  | 'rate_limited'
  | 'not_controller'
  | 'lease_held'
  | 'forbidden'
  | 'estopped'
  | 'robot_unavailable'
  | 'stale_seq'
  | 'unsupported'
  | 'recording'
  | 'internal';

/** A problem with one field of a message that was acted on anyway (an e-stop always latches). */
export interface FieldWarning {
  field: string;
  message: string;
}

/** Which messages a `rate_limited` error is about: every dropped message is counted in exactly one report. */
export interface DropReport {
  count: number;
  /** Lowest and highest seq among the dropped messages that carried one. */
  seqFrom?: number;
  seqTo?: number;
  /** The dropped seqs themselves, when there are few enough to list. */
  seqs?: number[];
  /** Which budgets were exceeded, e.g. ["bytes"] or ["messages", "commands"]. */
  limits: string[];
}

export interface ErrorMessage {
  type: 'error';
  code: ErrorCode;
  message: string;
  field?: string;
  op?: string;
  seq?: number;
  dropped?: DropReport;
}

export interface AckMessage {
  type: 'ack';
  op: string;
  seq?: number;
  clamps?: Clamp[];
  warnings?: FieldWarning[];
}

export type ParseResult = { ok: true; msg: ClientMessage; warnings: FieldWarning[] } | { ok: false; error: ErrorMessage };

/**
 * Error replies are bounded so that a client cannot make the server write more than it
 * sent (a 29 KB message of unknown keys used to come back as a 40 KB error listing them),
 * and they only ever name schema fields and identifier-like names, never raw input.
 */
export const MAX_ERROR_MESSAGE_CHARS = 300;
const MAX_FIELD_CHARS = 64;
/**
 * The largest valid message is about 3.3 KB (record_start with a 500-character task, all
 * escaped); anything over this is refused unparsed, whatever maxPayloadBytes allows.
 */
export const MAX_MESSAGE_BYTES = 16 * 1024;
/** No op takes more than 5 fields; anything with more is refused before schema validation. */
export const MAX_FIELDS = 8;
const ESTOP_REASON_MAX = 200;
const SAFE_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,31}$/;

function cap(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

export function boundedError(code: ErrorCode, message: string, ref?: { op?: string; seq?: number }, field?: string): ErrorMessage {
  const e: ErrorMessage = { type: 'error', code, message: cap(message, MAX_ERROR_MESSAGE_CHARS) };
  if (field) e.field = cap(field, MAX_FIELD_CHARS);
  if (ref?.op) e.op = cap(ref.op, 32);
  if (ref?.seq !== undefined) e.seq = ref.seq;
  return e;
}

/** Names of unknown keys safe to repeat back (identifier-like, short), plus how many there were. */
function describeUnknown(keys: string[]): { field: string; message: string } {
  const safe = keys.filter((k) => SAFE_NAME.test(k)).slice(0, 3);
  const more = keys.length - safe.length;
  const listed = safe.map((k) => `"${k}"`).join(', ');
  const message =
    keys.length === 1
      ? `unknown field${safe.length ? ` ${listed}` : ''}`
      : `${keys.length} unknown fields${safe.length ? ` (${listed}${more > 0 ? ` and ${more} more` : ''})` : ''}`;
  return { field: safe[0] ?? '(root)', message };
}

/** The V8 parser's message quotes the input; keep only the kind of error and where it is. */
function jsonErrorMessage(e: unknown): string {
  const m = e instanceof Error ? e.message : '';
  if (/^Unexpected end of JSON input/.test(m)) return 'not valid JSON: unexpected end of input';
  const pos = /at position (\d+)/.exec(m);
  return pos ? `not valid JSON: syntax error at character ${pos[1]}` : 'not valid JSON';
}

/**
 * An e-stop latches whatever else is wrong with the message: a stop button that can be
 * refused over a bad `reason` is not a stop button. Bad fields are reported as warnings
 * in the ack, after the robot has been stopped.
 */
function lenientEstop(obj: Record<string, unknown>): ParseResult {
  const warnings: FieldWarning[] = [];
  let seq: number | undefined;
  if (obj.seq !== undefined) {
    if (typeof obj.seq === 'number' && Number.isSafeInteger(obj.seq) && obj.seq >= 0) seq = obj.seq;
    else warnings.push({ field: 'seq', message: 'seq: must be an integer >= 0; ignored' });
  }
  let reason: string | undefined;
  if (obj.reason !== undefined) {
    if (typeof obj.reason !== 'string') warnings.push({ field: 'reason', message: `reason: expected a string, got ${obj.reason === null ? 'null' : Array.isArray(obj.reason) ? 'array' : typeof obj.reason}; ignored` });
    else if (obj.reason.length > ESTOP_REASON_MAX) {
      reason = obj.reason.slice(0, ESTOP_REASON_MAX);
      warnings.push({ field: 'reason', message: `reason: longer than ${ESTOP_REASON_MAX} characters (${obj.reason.length}); truncated` });
    } else reason = obj.reason;
  }
  const unknown: string[] = [];
  for (const k in obj) if (k !== 'op' && k !== 'seq' && k !== 'reason') unknown.push(k);
  if (unknown.length) {
    const d = describeUnknown(unknown);
    warnings.push({ field: d.field, message: `${d.message}; ignored` });
  }
  const msg: ClientMessage = { op: 'estop', seq, reason };
  if (seq === undefined) delete (msg as { seq?: number }).seq;
  if (reason === undefined) delete (msg as { reason?: string }).reason;
  return { ok: true, msg, warnings };
}

/** Parses one text frame. Errors name the field and the problem, never echo the input. */
export function parseClientMessage(text: string): ParseResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: boundedError('bad_json', jsonErrorMessage(e)) };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, error: boundedError('bad_message', 'expected a JSON object with an "op" field', undefined, '(root)') };
  }
  const obj = raw as Record<string, unknown>;
  const seqField = typeof obj.seq === 'number' && Number.isSafeInteger(obj.seq) ? obj.seq : undefined;
  if (typeof obj.op !== 'string') {
    return { ok: false, error: boundedError('bad_message', 'op: expected a string', { seq: seqField }, 'op') };
  }
  if (obj.op === 'estop') return lenientEstop(obj);
  if (!Object.prototype.hasOwnProperty.call(ClientSchemas, obj.op)) {
    const named = SAFE_NAME.test(obj.op) ? obj.op : undefined;
    return {
      ok: false,
      error: boundedError('unknown_op', `unknown op${named ? ` "${named}"` : ''}; expected one of ${Object.keys(ClientSchemas).join(', ')}`, { op: named, seq: seqField }, 'op'),
    };
  }
  const op = obj.op as ClientOp;
  const keys = Object.keys(obj);
  if (keys.length > MAX_FIELDS) {
    // Checked before zod, whose strict-object error would list every unknown key.
    const shape = ClientSchemas[op].shape as Record<string, unknown>;
    const unknown = keys.filter((k) => !Object.prototype.hasOwnProperty.call(shape, k));
    const d = describeUnknown(unknown);
    return { ok: false, error: boundedError('bad_message', `more than ${MAX_FIELDS} fields: ${d.message}`, { op, seq: seqField }, d.field) };
  }
  const r = ClientSchemas[op].safeParse(obj);
  if (!r.success) {
    const issues = r.error.issues.slice(0, 3).map((i) => {
      if (i.code === 'unrecognized_keys') return describeUnknown((i as { keys: string[] }).keys);
      const path = i.path.length ? i.path.map(String).join('.') : '(root)';
      return { field: path, message: `${path}: ${i.message}` };
    });
    const more = r.error.issues.length - issues.length;
    const message = issues.map((i) => i.message).join('; ') + (more > 0 ? `; and ${more} more problems` : '');
    return { ok: false, error: boundedError('bad_message', message, { op, seq: seqField }, issues[0].field) };
  }
  return { ok: true, msg: r.data as ClientMessage, warnings: [] };
}

/**
 * Binary camera frame: a 24-byte little-endian header followed by packed RGB bytes.
 *   0  4 bytes  magic "PRTC"
 *   4  u8       header version (1)
 *   5  u8       pixel format (1 = RGB8)
 *   6  u16      camera index
 *   8  u16      width
 *  10  u16      height
 *  12  u32      frame sequence number
 *  16  f64      server time, ms since server start
 *  24  width*height*3 bytes RGB, row-major, top row first
 */
export const CAMERA_HEADER_BYTES = 24;
export const CAMERA_MAGIC = 0x43545250; // "PRTC" read as little-endian u32

export function encodeCameraFrame(camera: number, width: number, height: number, frameSeq: number, tMs: number, rgb: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(CAMERA_HEADER_BYTES + rgb.byteLength);
  buf.writeUInt32LE(CAMERA_MAGIC, 0);
  buf.writeUInt8(1, 4);
  buf.writeUInt8(1, 5);
  buf.writeUInt16LE(camera, 6);
  buf.writeUInt16LE(width, 8);
  buf.writeUInt16LE(height, 10);
  buf.writeUInt32LE(frameSeq >>> 0, 12);
  buf.writeDoubleLE(tMs, 16);
  buf.set(rgb, CAMERA_HEADER_BYTES);
  return buf;
}

export function decodeCameraFrame(data: Uint8Array) {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data.byteLength < CAMERA_HEADER_BYTES || dv.getUint32(0, true) !== CAMERA_MAGIC) throw new Error('not a PRTC camera frame');
  const width = dv.getUint16(8, true);
  const height = dv.getUint16(10, true);
  return {
    version: dv.getUint8(4),
    format: dv.getUint8(5),
    camera: dv.getUint16(6, true),
    width,
    height,
    seq: dv.getUint32(12, true),
    t: dv.getFloat64(16, true),
    rgb: data.subarray(CAMERA_HEADER_BYTES, CAMERA_HEADER_BYTES + width * height * 3),
  };
}
