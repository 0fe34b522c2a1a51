/**
 * Dataset HTTP API over the data directory. A dataset is a directory directly under the
 * data directory that holds meta/info.json (LeRobot v3.0 or v2.1). Files are served with
 * byte ranges so the browser reads parquet lazily; writes are token-protected and atomic.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { asyncBufferFromFile, parquetReadObjects, toJson } from 'hyparquet';
import { HttpError, checkSegments, fsyncDir, resolveForRead, resolveForWrite, sendFile, writeAtomic } from './files.ts';

export const DATASET_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function checkDatasetId(id: string): string {
  if (!DATASET_ID.test(id) || id.includes('..')) {
    throw new HttpError(400, 'bad_dataset_id', 'id: must be 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit');
  }
  return id;
}

export interface DatasetRouteOptions {
  dataDir: string;
  maxUploadBytes: number;
  /** Throws HttpError(401/403) unless the request carries the token and an allowed origin. */
  requireWrite: (req: FastifyRequest) => void;
  /** Called after a successful write or delete, for the audit log. */
  onMutation: (event: string, fields: Record<string, unknown>) => void;
}

async function readJsonFile(dataDir: string, rel: string): Promise<unknown> {
  const f = await resolveForRead(dataDir, rel);
  const text = await fsp.readFile(f.path, 'utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HttpError(500, 'corrupt_dataset', `${rel} is not valid JSON: ${(e as Error).message}`);
  }
}

async function listParquet(dataDir: string, rel: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (relDir: string) => {
    let entries;
    try {
      entries = await fsp.readdir(join(dataDir, relDir), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.name.startsWith('.')) continue;
      // Dirents of symlinks are neither files nor directories here, so links are not followed.
      if (e.isDirectory()) await walk(`${relDir}/${e.name}`);
      else if (e.isFile() && e.name.endsWith('.parquet')) out.push(`${relDir}/${e.name}`);
    }
  };
  await walk(rel);
  return out;
}

/** Episodes metadata as JSON rows: v3.0 meta/episodes/**.parquet, or v2.1 meta/episodes.jsonl. */
async function readEpisodes(dataDir: string, id: string, offset: number, limit: number) {
  const files = await listParquet(dataDir, `${id}/meta/episodes`);
  if (files.length) {
    const rows: unknown[] = [];
    let skipped = 0;
    let total = 0;
    for (const rel of files) {
      const f = await resolveForRead(dataDir, rel);
      const file = await asyncBufferFromFile(f.path);
      const objs = (await parquetReadObjects({ file })) as Record<string, unknown>[];
      total += objs.length;
      for (const o of objs) {
        if (skipped < offset) {
          skipped++;
          continue;
        }
        if (rows.length < limit) rows.push(toJson(o));
      }
    }
    return { format: 'v3.0', total, offset, episodes: rows };
  }
  const jsonl = await resolveForRead(dataDir, `${id}/meta/episodes.jsonl`).catch(() => null);
  if (!jsonl) throw new HttpError(404, 'not_found', `dataset ${id} has no episode metadata (meta/episodes/ or meta/episodes.jsonl)`);
  const lines = (await fsp.readFile(jsonl.path, 'utf8')).split('\n').filter((l) => l.trim().length);
  const rows = lines.slice(offset, offset + limit).map((l, i) => {
    try {
      return JSON.parse(l) as unknown;
    } catch {
      throw new HttpError(500, 'corrupt_dataset', `meta/episodes.jsonl line ${offset + i + 1} is not valid JSON`);
    }
  });
  return { format: 'v2.1', total: lines.length, offset, episodes: rows };
}

function intParam(v: unknown, name: string, def: number, max: number): number {
  if (v === undefined) return def;
  if (typeof v !== 'string' || !/^\d+$/.test(v)) throw new HttpError(400, 'bad_query', `${name}: expected a non-negative integer`);
  const n = Number(v);
  if (n > max) throw new HttpError(400, 'bad_query', `${name}: at most ${max}`);
  return n;
}

