/**
 * Writes LeRobotDataset v3.0, one episode at a time, crash-safe.
 *
 * Every saveEpisode rewrites (atomically) the current data parquet file with the new
 * episode appended, then the current meta/episodes file, tasks.parquet, stats.json, and
 * meta/info.json last. Readers trust only the episodes info.json counts, so a crash at
 * any point leaves the previous complete dataset visible and nothing half-written.
 * openForAppend sweeps temp files, drops rows and files no committed episode owns, and
 * continues after the last complete episode.
 *
 * Rewriting the current file costs O(file size) per episode; files roll at
 * dataFilesSizeMb (LeRobot's default 100 MB), which bounds that cost.
 */
import type { SchemaElement } from 'hyparquet';
import { TEMP_SUFFIX, joinPath, type WritableDatasetIO } from './io.ts';
import { DEFAULT_FEATURES, NUMERIC_DTYPES, checkValue, featureDim, hfFeatureJson, isVector, schemaElements, validateFeatureSpecs } from './features.ts';
import { openParquet, readColumns, writeParquet, type WriteColumn } from './parquet.ts';
import { DEFAULT_DATA_PATH, EPISODES_PATH, INFO_PATH, STATS_PATH, TASKS_PATH, formatPath, nextChunkFile } from './paths.ts';
import { decodePng, encodePng } from './png.ts';
import { LeRobotReader, type DatasetInfo } from './reader.ts';
import { ImageAccumulator, NumericAccumulator, exactStats, sampleFrameIndices, statsToJson } from './stats.ts';
import {
  DatasetError,
  QUANTILE_KEYS,
  type CreateDatasetOptions,
  type EpisodeInfo,
  type FeatureSpec,
  type FeatureStats,
  type Features,
  type Frame,
  type ImageFrame,
  type SaveEpisodeOptions,
} from './types.ts';

export interface AppendOptions {
  allowNaN?: string[];
}

type Cell = unknown;
const MB = 1024 * 1024;
const STAT_KEYS = ['min', 'max', 'mean', 'std', 'count', ...QUANTILE_KEYS] as const;

interface EpisodeRecord extends EpisodeInfo {
  metaChunk: number;
  metaFile: number;
}

export class LeRobotWriter {
  private readonly features: Features;
  private readonly allowNaN: Set<string>;
  private readonly tasks: string[] = [];
  private readonly taskIndex = new Map<string, number>();
  private readonly episodes: EpisodeRecord[] = [];
  private readonly numeric = new Map<string, NumericAccumulator>();
  private readonly imageEpisodeStats = new Map<string, FeatureStats[]>();

  private dataChunk = 0;
  private dataFile = 0;
  private fileRows = new Map<string, Cell[]>();
  private fileEpisodeLengths: number[] = [];
  private fileBytes = 0;
  private metaChunk = 0;
  private metaFile = 0;
  private metaBytes = 0;

