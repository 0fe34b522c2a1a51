/**
 * Reads LeRobotDataset v3.0 (and v2.1) through a DatasetIO. Only meta/ is read at open;
 * episode rows are fetched on demand (one parquet row group per episode in files we
 * write, so over HTTP an episode costs a few range requests, not a file download).
 * A dataset only ever shows the episodes meta/info.json counts: rows or metadata a
 * crashed writer left beyond that are invisible.
 */
import type { DatasetIO } from './io.ts';
import { actionChunkFrom, type ActionChunk } from './batch.ts';
import { featureDim, isVector } from './features.ts';
import { openParquet, readColumns, type ParquetFile } from './parquet.ts';
import { EPISODES_PATH, INFO_PATH, STATS_PATH, TASKS_PATH, formatPath, nextChunkFile } from './paths.ts';
import { decodePng } from './png.ts';
import { statsFromJson } from './stats.ts';
import {
  DatasetError,
  type ColumnData,
  type EpisodeData,
  type EpisodeInfo,
  type FeatureSpec,
  type FeatureStats,
  type Features,
  type ImageFrame,
  type JsonValue,
  type LazyImage,
} from './types.ts';

export interface DatasetInfo {
  codebase_version: string;
  robot_type: string | null;
  total_episodes: number;
  total_frames: number;
  total_tasks: number;
  chunks_size: number;
  fps: number;
  data_path: string;
  video_path: string | null;
  features: Features;
  [key: string]: unknown;
}

const DEFAULT_CACHE = 8;

interface ReaderParts {
  version: 'v3.0' | 'v2.1';
  tasks: string[];
  episodes: EpisodeInfo[];
  fileStart: Map<string, number>;
}

export class LeRobotReader {
  private files = new Map<string, Promise<ParquetFile>>();
  private cache = new Map<string, Promise<EpisodeData>>();

  private constructor(
    private readonly io: DatasetIO,
    readonly info: DatasetInfo,
    readonly version: 'v3.0' | 'v2.1',
    readonly tasks: string[],
    readonly episodes: EpisodeInfo[],
    readonly stats: Record<string, FeatureStats>,
    /** First global `index` of every data file, keyed by its path (v3.0 files hold many episodes). */
    private readonly fileStart: Map<string, number>,
  ) {}

  static async open(io: DatasetIO): Promise<LeRobotReader> {
    if (!(await io.exists(INFO_PATH))) throw new DatasetError(`not a LeRobot dataset: ${INFO_PATH} is missing (an interrupted first write leaves no dataset)`);
    const info = parseJson<DatasetInfo>(await io.readFile(INFO_PATH), INFO_PATH);
    for (const key of ['fps', 'total_episodes', 'total_frames', 'features', 'data_path'] as const) {
      if (info[key] === undefined || info[key] === null) throw new DatasetError(`${INFO_PATH}: missing "${key}"`, key);
    }
    const version = String(info.codebase_version);
    let parts: ReaderParts;
    if (version === 'v3.0') parts = await openV30(io, info);
    else if (version === 'v2.1' || version === 'v2.0') parts = await openV21(io, info);
    else throw new DatasetError(`${INFO_PATH}: codebase_version "${version}" is not supported (v3.0 and v2.1 are)`, 'codebase_version');
    return new LeRobotReader(io, info, parts.version, parts.tasks, parts.episodes, await readStats(io), parts.fileStart);
  }

  get fps(): number { return this.info.fps; }
  get features(): Features { return this.info.features; }
  get totalFrames(): number { return this.info.total_frames; }

  /** Frames of one episode, or of the whole dataset. */
  frameCount(episode?: number): number {
    return episode === undefined ? this.info.total_frames : this.episode(episode).length;
  }

  episode(i: number): EpisodeInfo {
    const ep = this.episodes[i];
    if (!ep) throw new DatasetError(`episode ${i} does not exist (dataset has ${this.episodes.length})`);
    return ep;
  }

  /** Path of the parquet file holding episode i. */
  dataPath(i: number): string {
    const ep = this.episode(i);
    return this.version === 'v3.0'
      ? formatPath(this.info.data_path, { chunk_index: ep.dataChunk, file_index: ep.dataFile })
      : formatPath(this.info.data_path, { episode_chunk: ep.dataChunk, episode_index: ep.index });
  }

