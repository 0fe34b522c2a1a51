/** Public types of the dataset layer (LeRobotDataset v3.0 conventions). */

/** LeRobot feature dtypes. `image` frames are PNG bytes inside the data parquet; `video` is read-only metadata here. */
export type FeatureDtype = 'float32' | 'float64' | 'int32' | 'int64' | 'bool' | 'string' | 'image' | 'video';

/**
 * One feature as it appears in meta/info.json "features". Numeric features have shape
 * [1] (a scalar column) or [n] (a fixed-length list column); images have
 * shape [height, width, channels] with names ["height", "width", "channels"].
 */
export interface FeatureSpec {
  dtype: FeatureDtype;
  shape: number[];
  names?: string[] | Record<string, string[]> | null;
  /** Video features only: codec, pix_fmt, fps, ... as LeRobot writes them. */
  info?: Record<string, unknown>;
}

export type Features = Record<string, FeatureSpec>;

/** Raw pixels, row-major HWC, 8 bits per channel. */
export interface ImageFrame {
  width: number;
  height: number;
  channels: 1 | 3 | 4;
  data: Uint8Array;
}

/**
 * One frame handed to the writer: a value for every user feature (anything but the five
 * default columns, which the writer fills in). Scalars may be given as a number (or
 * bigint / boolean / string by dtype); vector features as any array of numbers of the
 * right length. `task` optionally overrides the episode task for this frame.
 */
export type FrameValue = number | bigint | boolean | string | ArrayLike<number> | ImageFrame;
export type Frame = Record<string, FrameValue> & { task?: string };

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Statistics of one feature, flattened per dimension (per channel for images). */
export interface FeatureStats {
  min: number[];
  max: number[];
  mean: number[];
  std: number[];
  /** Number of frames the statistics cover (one entry, as LeRobot writes it). */
  count: number[];
  q01: number[];
  q10: number[];
  q50: number[];
  q90: number[];
  q99: number[];
}

export const QUANTILE_KEYS = ['q01', 'q10', 'q50', 'q90', 'q99'] as const;
export const QUANTILES = [0.01, 0.1, 0.5, 0.9, 0.99] as const;

export interface EpisodeInfo {
  index: number;
  length: number;
  tasks: string[];
  /** Global frame range [from, to) in the `index` column. */
  from: number;
  to: number;
  dataChunk: number;
  dataFile: number;
  /** Caller-supplied per-episode metadata (perturbation record, success flag, seed, ...). */
  meta: Record<string, JsonValue>;
  /** Per-episode statistics when the dataset stores them (v3.0, v2.1 episodes_stats). */
  stats?: Record<string, FeatureStats>;
}

export interface CreateDatasetOptions {
  repoId: string;
  fps: number;
  robotType: string;
  /** User features; timestamp, frame_index, episode_index, index, task_index are added. */
  features: Features;
  /** Episodes' files per chunk directory (LeRobot default 1000). */
  chunksSize?: number;
  /** Start a new data file once the current one reaches this size (LeRobot default 100 MB). */
  dataFilesSizeMb?: number;
  /** Features allowed to hold NaN (e.g. a missing sensor reading); all others reject it. */
  allowNaN?: string[];
}

export interface SaveEpisodeOptions {
  /** Instruction of the whole episode; frames may override it with `frame.task`. */
  task?: string;
  /** Per-episode metadata, stored in meta/episodes as JSON (column `extra`). */
  meta?: Record<string, JsonValue>;
}

/** A decoded column: `data` holds length * prod(shape) values in frame-major order. */
export type ColumnData =
  | { dtype: 'float32'; shape: number[]; data: Float32Array }
  | { dtype: 'float64' | 'int64'; shape: number[]; data: Float64Array }
  | { dtype: 'int32'; shape: number[]; data: Int32Array }
  | { dtype: 'bool'; shape: number[]; data: Uint8Array }
  | { dtype: 'string'; shape: number[]; data: string[] }
  | { dtype: 'image'; shape: number[]; data: LazyImage[] };

/** A frame's image: PNG bytes decoded on first `decode()`. */
export interface LazyImage {
  bytes: Uint8Array;
  decode(): ImageFrame;
}

export interface EpisodeData {
  episode: EpisodeInfo;
  /** First frame (within the episode) of these columns. */
  start: number;
  length: number;
  columns: Record<string, ColumnData>;
}

export class DatasetError extends Error {
  constructor(message: string, readonly field?: string) {
    super(message);
    this.name = 'DatasetError';
  }
}
