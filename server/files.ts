/**
 * Safe file access under a root directory, HTTP byte ranges, and atomic writes.
 *
 * Path safety is layered: (1) the request path is checked segment by segment (no empty,
 * ".", ".." or hidden segments, no backslashes or NUL); (2) the joined path must lie
 * under the root; (3) the real path (symlinks resolved) must still lie under the real
 * root. Hidden segments are refused because temp files of in-progress atomic writes and
 * the server's own state (.prts/) start with a dot and must never be served.
 */
import { createReadStream, promises as fsp, type Stats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';

export class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

const SEGMENT_OK = /^[^\\\0/]+$/;

/** Splits and checks a relative request path. Throws HttpError(400) naming the problem. */
export function checkSegments(rel: string): string[] {
  if (rel.length === 0) throw new HttpError(400, 'bad_path', 'path: must not be empty');
  if (rel.length > 1024) throw new HttpError(400, 'bad_path', 'path: longer than 1024 characters');
  const segs = rel.split('/');
  for (const s of segs) {
    if (s === '' || s === '.' || s === '..') throw new HttpError(400, 'bad_path', 'path: empty, "." and ".." segments are not allowed');
    if (s.startsWith('.')) throw new HttpError(400, 'bad_path', 'path: hidden (dot) files are not served');
    if (!SEGMENT_OK.test(s)) throw new HttpError(400, 'bad_path', 'path: backslashes and NUL bytes are not allowed');
  }
  return segs;
}

function inside(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * Resolves `rel` under `root` for reading. Returns the real path and its stats, or
 * throws 404 (missing, a directory) / 403 (a symlink leading outside the root).
 */
export async function resolveForRead(root: string, rel: string): Promise<{ path: string; stat: Stats }> {
  const segs = checkSegments(rel);
  const realRoot = await fsp.realpath(root).catch(() => {
    throw new HttpError(404, 'not_found', 'data directory does not exist');
  });
  const joined = resolve(realRoot, ...segs);
  if (!inside(realRoot, joined)) throw new HttpError(400, 'bad_path', 'path: escapes the data directory');
  let real: string;
  try {
    real = await fsp.realpath(joined);
  } catch {
    throw new HttpError(404, 'not_found', `no such file: ${rel}`);
  }
  if (!inside(realRoot, real)) throw new HttpError(403, 'forbidden', 'path: a symbolic link leads outside the data directory');
  const stat = await fsp.stat(real);
  if (!stat.isFile()) throw new HttpError(404, 'not_found', `not a file: ${rel}`);
  return { path: real, stat };
}

/** Resolves a path for writing: the parent directories are created and must stay inside the root. */
export async function resolveForWrite(root: string, rel: string): Promise<string> {
  const segs = checkSegments(rel);
  await fsp.mkdir(root, { recursive: true });
  const realRoot = await fsp.realpath(root);
  const joined = resolve(realRoot, ...segs);
  if (!inside(realRoot, joined)) throw new HttpError(400, 'bad_path', 'path: escapes the data directory');
  await fsp.mkdir(dirname(joined), { recursive: true });
  const realParent = await fsp.realpath(dirname(joined));
  if (!inside(realRoot, realParent)) throw new HttpError(403, 'forbidden', 'path: a symbolic link leads outside the data directory');
  const target = join(realParent, segs[segs.length - 1]);
  const existing = await fsp.lstat(target).catch(() => null);
  if (existing && existing.isSymbolicLink()) throw new HttpError(403, 'forbidden', 'path: refusing to write through a symbolic link');
  if (existing && existing.isDirectory()) throw new HttpError(409, 'conflict', 'path: is a directory');
  return target;
}

export type ParsedRange =
  | { kind: 'none' }
  | { kind: 'single'; start: number; end: number }
  | { kind: 'unsatisfiable'; message: string };

/**
 * Parses a Range header against a file of `size` bytes. One range is served (206);
 * multiple ranges, malformed headers and ranges past the end are answered 416 with a
 * message, so a lazy reader never receives a whole large file it did not ask for.
 */
export function parseRange(header: string | undefined, size: number): ParsedRange {
  if (header === undefined) return { kind: 'none' };
  const m = /^\s*bytes\s*=\s*(.*)$/i.exec(header);
  if (!m) return { kind: 'unsatisfiable', message: 'Range: only the "bytes" unit is supported' };
  const specs = m[1].split(',').map((s) => s.trim()).filter((s) => s.length);
  if (specs.length === 0) return { kind: 'unsatisfiable', message: 'Range: no byte range given' };
  if (specs.length > 1) return { kind: 'unsatisfiable', message: 'Range: multiple ranges are not supported; request one range at a time' };
  const r = /^(\d*)-(\d*)$/.exec(specs[0]);
  if (!r || (r[1] === '' && r[2] === '')) return { kind: 'unsatisfiable', message: `Range: malformed byte range "${specs[0].slice(0, 40)}"` };
  if (r[1] === '') {
    const n = Number(r[2]);
    if (n === 0 || size === 0) return { kind: 'unsatisfiable', message: 'Range: empty suffix range' };
    return { kind: 'single', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(r[1]);
  const end = r[2] === '' ? size - 1 : Math.min(Number(r[2]), size - 1);
  if (r[2] !== '' && Number(r[2]) < start) return { kind: 'unsatisfiable', message: `Range: last byte ${r[2]} is before first byte ${start}` };
  if (start >= size) return { kind: 'unsatisfiable', message: `Range: first byte ${start} is past the end of the ${size}-byte file` };
  return { kind: 'single', start, end };
}

const TYPES: Record<string, string> = {
  parquet: 'application/vnd.apache.parquet',
  json: 'application/json; charset=utf-8',
  jsonl: 'application/x-ndjson; charset=utf-8',
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  wasm: 'application/wasm',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  svg: 'image/svg+xml',
  mp4: 'video/mp4',
  webm: 'video/webm',
  txt: 'text/plain; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  wgsl: 'text/plain; charset=utf-8',
  safetensors: 'application/octet-stream',
  ico: 'image/x-icon',
};

export function contentType(path: string): string {
  const ext = path.slice(path.lastIndexOf('.') + 1).toLowerCase();
  return TYPES[ext] ?? 'application/octet-stream';
}

function etagOf(stat: Stats): string {
  return `"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`;
}

/** Sends a file with Range, If-Range, ETag/If-None-Match support; HEAD gets headers only. */
export function sendFile(req: FastifyRequest, reply: FastifyReply, file: { path: string; stat: Stats }, extraHeaders: Record<string, string> = {}) {
  const { stat } = file;
  const size = stat.size;
  const etag = etagOf(stat);
  reply.header('Accept-Ranges', 'bytes');
  reply.header('ETag', etag);
  reply.header('Last-Modified', stat.mtime.toUTCString());
  reply.header('Content-Type', contentType(file.path));
  for (const [k, v] of Object.entries(extraHeaders)) reply.header(k, v);

  let rangeHeader = req.headers.range;
  const ifRange = req.headers['if-range'];
  // If-Range: serve the range only when the client's copy is current, otherwise the whole file.
  if (rangeHeader !== undefined && typeof ifRange === 'string' && ifRange !== etag && ifRange !== stat.mtime.toUTCString()) rangeHeader = undefined;
  if (rangeHeader === undefined && req.headers['if-none-match'] === etag) {
    return reply.code(304).send();
  }
  const range = parseRange(rangeHeader, size);
  const isHead = req.method === 'HEAD';
  if (range.kind === 'unsatisfiable') {
    reply.header('Content-Range', `bytes */${size}`);
    return reply.code(416).type('application/json; charset=utf-8').send({ error: 'range_not_satisfiable', message: range.message, size });
  }
  const start = range.kind === 'single' ? range.start : 0;
  const end = range.kind === 'single' ? range.end : size - 1;
  const length = size === 0 ? 0 : end - start + 1;
  if (range.kind === 'single') {
    reply.code(206);
    reply.header('Content-Range', `bytes ${start}-${end}/${size}`);
  } else {
    reply.code(200);
  }
  reply.header('Content-Length', String(length));
  if (isHead || length === 0) return reply.send();
  // Ranges the size of parquet column chunks are read with one positioned read and sent
  // as one buffer, which is markedly cheaper than a stream; big ones are streamed.
  if (length <= SMALL_READ_BYTES) return readRange(file.path, start, length).then((buf) => reply.send(buf));
  return reply.send(createReadStream(file.path, { start, end, highWaterMark: 1024 * 1024 }));
}

const SMALL_READ_BYTES = 8 << 20;

async function readRange(path: string, start: number, length: number): Promise<Buffer> {
  const fh = await fsp.open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await fh.read(buf, got, length - got, start + got);
      if (bytesRead === 0) throw new HttpError(500, 'file_changed', 'file shrank while being read');
      got += bytesRead;
    }
    return buf;
  } finally {
    await fh.close();
  }
}

/**
 * Streams `body` into `target` atomically: temp file beside it (a dot name, so it is never
 * served or listed), fsync, rename over the target, fsync the directory. A client that
 * disconnects, a body over `maxBytes` or a crash leaves at most a temp file, never a
 * truncated target.
 */
export async function writeAtomic(target: string, body: Readable, maxBytes: number): Promise<number> {
  const dir = dirname(target);
  const tmp = join(dir, `.${target.slice(dir.length + 1)}.${randomBytes(6).toString('hex')}.tmp-prts`);
  let written = 0;
  const fh = await fsp.open(tmp, 'wx', 0o644);
  try {
    for await (const chunk of body) {
      const buf = chunk as Buffer;
      written += buf.length;
      if (written > maxBytes) throw new HttpError(413, 'too_large', `body: larger than the ${maxBytes}-byte upload limit`);
      for (let off = 0; off < buf.length; ) off += (await fh.write(buf, off, buf.length - off)).bytesWritten;
    }
    await fh.sync();
    await fh.close();
    await fsp.rename(tmp, target);
    await fsyncDir(dir);
    return written;
  } catch (e) {
    await fh.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}

export async function fsyncDir(dir: string): Promise<void> {
  const h = await fsp.open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}