  /** Columns stored in the data parquet: every feature except videos (those live in .mp4 files). */
  get dataColumns(): string[] {
    return Object.entries(this.features).filter(([, f]) => f.dtype !== 'video').map(([k]) => k);
  }

  /** Whole episode, all columns (or `columns`); images decode lazily. Recent episodes are cached. */
  readEpisode(i: number, columns?: string[]): Promise<EpisodeData> {
    const key = `${i}|${columns?.join(',') ?? '*'}`;
    let hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    hit = this.readRows(i, 0, this.episode(i).length, columns);
    hit.catch(() => this.cache.delete(key));
    this.cache.set(key, hit);
    while (this.cache.size > DEFAULT_CACHE) this.cache.delete(this.cache.keys().next().value as string);
    return hit;
  }

  /** Frames [from, to) of an episode (default columns: everything but images). */
  async getFrames(episode: number, from: number, to: number, columns?: string[]): Promise<EpisodeData> {
    const ep = this.episode(episode);
    if (!(Number.isInteger(from) && Number.isInteger(to) && 0 <= from && from <= to && to <= ep.length)) {
      throw new DatasetError(`getFrames: range [${from}, ${to}) is outside episode ${episode} (length ${ep.length})`);
    }
    const cols = columns ?? this.dataColumns.filter((k) => this.features[k].dtype !== 'image');
    return this.readRows(episode, from, to, cols);
  }

  /** H actions from step t of an episode, padded past the end by repeating the last action (see actionChunkFrom). */
  async actionChunk(episode: number, t: number, H: number, key = 'action'): Promise<ActionChunk> {
    const spec = this.features[key];
    if (!spec) throw new DatasetError(`actionChunk: dataset has no feature "${key}"`, key);
    const data = await this.readEpisode(episode, [key]);
    const col = data.columns[key];
    return actionChunkFrom(col.data as ArrayLike<number>, data.length, featureDim(spec), t, H);
  }

  private async readRows(i: number, from: number, to: number, columns?: string[]): Promise<EpisodeData> {
    const ep = this.episode(i);
    const path = this.dataPath(i);
    let pf = this.files.get(path);
    if (!pf) {
      pf = openParquet(this.io, path);
      pf.catch(() => this.files.delete(path));
      this.files.set(path, pf);
    }
    const file = await pf;
    const names = columns ?? this.dataColumns.filter((k) => file.columnNames.includes(k));
    for (const n of names) {
      if (!this.features[n]) throw new DatasetError(`dataset has no feature "${n}"`, n);
    }
    const base = ep.from - (this.fileStart.get(path) ?? 0);
    const raw = await readColumns(file, names, base + from, base + to);
    const out: Record<string, ColumnData> = {};
    for (const n of names) out[n] = toColumn(n, this.features[n], raw[n], to - from);
    return { episode: ep, start: from, length: to - from, columns: out };
  }
}

