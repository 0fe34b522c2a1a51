/**
 * The sample index of the batch builder: every (episode, t) of a dataset (optionally
 * strided), with what one PRTS training document needs (DESIGN.md 3, PRTS Sec. 3.3):
 * the instruction, t and T for the CRL weight gamma^(T - t), the action chunk
 * a_t .. a_{t+H-1} with its validity mask, the state at t, and references to the camera
 * frames at t. Pixels are not decoded here: the caller decodes the referenced frames
 * lazily (decodeFrames) so that building an index over a large dataset only reads the
 * numeric columns.
 *
 * The per-episode columns are kept decoded and a Sample is assembled on demand, so the
 * index costs one copy of the action and state columns, not one action chunk per sample.
 */
import { actionChunkFrom, DatasetError, type ImageFrame, type LeRobotReader } from '../../data/index.ts';

export class SampleIndexError extends Error {
  override name = 'SampleIndexError';
}

/** A camera frame a sample refers to; `key` is the dataset feature, `camera` its short name. */
export interface FrameRef {
  camera: string;
  key: string;
  episode: number;
  t: number;
}

export interface Sample {
  /** Position of this sample in its SampleIndex. */
  id: number;
  episode: number;
  /** Step within the episode, 0 <= t < T. */
  t: number;
  /** Episode length; T - t >= 1 is the steps-to-go of the CRL weight. */
  T: number;
  /** Task index (into SampleIndex.tasks) and its instruction. */
  task: number;
  instruction: string;
  /** H * actionDim values, step-major; steps past the episode end repeat the last action. */
  actions: Float32Array;
  /** valid[h] = 1 where step t + h lies inside the episode. */
  valid: Uint8Array;
  actionDim: number;
  state: Float32Array;
  /** One per camera of the index, in SampleIndex.cameras order. */
  frames: FrameRef[];
}

/** One episode's decoded columns, the input of SampleIndex.fromEpisodes. */
export interface EpisodeColumns {
  episode: number;
  length: number;
  /** length * actionDim values. */
  actions: ArrayLike<number>;
  actionDim: number;
  /** length * stateDim values. */
  state: ArrayLike<number>;
  stateDim: number;
  /** Task index of the whole episode, or one per frame (LeRobot frames may override the episode task). */
  task: number | ArrayLike<number>;
}

export interface SampleIndexOptions {
  /** Action chunk length H. */
  horizon: number;
  /** Take every stride-th step of each episode (default 1: every step). */
  stride?: number;
  /** Feature holding the actions (default "action"). */
  actionKey?: string;
  /** Feature holding the proprioceptive state (default "observation.state"). */
  stateKey?: string;
  /**
   * Cameras, as feature keys ("observation.images.agentview") or short names
   * ("agentview"). Default: every image/video feature of the dataset, in feature order.
   */
  cameras?: readonly string[];
  /** Only these episode indices (a train/validation split); default every episode. */
  episodes?: readonly number[];
}

const IMAGE_PREFIX = 'observation.images.';

function checkPositiveInt(value: number, field: string): void {
  if (!Number.isInteger(value) || value < 1) throw new SampleIndexError(`SampleIndex: ${field} must be a positive integer, got ${value}`);
}

export class SampleIndex {
  /** Episode slot of every sample (into the internal column list) and its step. */
  private readonly sampleSlot: Int32Array;
  private readonly sampleT: Int32Array;
  private readonly sampleTask: Int32Array;
  private byTask: Int32Array[] | null = null;

  private constructor(
    private readonly columns: readonly EpisodeColumns[],
    readonly tasks: readonly string[],
    readonly cameras: readonly { camera: string; key: string }[],
    readonly horizon: number,
    readonly stride: number,
  ) {
    const slot: number[] = [];
    const ts: number[] = [];
    const task: number[] = [];
    columns.forEach((ep, e) => {
      for (let t = 0; t < ep.length; t += stride) {
        slot.push(e);
        ts.push(t);
        task.push(taskAt(ep, t));
      }
    });
    this.sampleSlot = Int32Array.from(slot);
    this.sampleT = Int32Array.from(ts);
    this.sampleTask = Int32Array.from(task);
  }