  private buffer = new Map<string, Cell[]>();
  private bufferTasks: (string | undefined)[] = [];
  private bufferTimestamps: number[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private broken: Error | undefined;
  private closed = false;

  private constructor(private readonly io: WritableDatasetIO, private readonly info: DatasetInfo, allowNaN: string[]) {
    this.features = info.features;
    this.allowNaN = new Set(allowNaN);
    for (const [k, spec] of Object.entries(this.features)) {
      if (NUMERIC_DTYPES.has(spec.dtype)) this.numeric.set(k, new NumericAccumulator(featureDim(spec)));
      if (spec.dtype === 'image') this.imageEpisodeStats.set(k, []);
    }
    this.resetBuffer();
  }

  /** New dataset; fails if one already exists at this root. */
  static async create(io: WritableDatasetIO, opts: CreateDatasetOptions): Promise<LeRobotWriter> {
    if (await io.exists(INFO_PATH)) throw new DatasetError(`a dataset already exists here (${INFO_PATH}); use openForAppend or openOrCreate`);
    if (!opts.repoId) throw new DatasetError('repoId is required', 'repoId');
    if (!(opts.fps > 0)) throw new DatasetError(`fps must be positive, got ${opts.fps}`, 'fps');
    for (const k of Object.keys(opts.features)) {
      if (k in DEFAULT_FEATURES) throw new DatasetError(`feature "${k}" is filled in by the writer; leave it out of features`, k);
    }
    validateFeatureSpecs(opts.features);
    // A create killed before its first info.json leaves at most a temp file.
    await sweepTempFiles(io);
    for (const k of opts.allowNaN ?? []) if (!opts.features[k]) throw new DatasetError(`allowNaN names unknown feature "${k}"`, k);
    const info: DatasetInfo = {
      codebase_version: 'v3.0',
      robot_type: opts.robotType ?? null,
      total_episodes: 0,
      total_frames: 0,
      total_tasks: 0,
      chunks_size: opts.chunksSize ?? 1000,
      data_files_size_in_mb: opts.dataFilesSizeMb ?? 100,
      video_files_size_in_mb: 500,
      fps: opts.fps,
      splits: {},
      data_path: DEFAULT_DATA_PATH,
      video_path: null,
      features: { ...structuredClone(opts.features), ...structuredClone(DEFAULT_FEATURES) },
      repo_id: opts.repoId,
      ...(opts.allowNaN?.length ? { prts_allow_nan: opts.allowNaN } : {}),
    };
    const w = new LeRobotWriter(io, info, opts.allowNaN ?? []);
    await w.writeJson(INFO_PATH, info);
    return w;
  }

  /** Existing v3.0 dataset: clean up after any crash and continue after its last complete episode. */
  static async openForAppend(io: WritableDatasetIO, opts: AppendOptions = {}): Promise<LeRobotWriter> {
    await sweepTempFiles(io);
    const reader = await LeRobotReader.open(io);
    if (reader.version !== 'v3.0') throw new DatasetError(`can only append to v3.0 datasets, this one is ${reader.info.codebase_version}`);
    const allow = opts.allowNaN ?? ((reader.info.prts_allow_nan as string[] | undefined) ?? []);
    const w = new LeRobotWriter(io, structuredClone(reader.info), allow);
    await w.resume(reader);
    return w;
  }

  /** Append when a dataset with the same fps and features exists here, create one otherwise. */
  static async openOrCreate(io: WritableDatasetIO, opts: CreateDatasetOptions): Promise<LeRobotWriter> {
    if (!(await io.exists(INFO_PATH))) return LeRobotWriter.create(io, opts);
    const w = await LeRobotWriter.openForAppend(io, { allowNaN: opts.allowNaN });
    if (w.info.fps !== opts.fps) throw new DatasetError(`existing dataset has fps ${w.info.fps}, asked for ${opts.fps}`, 'fps');
    const want = { ...opts.features, ...DEFAULT_FEATURES };
    for (const k of new Set([...Object.keys(want), ...Object.keys(w.features)])) {
      const a = w.features[k], b = want[k];
      if (!a || !b || a.dtype !== b.dtype || JSON.stringify(a.shape) !== JSON.stringify(b.shape)) {
        throw new DatasetError(`existing dataset's feature "${k}" is ${a ? `${a.dtype}[${a.shape}]` : 'absent'}, asked for ${b ? `${b.dtype}[${b.shape}]` : 'absent'}`, k);
      }
    }
    return w;
  }

  get totalEpisodes(): number { return this.episodes.length; }
  get totalFrames(): number { return Number(this.info.total_frames); }
  /** Frames added since the last saveEpisode / discardEpisode. */
  get pendingFrames(): number { return this.bufferTimestamps.length; }
  get datasetInfo(): Readonly<DatasetInfo> { return this.info; }

  /**
   * Validates and buffers one frame. Throws a DatasetError naming the feature on a
   * missing or extra feature, a wrong shape or dtype, or NaN / Infinity.
   */
  addFrame(frame: Frame): void {
    this.checkUsable();
    const norm = new Map<string, Cell>();
    for (const key of Object.keys(frame)) {
      if (key === 'task' || key === 'timestamp') continue;
      if (!this.features[key]) throw new DatasetError(`frame has unknown feature "${key}"`, key);
      if (key in DEFAULT_FEATURES) throw new DatasetError(`feature "${key}" is filled in by the writer; leave it out of the frame`, key);
    }
    if (frame.task !== undefined && typeof frame.task !== 'string') throw new DatasetError('frame.task must be a string', 'task');
    for (const [key, spec] of Object.entries(this.features)) {
      if (key in DEFAULT_FEATURES) continue;
      const v = checkValue(key, spec, frame[key], this.allowNaN.has(key));
      norm.set(key, toCell(spec, v));
    }
    const frameIndex = this.bufferTimestamps.length;
    let ts = frameIndex / this.info.fps;
    if (frame.timestamp !== undefined) {
      ts = Number(frame.timestamp);
      if (!Number.isFinite(ts)) throw new DatasetError(`feature "timestamp": ${frame.timestamp} is not a finite number`, 'timestamp');
    }
    for (const [k, v] of norm) this.buffer.get(k)!.push(v);
    this.bufferTasks.push(frame.task as string | undefined);
    this.bufferTimestamps.push(ts);
  }

  /** Drops the frames added since the last save; nothing was written for them. */
  discardEpisode(): void {
    this.resetBuffer();
  }

  /** Writes the buffered frames as the next episode. Resolves once meta/info.json covers it. */
  saveEpisode(opts: SaveEpisodeOptions = {}): Promise<EpisodeInfo> {
    this.checkUsable();
    const n = this.bufferTimestamps.length;
    if (n === 0) throw new DatasetError('saveEpisode: no frames were added since the last save');
    const frameTasks = this.bufferTasks.map((t) => t ?? opts.task);
    if (frameTasks.some((t) => t === undefined || t === '')) {
      throw new DatasetError('saveEpisode: every frame needs a task (pass {task} to saveEpisode or frame.task)', 'task');
    }
    if (opts.meta !== undefined) JSON.stringify(opts.meta); // fail now, not halfway through the writes
    const cols = this.buffer;
    const timestamps = this.bufferTimestamps;
    this.resetBuffer();
    const run = this.queue.then(() => this.writeEpisode(cols, timestamps, frameTasks as string[], opts));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Waits for pending writes; errors if frames are still buffered. Every saved episode is already durable. */
  async finalize(): Promise<void> {
    await this.queue;
    if (this.broken) throw this.broken;
    if (this.pendingFrames > 0) throw new DatasetError(`finalize: ${this.pendingFrames} frames were added after the last saveEpisode; save or discard them first`);
    this.closed = true;
  }

  private checkUsable() {
    if (this.broken) throw new DatasetError(`writer is unusable after a failed write (${this.broken.message}); reopen the dataset with openForAppend`);
    if (this.closed) throw new DatasetError('writer was finalized');
  }

  private resetBuffer() {
    this.buffer = new Map();
    for (const k of Object.keys(this.features)) if (!(k in DEFAULT_FEATURES)) this.buffer.set(k, []);
    this.bufferTasks = [];
    this.bufferTimestamps = [];
  }

  private async writeEpisode(cols: Map<string, Cell[]>, timestamps: number[], frameTasks: string[], opts: SaveEpisodeOptions): Promise<EpisodeInfo> {
    try {
      return await this.writeEpisodeUnsafe(cols, timestamps, frameTasks, opts);
    } catch (e) {
      this.broken = e as Error;
      throw e;
    }
  }

  private async writeEpisodeUnsafe(cols: Map<string, Cell[]>, timestamps: number[], frameTasks: string[], opts: SaveEpisodeOptions): Promise<EpisodeInfo> {
    const n = timestamps.length;
    const index = this.episodes.length;
    const from = this.totalFrames;
    const epTasks = [...new Set(frameTasks)];
    const newTasks = epTasks.filter((t) => !this.taskIndex.has(t));
    for (const t of newTasks) { this.taskIndex.set(t, this.tasks.length); this.tasks.push(t); }

    const all = new Map<string, Cell[]>(cols);
    all.set('timestamp', timestamps.map(Math.fround));
    all.set('frame_index', Array.from({ length: n }, (_, i) => BigInt(i)));
    all.set('episode_index', new Array(n).fill(BigInt(index)));
    all.set('index', Array.from({ length: n }, (_, i) => BigInt(from + i)));
    all.set('task_index', frameTasks.map((t) => BigInt(this.taskIndex.get(t)!)));

    const stats = this.episodeStats(all, n);

    // Data file: roll to a new one once the current one would pass the size limit.
    const limit = Number(this.info.data_files_size_in_mb ?? 100) * MB;
    if (this.fileEpisodeLengths.length > 0 && this.fileBytes + estimateBytes(all) >= limit) {
      [this.dataChunk, this.dataFile] = nextChunkFile(this.dataChunk, this.dataFile, this.info.chunks_size);
      this.fileRows = new Map();
      this.fileEpisodeLengths = [];
      this.fileBytes = 0;
    }
    for (const k of Object.keys(this.features)) {
      const rows = this.fileRows.get(k) ?? [];
      for (const v of all.get(k)!) rows.push(v);
      this.fileRows.set(k, rows);
    }
    this.fileEpisodeLengths.push(n);
    const dataBytes = this.encodeDataFile();
    await this.io.writeFileAtomic(formatPath(this.info.data_path, { chunk_index: this.dataChunk, file_index: this.dataFile }), dataBytes);
    this.fileBytes = dataBytes.length;

    const record: EpisodeRecord = {
      index, length: n, tasks: epTasks, from, to: from + n,
      dataChunk: this.dataChunk, dataFile: this.dataFile,
      meta: opts.meta ?? {}, stats,
      metaChunk: this.metaChunk, metaFile: this.metaFile,
    };
    if (this.episodes.some((e) => e.metaChunk === this.metaChunk && e.metaFile === this.metaFile) && this.metaBytes >= limit) {
      [this.metaChunk, this.metaFile] = nextChunkFile(this.metaChunk, this.metaFile, this.info.chunks_size);
      record.metaChunk = this.metaChunk;
      record.metaFile = this.metaFile;
    }
    this.episodes.push(record);
    await this.writeMetaFile();
    if (newTasks.length > 0) await this.writeTasks();

    for (const [k, acc] of this.numeric) acc.add(numericColumn(this.features[k], all.get(k)!), n);
    for (const [k, list] of this.imageEpisodeStats) list.push(stats[k]);
    await this.writeStats();

    this.info.total_episodes = this.episodes.length;
    this.info.total_frames = from + n;
    this.info.total_tasks = this.tasks.length;
    this.info.splits = { train: `0:${this.episodes.length}` };
    await this.writeJson(INFO_PATH, this.info);
    const { metaChunk: _c, metaFile: _f, ...pub } = record;
    return pub;
  }

  private episodeStats(all: Map<string, Cell[]>, n: number): Record<string, FeatureStats> {
    const out: Record<string, FeatureStats> = {};
    for (const [k, spec] of Object.entries(this.features)) {
      if (NUMERIC_DTYPES.has(spec.dtype)) {
        out[k] = exactStats(numericColumn(spec, all.get(k)!), n, featureDim(spec));
      } else if (spec.dtype === 'image') {
        const acc = new ImageAccumulator(spec.shape[2]);
        const cells = all.get(k)! as { bytes: Uint8Array }[];
        for (const i of sampleFrameIndices(n)) {
          const img = decodePng(cells[i].bytes, k);
          acc.addFrame(img.data, img.width, img.height);
        }
        out[k] = acc.stats();
      }
    }
    return out;
  }

  private encodeDataFile(): Uint8Array {
    const columns: WriteColumn[] = Object.entries(this.features).map(([k, spec]) => ({
      name: k,
      data: this.fileRows.get(k)!,
      schema: schemaElements(k, spec),
      // PNG is already deflated; snappy on top only costs time.
      codec: spec.dtype === 'image' ? 'UNCOMPRESSED' : 'SNAPPY',
    }));
    const hf = { info: { features: Object.fromEntries(Object.entries(this.features).map(([k, s]) => [k, hfFeatureJson(s)])) } };
    // One row group per episode: a reader fetching an episode touches only its own chunks.
    return writeParquet(columns, { rowGroupSize: this.fileEpisodeLengths, kv: { huggingface: JSON.stringify(hf) } });
  }

  private async writeMetaFile() {
    const eps = this.episodes.filter((e) => e.metaChunk === this.metaChunk && e.metaFile === this.metaFile);
    const int = (name: string, f: (e: EpisodeRecord) => number): WriteColumn => ({
      name, data: eps.map((e) => BigInt(f(e))), schema: [{ name, type: 'INT64', repetition_type: 'OPTIONAL' }],
    });
    const columns: WriteColumn[] = [
      int('episode_index', (e) => e.index),
      { name: 'tasks', data: eps.map((e) => e.tasks), schema: listSchema('tasks', { type: 'BYTE_ARRAY', converted_type: 'UTF8' }, 1) },
      int('length', (e) => e.length),
      int('data/chunk_index', (e) => e.dataChunk),
      int('data/file_index', (e) => e.dataFile),
      int('dataset_from_index', (e) => e.from),
      int('dataset_to_index', (e) => e.to),
    ];
    for (const [k, spec] of Object.entries(this.features)) {
      const image = spec.dtype === 'image';
      if (!NUMERIC_DTYPES.has(spec.dtype) && !image) continue;
      for (const s of STAT_KEYS) {
        const name = `stats/${k}/${s}`;
        if (s === 'count') {
          columns.push({ name, data: eps.map((e) => e.stats![k].count.map(BigInt)), schema: listSchema(name, { type: 'INT64' }, 1) });
        } else {
          columns.push({
            name,
            data: eps.map((e) => (image ? e.stats![k][s].map((v) => [[v]]) : e.stats![k][s])),
            schema: listSchema(name, { type: 'DOUBLE' }, image ? 3 : 1),
          });
        }
      }
    }
    columns.push(int('meta/episodes/chunk_index', (e) => e.metaChunk), int('meta/episodes/file_index', (e) => e.metaFile));
    columns.push({ name: 'extra', data: eps.map((e) => JSON.stringify(e.meta)), schema: [{ name: 'extra', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' }] });
    const bytes = writeParquet(columns);
    await this.io.writeFileAtomic(formatPath(EPISODES_PATH, { chunk_index: this.metaChunk, file_index: this.metaFile }), bytes);
    this.metaBytes = bytes.length;
  }

  private async writeTasks() {
    // pandas metadata makes pd.read_parquet restore "task" as the index, which is how
    // LeRobot keeps its tasks table (task string -> task_index).
    const pandas = {
      index_columns: ['task'],
      column_indexes: [{ name: null, field_name: null, pandas_type: 'unicode', numpy_type: 'object', metadata: { encoding: 'UTF-8' } }],
      columns: [
        { name: 'task_index', field_name: 'task_index', pandas_type: 'int64', numpy_type: 'int64', metadata: null },
        { name: 'task', field_name: 'task', pandas_type: 'unicode', numpy_type: 'object', metadata: null },
      ],
      creator: { library: 'prts-workbench', version: '1' },
      pandas_version: '2.2.3',
    };
    const bytes = writeParquet(
      [
        { name: 'task_index', data: this.tasks.map((_, i) => BigInt(i)), schema: [{ name: 'task_index', type: 'INT64', repetition_type: 'OPTIONAL' }] },
        { name: 'task', data: this.tasks, schema: [{ name: 'task', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' }] },
      ],
      { kv: { pandas: JSON.stringify(pandas) } },
    );
    await this.io.writeFileAtomic(TASKS_PATH, bytes);
  }

  private async writeStats() {
    const out: Record<string, unknown> = {};
    for (const [k, acc] of this.numeric) if (acc.count > 0) out[k] = statsToJson(acc.stats(), false);
    for (const [k, list] of this.imageEpisodeStats) if (list.length > 0) out[k] = statsToJson(aggregateStats(list), true);
    await this.writeJson(STATS_PATH, out);
  }

  private async writeJson(path: string, value: unknown) {
    await this.io.writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(value, null, 4) + '\n'));
  }

  private async resume(reader: LeRobotReader) {
    for (const t of reader.tasks) { this.taskIndex.set(t, this.tasks.length); this.tasks.push(t); }
    const metaFileOf = await episodeMetaFiles(this.io, reader.episodes.length, this.info.chunks_size);
    for (const ep of reader.episodes) {
      const [metaChunk, metaFile] = metaFileOf[ep.index];
      this.episodes.push({ ...ep, metaChunk, metaFile });
      for (const [k, list] of this.imageEpisodeStats) {
        const s = ep.stats?.[k];
        if (!s) throw new DatasetError(`episode ${ep.index} has no stats for image feature "${k}"; cannot resume dataset statistics`, k);
        list.push(s);
      }
    }
    // Dataset-wide numeric statistics are rebuilt by replaying the committed episodes in
    // order, which gives exactly what an uninterrupted run would have written.
    const numericKeys = [...this.numeric.keys()];
    for (const ep of reader.episodes) {
      const data = await reader.getFrames(ep.index, 0, ep.length, numericKeys);
      for (const k of numericKeys) this.numeric.get(k)!.add(data.columns[k].data as ArrayLike<number>, ep.length);
    }

    const last = this.episodes.at(-1);
    if (last) {
      this.dataChunk = last.dataChunk;
      this.dataFile = last.dataFile;
      this.metaChunk = last.metaChunk;
      this.metaFile = last.metaFile;
      const inFile = this.episodes.filter((e) => e.dataChunk === last.dataChunk && e.dataFile === last.dataFile);
      this.fileEpisodeLengths = inFile.map((e) => e.length);
      const rows = inFile.reduce((s, e) => s + e.length, 0);
      const path = formatPath(this.info.data_path, { chunk_index: this.dataChunk, file_index: this.dataFile });
      const pf = await openParquet(this.io, path);
      const raw = await readColumns(pf, Object.keys(this.features), 0, rows);
      for (const [k, spec] of Object.entries(this.features)) this.fileRows.set(k, Array.from(raw[k], (v) => fromParquet(spec, v)));
    }
    await this.removeOrphans();
    if (last) {
      // Rewrite the current files so rows a crash left past the last episode are gone
      // (LeRobot's own loader reads whole data files, not just the indexed rows).
      const bytes = this.encodeDataFile();
      await this.io.writeFileAtomic(formatPath(this.info.data_path, { chunk_index: this.dataChunk, file_index: this.dataFile }), bytes);
      this.fileBytes = bytes.length;
      await this.writeMetaFile();
      await this.writeTasks();
    }
    await this.writeStats();
  }

  private async removeOrphans() {
    const dataOwned = new Set(this.episodes.map((e) => formatPath(this.info.data_path, { chunk_index: e.dataChunk, file_index: e.dataFile })));
    const metaOwned = new Set(this.episodes.map((e) => formatPath(EPISODES_PATH, { chunk_index: e.metaChunk, file_index: e.metaFile })));
    for (const [dir, owned] of [['data', dataOwned], ['meta/episodes', metaOwned]] as const) {
      for (const chunk of await this.io.list(dir)) {
        for (const f of await this.io.list(joinPath(dir, chunk))) {
          const p = joinPath(dir, chunk, f);
          if (f.endsWith('.parquet') && !owned.has(p)) await this.io.remove(p);
        }
      }
    }
    if (this.tasks.length === 0) await this.io.remove(TASKS_PATH);
  }
}

/** Frame value -> the cell hyparquet-writer takes for this feature's column. */
function toCell(spec: FeatureSpec, v: number[] | string | ImageFrame): Cell {
  if (spec.dtype === 'string') return v;
  if (spec.dtype === 'image') return { bytes: encodePng(v as ImageFrame), path: null };
  const arr = v as number[];
  const conv: (x: number) => unknown = spec.dtype === 'int64' ? (x: number) => BigInt(x) : spec.dtype === 'bool' ? (x: number) => x === 1
    // Round now so statistics describe the stored float32 values, not the inputs.
    : spec.dtype === 'float32' ? Math.fround : (x: number) => x;
  return isVector(spec) ? arr.map(conv) : conv(arr[0]);
}

/** A parquet cell read back (hyparquet) -> the writer's cell for the same value. */
function fromParquet(spec: FeatureSpec, v: unknown): Cell {
  if (spec.dtype === 'image') {
    const c = v as { bytes: Uint8Array; path: string | null };
    return { bytes: c.bytes, path: c.path ?? null };
  }
  if (ArrayBuffer.isView(v) || Array.isArray(v)) return Array.from(v as ArrayLike<unknown>);
  return v;
}

/** Column cells -> flat float64 values (for statistics). */
function numericColumn(spec: FeatureSpec, cells: Cell[]): Float64Array {
  const dim = featureDim(spec);
  const out = new Float64Array(cells.length * dim);
  cells.forEach((c, i) => {
    if (dim === 1 && !Array.isArray(c)) out[i] = Number(c);
    else (c as unknown[]).forEach((x, d) => { out[i * dim + d] = Number(x); });
  });
  return out;
}

function estimateBytes(all: Map<string, Cell[]>): number {
  let total = 0;
  for (const cells of all.values()) {
    for (const c of cells) {
      if (typeof c === 'string') total += c.length;
      else if (Array.isArray(c)) total += 8 * c.length;
      else if (c && typeof c === 'object' && 'bytes' in c) total += (c as { bytes: Uint8Array }).bytes.length;
      else total += 8;
    }
  }
  return total;
}

function listSchema(name: string, leaf: Pick<SchemaElement, 'type' | 'converted_type'>, depth: number): SchemaElement[] {
  const out: SchemaElement[] = [];
  for (let d = 0; d < depth; d++) {
    out.push({ name: d === 0 ? name : 'element', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 });
    out.push({ name: 'list', repetition_type: 'REPEATED', num_children: 1 });
  }
  out.push({ name: 'element', ...leaf, repetition_type: 'OPTIONAL' });
  return out;
}

/**
 * LeRobot's aggregate_stats: exact for min/max/mean/std (parallel variance), a
 * count-weighted mean for quantiles. Used for image features, whose per-episode
 * statistics are what the dataset keeps.
 */
export function aggregateStats(list: FeatureStats[]): FeatureStats {
  const dim = list[0].mean.length;
  const total = list.reduce((s, x) => s + x.count[0], 0);
  const out = { count: [total] } as unknown as FeatureStats;
  const z = () => new Array<number>(dim).fill(0);
  out.min = z().map((_, d) => Math.min(...list.map((x) => x.min[d])));
  out.max = z().map((_, d) => Math.max(...list.map((x) => x.max[d])));
  out.mean = z().map((_, d) => list.reduce((s, x) => s + x.mean[d] * x.count[0], 0) / total);
  out.std = z().map((_, d) => Math.sqrt(list.reduce((s, x) => s + (x.std[d] ** 2 + (x.mean[d] - out.mean[d]) ** 2) * x.count[0], 0) / total));
  for (const q of QUANTILE_KEYS) out[q] = z().map((_, d) => list.reduce((s, x) => s + x[q][d] * x.count[0], 0) / total);
  return out;
}

/** (chunk, file) of the meta/episodes file holding each of the first `total` episodes. */
async function episodeMetaFiles(io: WritableDatasetIO, total: number, chunksSize: number): Promise<[number, number][]> {
  const out: [number, number][] = [];
  let [chunk, file] = [0, 0];
  let seen = 0;
  while (seen < total) {
    const pf = await openParquet(io, formatPath(EPISODES_PATH, { chunk_index: chunk, file_index: file }));
    const idx = (await readColumns(pf, ['episode_index'])).episode_index;
    for (let r = 0; r < pf.numRows; r++) {
      const i = Number(idx[r]);
      if (i < total) { out[i] = [chunk, file]; seen++; }
    }
    [chunk, file] = nextChunkFile(chunk, file, chunksSize);
  }
  return out;
}

/** Removes writeFileAtomic temp files a crash left in any dataset directory. */
async function sweepTempFiles(io: WritableDatasetIO): Promise<void> {
  const dirs = ['', 'meta'];
  for (const parent of ['data', 'meta/episodes']) {
    dirs.push(parent);
    for (const c of await io.list(parent)) dirs.push(joinPath(parent, c));
  }
  for (const d of dirs) {
    for (const f of await io.list(d)) if (f.endsWith(TEMP_SUFFIX)) await io.remove(joinPath(d, f));
  }
}