function parseJson<T>(bytes: Uint8Array, path: string): T {
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch (e) {
    throw new DatasetError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
}

function num(v: unknown): number {
  return typeof v === 'bigint' ? Number(v) : Number(v);
}

/** Decoded parquet values of one feature -> a flat typed column. */
function toColumn(name: string, spec: FeatureSpec, raw: ArrayLike<unknown>, n: number): ColumnData {
  const shape = spec.shape;
  if (spec.dtype === 'image') {
    const data: LazyImage[] = [];
    for (let i = 0; i < n; i++) {
      const cell = raw[i] as { bytes?: Uint8Array | null; path?: string | null } | null;
      if (!cell?.bytes) throw new DatasetError(`feature "${name}" row ${i}: image has no embedded bytes${cell?.path ? ` (path ${cell.path})` : ''}`, name);
      data.push(lazyImage(cell.bytes, name));
    }
    return { dtype: 'image', shape, data };
  }
  if (spec.dtype === 'string') {
    const data = Array.from(raw, (v) => (v instanceof Uint8Array ? new TextDecoder().decode(v) : String(v)));
    return { dtype: 'string', shape, data };
  }
  if (spec.dtype === 'video') throw new DatasetError(`feature "${name}" is a video: decode it from the .mp4 file`, name);
  const dim = featureDim(spec);
  const flat = new Float64Array(n * dim);
  if (isVector(spec)) {
    for (let i = 0; i < n; i++) {
      const row = raw[i] as ArrayLike<unknown> | null;
      if (!row || row.length !== dim) throw new DatasetError(`feature "${name}" row ${i}: expected ${dim} values, got ${row?.length ?? 'null'}`, name);
      for (let d = 0; d < dim; d++) flat[i * dim + d] = row[d] === null ? NaN : num(row[d]);
    }
  } else {
    for (let i = 0; i < n; i++) {
      const v = Array.isArray(raw[i]) ? (raw[i] as unknown[])[0] : raw[i];
      flat[i] = v === null || v === undefined ? NaN : num(v);
    }
  }
  switch (spec.dtype) {
    case 'float32': return { dtype: 'float32', shape, data: Float32Array.from(flat) };
    case 'int32': return { dtype: 'int32', shape, data: Int32Array.from(flat) };
    case 'bool': return { dtype: 'bool', shape, data: Uint8Array.from(flat) };
    case 'float64':
    case 'int64': return { dtype: spec.dtype, shape, data: flat };
  }
  throw new DatasetError(`feature "${name}": unknown dtype "${spec.dtype}"`, name);
}

function lazyImage(bytes: Uint8Array, name: string): LazyImage {
  let img: ImageFrame | undefined;
  return { bytes, decode: () => (img ??= decodePng(bytes, name)) };
}

function episodeStatsFromColumns(row: Record<string, unknown>): Record<string, FeatureStats> | undefined {
  const grouped: Record<string, Record<string, unknown>> = {};
  for (const [col, v] of Object.entries(row)) {
    if (!col.startsWith('stats/')) continue;
    const rest = col.slice('stats/'.length);
    const cut = rest.lastIndexOf('/');
    (grouped[rest.slice(0, cut)] ??= {})[rest.slice(cut + 1)] = deepNumber(v);
  }
  const names = Object.keys(grouped);
  if (names.length === 0) return undefined;
  return Object.fromEntries(names.map((n) => [n, statsFromJson(grouped[n])]));
}

function deepNumber(v: unknown): unknown {
  if (Array.isArray(v) || ArrayBuffer.isView(v)) return Array.from(v as ArrayLike<unknown>, deepNumber);
  return num(v);
}

async function readStats(io: DatasetIO): Promise<Record<string, FeatureStats>> {
  if (!(await io.exists(STATS_PATH))) return {};
  const json = parseJson<Record<string, Record<string, unknown>>>(await io.readFile(STATS_PATH), STATS_PATH);
  return Object.fromEntries(Object.entries(json).map(([k, v]) => [k, statsFromJson(v)]));
}

async function openV30(io: DatasetIO, info: DatasetInfo): Promise<ReaderParts> {
  const total = info.total_episodes;
  const chunksSize = info.chunks_size ?? 1000;
  const episodes: EpisodeInfo[] = [];
  let [chunk, file] = [0, 0];
  while (episodes.length < total) {
    const path = formatPath(EPISODES_PATH, { chunk_index: chunk, file_index: file });
    if (!(await io.exists(path))) {
      throw new DatasetError(`${INFO_PATH} counts ${total} episodes but ${path} is missing after episode ${episodes.length - 1}`);
    }
    const pf = await openParquet(io, path);
    const raw = await readColumns(pf, pf.columnNames);
    for (let r = 0; r < pf.numRows; r++) {
      const row: Record<string, unknown> = {};
      for (const c of pf.columnNames) row[c] = raw[c][r];
      const index = num(row.episode_index);
      // Rows beyond total_episodes belong to an episode whose write never completed.
      if (index >= total) continue;
      const missing = ['episode_index', 'length', 'data/chunk_index', 'data/file_index', 'dataset_from_index', 'dataset_to_index'].find((c) => row[c] === undefined);
      if (missing) throw new DatasetError(`${path}: column "${missing}" is missing`, missing);
      episodes.push({
        index,
        length: num(row.length),
        tasks: Array.from((row.tasks as ArrayLike<unknown>) ?? [], (t) => (t instanceof Uint8Array ? new TextDecoder().decode(t) : String(t))),
        from: num(row.dataset_from_index),
        to: num(row.dataset_to_index),
        dataChunk: num(row['data/chunk_index']),
        dataFile: num(row['data/file_index']),
        meta: typeof row.extra === 'string' && row.extra ? (JSON.parse(row.extra) as Record<string, JsonValue>) : {},
        stats: episodeStatsFromColumns(row),
      });
    }
    [chunk, file] = nextChunkFile(chunk, file, chunksSize);
  }
  episodes.sort((a, b) => a.index - b.index);
  episodes.forEach((ep, i) => {
    if (ep.index !== i) throw new DatasetError(`meta/episodes: expected episode_index ${i}, found ${ep.index}`, 'episode_index');
  });

  const fileStart = new Map<string, number>();
  for (const ep of episodes) {
    const path = formatPath(info.data_path, { chunk_index: ep.dataChunk, file_index: ep.dataFile });
    fileStart.set(path, Math.min(fileStart.get(path) ?? Infinity, ep.from));
  }

  const tasks: string[] = [];
  if (await io.exists(TASKS_PATH)) {
    const pf = await openParquet(io, TASKS_PATH);
    // pandas writes the task strings as the frame's index: a column named "task", or
    // "__index_level_0__" when the index was unnamed.
    const textCol = ['task', '__index_level_0__'].find((c) => pf.columnNames.includes(c));
    if (!textCol || !pf.columnNames.includes('task_index')) throw new DatasetError(`${TASKS_PATH}: expected columns task_index and task`);
    const raw = await readColumns(pf, ['task_index', textCol]);
    for (let r = 0; r < pf.numRows; r++) {
      const t = raw[textCol][r];
      tasks[num(raw.task_index[r])] = t instanceof Uint8Array ? new TextDecoder().decode(t) : String(t);
    }
  } else if (total > 0) {
    throw new DatasetError(`${TASKS_PATH} is missing`);
  }
  return { version: 'v3.0', tasks: tasks.slice(0, info.total_tasks ?? tasks.length), episodes, fileStart };
}

function jsonLines(bytes: Uint8Array, path: string): Record<string, unknown>[] {
  return new TextDecoder()
    .decode(bytes)
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l, i) => {
      try { return JSON.parse(l) as Record<string, unknown>; } catch (e) {
        throw new DatasetError(`${path} line ${i + 1} is not valid JSON: ${(e as Error).message}`);
      }
    });
}