  /**
   * Indexes episodes already in memory (sim rollouts, tests). Every episode must agree
   * on actionDim and stateDim, and task indices must fall inside `tasks`.
   */
  static fromEpisodes(
    episodes: readonly EpisodeColumns[],
    tasks: readonly string[],
    options: SampleIndexOptions,
    cameras: readonly { camera: string; key: string }[] = [],
  ): SampleIndex {
    checkPositiveInt(options.horizon, 'horizon');
    const stride = options.stride ?? 1;
    checkPositiveInt(stride, 'stride');
    if (episodes.length === 0) throw new SampleIndexError('SampleIndex: no episodes to index');
    const { actionDim, stateDim } = episodes[0];
    for (const ep of episodes) {
      const where = `episode ${ep.episode}`;
      checkPositiveInt(ep.length, `${where}: length`);
      if (ep.actionDim !== actionDim) throw new SampleIndexError(`SampleIndex: ${where}: actionDim ${ep.actionDim} differs from ${actionDim} of the first episode`);
      if (ep.stateDim !== stateDim) throw new SampleIndexError(`SampleIndex: ${where}: stateDim ${ep.stateDim} differs from ${stateDim} of the first episode`);
      if (ep.actions.length !== ep.length * actionDim) {
        throw new SampleIndexError(`SampleIndex: ${where}: actions hold ${ep.actions.length} values, expected length * actionDim = ${ep.length * actionDim}`);
      }
      if (ep.state.length !== ep.length * stateDim) {
        throw new SampleIndexError(`SampleIndex: ${where}: state holds ${ep.state.length} values, expected length * stateDim = ${ep.length * stateDim}`);
      }
      if (typeof ep.task !== 'number' && ep.task.length !== ep.length) {
        throw new SampleIndexError(`SampleIndex: ${where}: task has ${ep.task.length} per-frame entries, expected ${ep.length}`);
      }
      for (let t = 0; t < ep.length; t++) {
        const k = taskAt(ep, t);
        if (!Number.isInteger(k) || k < 0 || k >= tasks.length) {
          throw new SampleIndexError(`SampleIndex: ${where}, frame ${t}: task index ${k} is outside the ${tasks.length} tasks`);
        }
        if (typeof ep.task === 'number') break;
      }
    }
    return new SampleIndex(episodes, tasks, cameras, options.horizon, stride);
  }

  /** Indexes a LeRobot dataset: reads the action, state and task_index columns of every (selected) episode. */
  static async fromReader(reader: LeRobotReader, options: SampleIndexOptions): Promise<SampleIndex> {
    const actionKey = options.actionKey ?? 'action';
    const stateKey = options.stateKey ?? 'observation.state';
    for (const [field, key] of [['actionKey', actionKey], ['stateKey', stateKey]] as const) {
      const spec = reader.features[key];
      if (!spec) throw new SampleIndexError(`SampleIndex: ${field} "${key}" is not a feature of the dataset (features: ${Object.keys(reader.features).join(', ')})`);
      if (spec.dtype !== 'float32' && spec.dtype !== 'float64') throw new SampleIndexError(`SampleIndex: ${field} "${key}" has dtype ${spec.dtype}, expected float32 or float64`);
    }
    const cameras = resolveCameras(reader, options.cameras);
    const selected = options.episodes ?? reader.episodes.map((e) => e.index);
    const hasTaskColumn = reader.features.task_index !== undefined;
    const columns: EpisodeColumns[] = [];
    for (const e of selected) {
      const info = reader.episode(e);
      const data = await reader.readEpisode(e, hasTaskColumn ? [actionKey, stateKey, 'task_index'] : [actionKey, stateKey]);
      const actions = data.columns[actionKey].data as ArrayLike<number>;
      const state = data.columns[stateKey].data as ArrayLike<number>;
      let task: number | ArrayLike<number>;
      if (hasTaskColumn) task = data.columns.task_index.data as ArrayLike<number>;
      else {
        // Without a task_index column the episode's (first) task names the instruction.
        task = reader.tasks.indexOf(info.tasks[0]);
        if (task < 0) throw new SampleIndexError(`SampleIndex: episode ${e}: task "${info.tasks[0]}" is not in meta/tasks`);
      }
      columns.push({
        episode: e,
        length: data.length,
        actions: Float32Array.from(actions),
        actionDim: actions.length / data.length,
        state: Float32Array.from(state),
        stateDim: state.length / data.length,
        task,
      });
    }
    return SampleIndex.fromEpisodes(columns, reader.tasks, options, cameras);
  }

  get size(): number {
    return this.sampleSlot.length;
  }

  get actionDim(): number {
    return this.columns[0].actionDim;
  }

  get stateDim(): number {
    return this.columns[0].stateDim;
  }

