/**
 * Robot bridge wire protocol (documented in docs/robot-protocol.md). Text frames carry
 * JSON; every client message is validated by the zod schema of its `op` before anything
 * acts on it. JSON.parse is used without a reviver and the result is only ever read as
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

export interface ErrorMessage {
  type: 'error';
  code: ErrorCode;
  message: string;
  field?: string;
  op?: string;
  seq?: number;
}

export interface AckMessage {
  type: 'ack';
  op: string;
  seq?: number;
  clamps?: Clamp[];
}

export type ParseResult = { ok: true; msg: ClientMessage } | { ok: false; error: ErrorMessage };

/** Parses one text frame. Errors name the field and the problem. */
export function parseClientMessage(text: string): ParseResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: { type: 'error', code: 'bad_json', message: `not valid JSON: ${(e as Error).message}` } };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, error: { type: 'error', code: 'bad_message', field: '(root)', message: 'expected a JSON object with an "op" field' } };
  }
  const obj = raw as Record<string, unknown>;
  const seqField = typeof obj.seq === 'number' && Number.isSafeInteger(obj.seq) ? obj.seq : undefined;
  if (typeof obj.op !== 'string') {
    return { ok: false, error: { type: 'error', code: 'bad_message', field: 'op', seq: seqField, message: 'op: expected a string' } };
  }
  if (!Object.prototype.hasOwnProperty.call(ClientSchemas, obj.op)) {
    return {
      ok: false,
      error: { type: 'error', code: 'unknown_op', field: 'op', op: obj.op.slice(0, 64), seq: seqField, message: `unknown op ${JSON.stringify(obj.op.slice(0, 64))}; expected one of ${Object.keys(ClientSchemas).join(', ')}` },
    };
  }
  const op = obj.op as ClientOp;
  const r = ClientSchemas[op].safeParse(obj);
  if (!r.success) {
    const first = r.error.issues[0];
    const field = first.path.length ? first.path.join('.') : first.code === 'unrecognized_keys' ? (first as { keys: string[] }).keys.join(',') : '(root)';
    const message = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ');
    return { ok: false, error: { type: 'error', code: 'bad_message', op, field, seq: seqField, message } };
  }
  return { ok: true, msg: r.data as ClientMessage };
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