export function registerDatasetRoutes(app: FastifyInstance, o: DatasetRouteOptions): void {
  const { dataDir } = o;

  app.get('/api/datasets', async () => {
    let entries;
    try {
      entries = await fsp.readdir(dataDir, { withFileTypes: true });
    } catch {
      return { datasets: [] };
    }
    const datasets = [];
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.name.startsWith('.') || !DATASET_ID.test(e.name)) continue;
      try {
        const info = (await readJsonFile(dataDir, `${e.name}/meta/info.json`)) as Record<string, unknown>;
        datasets.push({
          id: e.name,
          codebase_version: info.codebase_version ?? null,
          robot_type: info.robot_type ?? null,
          fps: info.fps ?? null,
          total_episodes: info.total_episodes ?? null,
          total_frames: info.total_frames ?? null,
          features: info.features && typeof info.features === 'object' ? Object.keys(info.features) : [],
        });
      } catch {
        // Not a dataset (no info.json yet, unreadable, or a symlink leaving the data dir): not listed.
      }
    }
    return { datasets };
  });

  app.get<{ Params: { id: string } }>('/api/datasets/:id/info', async (req) => readJsonFile(dataDir, `${checkDatasetId(req.params.id)}/meta/info.json`));

  app.get<{ Params: { id: string } }>('/api/datasets/:id/stats', async (req) => readJsonFile(dataDir, `${checkDatasetId(req.params.id)}/meta/stats.json`));

  app.get<{ Params: { id: string }; Querystring: Record<string, unknown> }>('/api/datasets/:id/episodes', async (req) => {
    const id = checkDatasetId(req.params.id);
    await resolveForRead(dataDir, `${id}/meta/info.json`);
    const offset = intParam(req.query.offset, 'offset', 0, 1e9);
    const limit = intParam(req.query.limit, 'limit', 1000, 10000);
    return readEpisodes(dataDir, id, offset, limit);
  });

  const serve = async (req: FastifyRequest<{ Params: { id: string; '*': string } }>, reply: FastifyReply) => {
    const id = checkDatasetId(req.params.id);
    const rel = req.params['*'];
    checkSegments(rel);
    const f = await resolveForRead(dataDir, `${id}/${rel}`);
    return sendFile(req, reply, f, { 'Cross-Origin-Resource-Policy': 'same-origin', 'Cache-Control': 'no-cache' });
  };
  // /data/... is the short form from DESIGN.md; /api/datasets/:id/files/ is what src/data's httpIO base URL points at.
  app.route({ method: ['GET', 'HEAD'], url: '/data/:id/*', handler: serve });
  app.route({ method: ['GET', 'HEAD'], url: '/api/datasets/:id/files/*', handler: serve });

  app.put<{ Params: { id: string; '*': string } }>('/api/datasets/:id/files/*', async (req, reply) => {
    o.requireWrite(req);
    const id = checkDatasetId(req.params.id);
    const rel = req.params['*'];
    checkSegments(rel);
    const target = await resolveForWrite(dataDir, `${id}/${rel}`);
    const body = req.body as Readable | undefined;
    if (!body || typeof (body as Readable).pipe !== 'function') throw new HttpError(400, 'bad_body', 'body: expected the raw file bytes');
    const bytes = await writeAtomic(target, body, o.maxUploadBytes);
    o.onMutation('upload', { dataset: id, path: rel, bytes });
    return reply.code(201).send({ ok: true, dataset: id, path: rel, bytes });
  });

  app.delete<{ Params: { id: string } }>('/api/datasets/:id', async (req) => {
    o.requireWrite(req);
    const id = checkDatasetId(req.params.id);
    const dir = join(dataDir, id);
    const st = await fsp.lstat(dir).catch(() => null);
    if (!st) throw new HttpError(404, 'not_found', `no dataset ${id}`);
    if (!st.isDirectory()) throw new HttpError(409, 'conflict', `${id} is not a dataset directory`);
    // Rename first (atomic: the dataset vanishes from listings at once), then remove at leisure.
    const trash = join(dataDir, `.trash-${id}-${randomBytes(4).toString('hex')}`);
    await fsp.rename(dir, trash);
    await fsyncDir(dataDir);
    await fsp.rm(trash, { recursive: true, force: true });
    o.onMutation('delete_dataset', { dataset: id });
    return { ok: true, deleted: id };
  });
}
