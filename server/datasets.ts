/**
 * Dataset HTTP API over the data directory. A dataset is a directory directly under the
 * data directory that holds meta/info.json (LeRobot v3.0 or v2.1). Files are served with
 * byte ranges so the browser reads parquet lazily; writes are token-protected and atomic.
 *
 * Built-in datasets (the ones that ship with the app, e.g. the demo run's held-out
 * episodes) live in a second, read-only directory and are served by the same routes.
 * A directory there claims its id: a data-dir dataset of the same id is hidden (and
 * reported at start, shadowedDatasets), and uploads or deletes under it are refused.
 * The built-in copy wins because the shipped demo run was evaluated on exactly those
 * episodes; a local copy that silently replaced them would make the demo show something
 * other than what it recorded.
 */
import { existsSync, promises as fsp } from 'node:fs';
import { join, resolve } from 'node:path';
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

/**
 * The built-in datasets' folder inside the app's root: the datasets of the demo folder
 * (src/train/demo-run.ts's DEMO_DIR, public/demo; a server test keeps the two in step).
 * Not imported from there: that module pulls in the model code, which the server and
 * the tsx-run scripts do not need.
 */
export const BUILTIN_DATASETS_PATH = 'demo/datasets';

/** The built-in datasets of an app root (public/ in the repository, dist/ once built). */
export function builtinDirOf(appRoot: string): string {
  return resolve(appRoot, BUILTIN_DATASETS_PATH);
}

/**
 * Where the built-in datasets are when the config names no directory: in the app the
 * server serves, so they always match the demo archive the browser fetches from the
 * same app. That is dist/ once `vite build` has copied public/ into it (what `npm start`
 * serves), else public/ in the repository (what Vite serves in development).
 */
export function defaultBuiltinDir(distDir: string): string {
  return builtinDirOf(existsSync(join(distDir, 'index.html')) ? distDir : 'public');
}

async function isDirectory(path: string): Promise<boolean> {
  return (await fsp.stat(path).catch(() => null))?.isDirectory() ?? false;
}

/** Whether `id` is a built-in dataset: a directory of that name in the built-in directory. */
export async function isBuiltinDataset(builtinDir: string | null, id: string): Promise<boolean> {
  return builtinDir !== null && DATASET_ID.test(id) && (await isDirectory(join(builtinDir, id)));
}

/** Why a write to a built-in dataset is refused (uploads, deletes, teleop recordings). */
export function builtinReadOnly(id: string): string {
  return `dataset ${id} ships with the app and is read-only; use another dataset id`;
}

/** Directories (or links to one) under `root` whose names are dataset ids. */
async function datasetDirs(root: string | null): Promise<string[]> {
  if (root === null) return [];
  const names = (await fsp.readdir(root).catch(() => [] as string[])).filter((n) => !n.startsWith('.') && DATASET_ID.test(n));
  const dirs = await Promise.all(names.map(async (n) => ((await isDirectory(join(root, n))) ? n : null)));
  return dirs.filter((n): n is string => n !== null);
}

/** Data-dir datasets hidden by a built-in dataset of the same id (the server warns about them at start). */
export async function shadowedDatasets(dataDir: string, builtinDir: string | null): Promise<string[]> {
  const builtin = new Set(await datasetDirs(builtinDir));
  return (await datasetDirs(dataDir)).filter((id) => builtin.has(id)).sort();
}

export interface DatasetRouteOptions {
  dataDir: string;
  /** Read-only datasets that ship with the app (null: none). */
  builtinDir: string | null;
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
  const { dataDir, builtinDir } = o;
  /** The directory a (checked) dataset id is read from. */
  const rootOf = async (id: string) => ((await isBuiltinDataset(builtinDir, id)) ? builtinDir! : dataDir);
  const refuseBuiltin = async (id: string) => {
    if (await isBuiltinDataset(builtinDir, id)) throw new HttpError(409, 'read_only', `id: ${builtinReadOnly(id)}`);
  };

  app.get('/api/datasets', async () => {
    const builtin = await datasetDirs(builtinDir);
    const own = (await datasetDirs(dataDir)).filter((id) => !builtin.includes(id));
    const dirs = [...builtin.map((id) => ({ id, root: builtinDir!, builtin: true })), ...own.map((id) => ({ id, root: dataDir, builtin: false }))];
    const datasets = [];
    for (const { id, root, builtin: isBuiltin } of dirs.sort((a, b) => a.id.localeCompare(b.id))) {
      try {
        const info = (await readJsonFile(root, `${id}/meta/info.json`)) as Record<string, unknown>;
        datasets.push({
          id,
          builtin: isBuiltin,
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

  app.get<{ Params: { id: string } }>('/api/datasets/:id/info', async (req) => {
    const id = checkDatasetId(req.params.id);
    return readJsonFile(await rootOf(id), `${id}/meta/info.json`);
  });

  app.get<{ Params: { id: string } }>('/api/datasets/:id/stats', async (req) => {
    const id = checkDatasetId(req.params.id);
    return readJsonFile(await rootOf(id), `${id}/meta/stats.json`);
  });

  app.get<{ Params: { id: string }; Querystring: Record<string, unknown> }>('/api/datasets/:id/episodes', async (req) => {
    const id = checkDatasetId(req.params.id);
    const root = await rootOf(id);
    await resolveForRead(root, `${id}/meta/info.json`);
    const offset = intParam(req.query.offset, 'offset', 0, 1e9);
    const limit = intParam(req.query.limit, 'limit', 1000, 10000);
    return readEpisodes(root, id, offset, limit);
  });

  const serve = async (req: FastifyRequest<{ Params: { id: string; '*': string } }>, reply: FastifyReply) => {
    const id = checkDatasetId(req.params.id);
    const rel = req.params['*'];
    checkSegments(rel);
    const f = await resolveForRead(await rootOf(id), `${id}/${rel}`);
    return sendFile(req, reply, f, { 'Cross-Origin-Resource-Policy': 'same-origin', 'Cache-Control': 'no-cache' });
  };
  // /data/... is the short form from DESIGN.md; /api/datasets/:id/files/ is what src/data's httpIO base URL points at.
  app.route({ method: ['GET', 'HEAD'], url: '/data/:id/*', handler: serve });
  app.route({ method: ['GET', 'HEAD'], url: '/api/datasets/:id/files/*', handler: serve });

  app.put<{ Params: { id: string; '*': string } }>('/api/datasets/:id/files/*', async (req, reply) => {
    o.requireWrite(req);
    const id = checkDatasetId(req.params.id);
    await refuseBuiltin(id);
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
    await refuseBuiltin(id);
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