async function openV21(io: DatasetIO, info: DatasetInfo): Promise<ReaderParts> {
  const chunksSize = info.chunks_size ?? 1000;
  const lines = jsonLines(await io.readFile('meta/episodes.jsonl'), 'meta/episodes.jsonl');
  const taskLines = jsonLines(await io.readFile('meta/tasks.jsonl'), 'meta/tasks.jsonl');
  const tasks: string[] = [];
  for (const t of taskLines) tasks[num(t.task_index)] = String(t.task);
  const epStats = new Map<number, Record<string, FeatureStats>>();
  if (await io.exists('meta/episodes_stats.jsonl')) {
    for (const l of jsonLines(await io.readFile('meta/episodes_stats.jsonl'), 'meta/episodes_stats.jsonl')) {
      const s = l.stats as Record<string, Record<string, unknown>>;
      epStats.set(num(l.episode_index), Object.fromEntries(Object.entries(s).map(([k, v]) => [k, statsFromJson(v)])));
    }
  }
  lines.sort((a, b) => num(a.episode_index) - num(b.episode_index));
  const episodes: EpisodeInfo[] = [];
  let from = 0;
  for (const l of lines.slice(0, info.total_episodes)) {
    const { episode_index, tasks: epTasks, length, ...rest } = l;
    const index = num(episode_index);
    if (index !== episodes.length) throw new DatasetError(`meta/episodes.jsonl: expected episode_index ${episodes.length}, found ${index}`, 'episode_index');
    const len = num(length);
    episodes.push({
      index, length: len, tasks: (epTasks as string[]) ?? [], from, to: from + len,
      dataChunk: Math.floor(index / chunksSize), dataFile: 0,
      meta: rest as Record<string, JsonValue>, stats: epStats.get(index),
    });
    from += len;
  }
  if (episodes.length < info.total_episodes) {
    throw new DatasetError(`meta/episodes.jsonl lists ${episodes.length} episodes, info.json says ${info.total_episodes}`);
  }
  // Each v2.1 file holds one episode whose `index` column starts at the episode's global offset.
  const fileStart = new Map<string, number>();
  for (const ep of episodes) fileStart.set(formatPath(info.data_path, { episode_chunk: ep.dataChunk, episode_index: ep.index }), ep.from);
  return { version: 'v2.1', tasks, episodes, fileStart };
}