  /** Task index of every sample (the sampler's input). */
  get taskOfSample(): Int32Array {
    return this.sampleTask;
  }

  /** Chunk start (step within its episode) of every sample. */
  get tOfSample(): Int32Array {
    return this.sampleT;
  }

  /** Sample ids of each task (ascending). */
  samplesOfTask(task: number): Int32Array {
    if (!this.byTask) {
      const lists: number[][] = this.tasks.map(() => []);
      this.sampleTask.forEach((k, i) => lists[k].push(i));
      this.byTask = lists.map((l) => Int32Array.from(l));
    }
    const list = this.byTask[task];
    if (!list) throw new SampleIndexError(`SampleIndex.samplesOfTask: task ${task} is outside the ${this.tasks.length} tasks`);
    return list;
  }

  sample(id: number): Sample {
    if (!Number.isInteger(id) || id < 0 || id >= this.size) throw new SampleIndexError(`SampleIndex.sample: id ${id} is outside [0, ${this.size})`);
    const ep = this.columns[this.sampleSlot[id]];
    const t = this.sampleT[id];
    const chunk = actionChunkFrom(ep.actions, ep.length, ep.actionDim, t, this.horizon);
    const task = this.sampleTask[id];
    return {
      id,
      episode: ep.episode,
      t,
      T: ep.length,
      task,
      instruction: this.tasks[task],
      actions: chunk.actions,
      valid: chunk.valid,
      actionDim: ep.actionDim,
      state: Float32Array.from({ length: ep.stateDim }, (_, d) => ep.state[t * ep.stateDim + d]),
      frames: this.cameras.map((c) => ({ camera: c.camera, key: c.key, episode: ep.episode, t })),
    };
  }

  /** Every action chunk of the index (the FAST tokenizer's fitting data); `every` thins them. */
  chunks(every = 1): Float32Array[] {
    checkPositiveInt(every, 'chunks(every)');
    const out: Float32Array[] = [];
    for (let i = 0; i < this.size; i += every) out.push(this.sample(i).actions);
    return out;
  }
}

function taskAt(ep: EpisodeColumns, t: number): number {
  return typeof ep.task === 'number' ? ep.task : Number(ep.task[t]);
}

function resolveCameras(reader: LeRobotReader, wanted: readonly string[] | undefined): { camera: string; key: string }[] {
  const imageKeys = Object.entries(reader.features)
    .filter(([, f]) => f.dtype === 'image' || f.dtype === 'video')
    .map(([k]) => k);
  const short = (key: string) => (key.startsWith(IMAGE_PREFIX) ? key.slice(IMAGE_PREFIX.length) : key);
  if (!wanted) return imageKeys.map((key) => ({ camera: short(key), key }));
  return wanted.map((w, i) => {
    const key = imageKeys.find((k) => k === w || short(k) === w);
    if (!key) throw new SampleIndexError(`SampleIndex: cameras[${i}] "${w}" is not an image feature of the dataset (cameras: ${imageKeys.map(short).join(', ') || 'none'})`);
    return { camera: short(key), key };
  });
}

/**
 * Decodes the frames a sample refers to (image features; video frames are decoded by the
 * browser's WebCodecs path, not here). Episodes are read through the reader's cache.
 */
export async function decodeFrames(reader: LeRobotReader, frames: readonly FrameRef[]): Promise<ImageFrame[]> {
  return Promise.all(
    frames.map(async (f) => {
      if (reader.features[f.key]?.dtype !== 'image') {
        throw new DatasetError(`decodeFrames: feature "${f.key}" is not an image feature (dtype ${reader.features[f.key]?.dtype ?? 'missing'})`, f.key);
      }
      const data = await reader.readEpisode(f.episode, [f.key]);
      const col = data.columns[f.key];
      if (col.dtype !== 'image') throw new DatasetError(`decodeFrames: column "${f.key}" did not decode as images`, f.key);
      return col.data[f.t].decode();
    }),
  );
}

/**
 * Per sample, how many times it enters a sampler pass under train.startFrames (the
 * sampler's multiplicity): `weight` for chunks starting before step `steps`, else 1.
 */
export function startFrameMultiplicity(index: SampleIndex, startFrames: { steps: number; weight: number } | undefined): Int32Array | undefined {
  if (!startFrames || startFrames.weight === 1) return undefined;
  return Int32Array.from(index.tOfSample, (t) => (t < startFrames.steps ? startFrames.weight : 1));
}
