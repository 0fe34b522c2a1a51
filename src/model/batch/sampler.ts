/**
 * Task-balanced batch sampler. A PRTS batch holds `tasksPerBatch` distinct tasks with
 * `samplesPerTask` samples each: the language -> state-action direction of the CRL loss
 * (PRTS Sec. 3.2, L_l->sa) is a cross-entropy of each goal over all samples with soft
 * targets on the samples of that goal, so it needs several positives per goal in the
 * batch; uniform sampling over (episode, t) would mostly give one.
 *
 * Without replacement: every task keeps its own shuffled queue of samples and draws from
 * it until it is empty (one "pass" of that task), then reshuffles. Tasks are visited the
 * same way under 'uniform' weighting (a shuffled cycle of all tasks), so every task
 * appears equally often whatever its size; 'proportional' draws tasks with probability
 * proportional to their sample counts instead (each sample about equally often).
 * A task with fewer than samplesPerTask samples contributes all of them and repeats some
 * to keep the batch shape fixed; `repeats` counts those.
 *
 * Keyframe weighting (`multiplicity`): a sample with multiplicity m enters each pass of its
 * task m times, so it is drawn m times as often as a sample with multiplicity 1. The
 * pre-trainer gives the first frames of every episode more weight (train.startFrames):
 * there the arm has not moved yet, so only the instruction and the image say where to go;
 * in later frames the arm's own displacement, visible in the cameras, already tells the
 * direction, and a model trained on uniform frames learns to continue a motion instead
 * of choosing it (the copycat problem of behaviour cloning; Wen et al. 2020, 2021).
 *
 * Everything comes from one Rng seeded at construction, so the k-th batch is a function
 * of (seed, k) and a resumed run replays the same stream (skip(k) is cheap).
 */
import { Rng } from '../../engine/random.ts';

export class SamplerError extends Error {
  override name = 'SamplerError';
}

export interface TaskSamplerOptions {
  tasksPerBatch: number;
  /** Samples of each task in a batch; >= 2 so every goal has several positives. */
  samplesPerTask: number;
  seed: number;
  /** 'uniform' (default): each task equally often. 'proportional': by sample count. */
  taskWeighting?: 'uniform' | 'proportional';
  /** Per sample, how many times it enters each pass of its task (positive integers; default all 1). */
  multiplicity?: ArrayLike<number>;
}

export interface SampledBatch {
  /** Sample ids, grouped by task: tasks[k]'s samples are ids[k * samplesPerTask ...]. */
  ids: Int32Array;
  tasks: Int32Array;
  /** Samples that occur twice in this batch (only from tasks with fewer than samplesPerTask samples). */
  repeats: number;
  /** 0-based number of this batch in the stream. */
  step: number;
}

export class TaskBalancedSampler {
  readonly tasksPerBatch: number;
  readonly samplesPerTask: number;
  readonly taskWeighting: 'uniform' | 'proportional';
  /** Sample ids per task (tasks without samples are left out of `activeTasks`). */
  private readonly members: Int32Array[];
  readonly activeTasks: Int32Array;
  private readonly rng: Rng;
  /** Per task, the current pass and how far it has been drawn (an index, not shift(): a weighted pass can hold 10^5 draws). */
  private readonly queues: { order: number[]; next: number }[];
  /** Completed passes over each task's samples. */
  readonly passes: Int32Array;
  private readonly started: Uint8Array;
  /** Per task, its sample ids repeated by multiplicity (what one pass draws). */
  private readonly passMembers: Int32Array[];
  private taskCycle: number[] = [];
  private steps = 0;

  constructor(taskOfSample: ArrayLike<number>, options: TaskSamplerOptions) {
    const { tasksPerBatch, samplesPerTask, seed } = options;
    if (!Number.isInteger(tasksPerBatch) || tasksPerBatch < 1) throw new SamplerError(`TaskBalancedSampler: tasksPerBatch must be a positive integer, got ${tasksPerBatch}`);
    if (!Number.isInteger(samplesPerTask) || samplesPerTask < 1) throw new SamplerError(`TaskBalancedSampler: samplesPerTask must be a positive integer, got ${samplesPerTask}`);
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new SamplerError(`TaskBalancedSampler: seed must be an integer in [0, 2^32), got ${seed}`);
    const weighting = options.taskWeighting ?? 'uniform';
    if (weighting !== 'uniform' && weighting !== 'proportional') throw new SamplerError(`TaskBalancedSampler: taskWeighting must be "uniform" or "proportional", got ${JSON.stringify(weighting)}`);
    let maxTask = -1;
    for (let i = 0; i < taskOfSample.length; i++) {
      const k = taskOfSample[i];
      if (!Number.isInteger(k) || k < 0) throw new SamplerError(`TaskBalancedSampler: taskOfSample[${i}] = ${k}; task ids must be non-negative integers`);
      maxTask = Math.max(maxTask, k);
    }
    const mult = options.multiplicity;
    if (mult !== undefined && mult.length !== taskOfSample.length) {
      throw new SamplerError(`TaskBalancedSampler: multiplicity has ${mult.length} entries for ${taskOfSample.length} samples`);
    }
    const lists: number[][] = Array.from({ length: maxTask + 1 }, () => []);
    const passLists: number[][] = Array.from({ length: maxTask + 1 }, () => []);
    for (let i = 0; i < taskOfSample.length; i++) {
      const m = mult ? mult[i] : 1;
      if (!Number.isInteger(m) || m < 1 || m > 1000) throw new SamplerError(`TaskBalancedSampler: multiplicity[${i}] = ${m}; multiplicities must be integers in 1..1000`);
      lists[taskOfSample[i]].push(i);
      for (let r = 0; r < m; r++) passLists[taskOfSample[i]].push(i);
    }
    this.members = lists.map((l) => Int32Array.from(l));
    this.passMembers = passLists.map((l) => Int32Array.from(l));
    this.activeTasks = Int32Array.from(lists.flatMap((l, k) => (l.length > 0 ? [k] : [])));
    if (this.activeTasks.length < tasksPerBatch) {
      throw new SamplerError(`TaskBalancedSampler: tasksPerBatch (${tasksPerBatch}) exceeds the number of tasks with samples (${this.activeTasks.length})`);
    }
    this.tasksPerBatch = tasksPerBatch;
    this.samplesPerTask = samplesPerTask;
    this.taskWeighting = weighting;
    this.rng = new Rng(seed);
    this.queues = lists.map(() => ({ order: [], next: 0 }));
    this.passes = new Int32Array(lists.length);
    this.started = new Uint8Array(lists.length);
  }

  /** Batches drawn so far. */
  get step(): number {
    return this.steps;
  }

  /** Samples of a task (ascending ids). */
  samplesOf(task: number): Int32Array {
    return this.members[task] ?? new Int32Array(0);
  }

  next(): SampledBatch {
    const tasks = this.taskWeighting === 'uniform' ? this.uniformTasks() : this.proportionalTasks();
    const ids = new Int32Array(tasks.length * this.samplesPerTask);
    let repeats = 0;
    tasks.forEach((task, k) => {
      const drawn = this.drawFromTask(task);
      repeats += drawn.repeats;
      ids.set(drawn.ids, k * this.samplesPerTask);
    });
    return { ids, tasks: Int32Array.from(tasks), repeats, step: this.steps++ };
  }

  /** Draws and discards n batches (resuming a run at step n). */
  skip(n: number): void {
    for (let i = 0; i < n; i++) this.next();
  }

  /** The next tasksPerBatch distinct tasks of a shuffled cycle over all tasks. */
  private uniformTasks(): number[] {
    const out: number[] = [];
    while (out.length < this.tasksPerBatch) {
      if (this.taskCycle.length === 0) {
        const cycle = this.rng.shuffle(Array.from(this.activeTasks));
        // Tasks already in this batch go to the back of the new cycle, so the batch
        // stays distinct and they come up again soon (the balance holds up to a batch).
        this.taskCycle = [...cycle.filter((k) => !out.includes(k)), ...cycle.filter((k) => out.includes(k))];
      }
      const k = this.taskCycle.shift()!;
      out.push(k);
    }
    return out;
  }

  /** Weighted sampling without replacement (Efraimidis-Spirakis keys u^(1/w)). */
  private proportionalTasks(): number[] {
    const keyed = Array.from(this.activeTasks, (k) => ({ k, key: Math.log(this.rng.next() || Number.MIN_VALUE) / this.members[k].length }));
    keyed.sort((a, b) => b.key - a.key || a.k - b.k);
    return keyed.slice(0, this.tasksPerBatch).map((x) => x.k);
  }

  private drawFromTask(task: number): { ids: number[]; repeats: number } {
    const members = this.members[task];
    const queue = this.queues[task];
    const want = this.samplesPerTask;
    const ids: number[] = [];
    while (ids.length < Math.min(want, members.length)) {
      if (queue.next === queue.order.length) this.refill(task, ids);
      ids.push(queue.order[queue.next++]);
    }
    // Fewer samples than samplesPerTask: repeat some, drawn at random from the task.
    let repeats = 0;
    while (ids.length < want) {
      ids.push(members[this.rng.int(members.length)]);
      repeats++;
    }
    return { ids, repeats };
  }

  /** A fresh shuffled pass over a task's samples; those already in the current slot go last. */
  private refill(task: number, inSlot: readonly number[]): void {
    if (this.started[task]) this.passes[task]++;
    this.started[task] = 1;
    const order = this.rng.shuffle(Array.from(this.passMembers[task]));
    const q = this.queues[task];
    q.order = [...order.filter((i) => !inSlot.includes(i)), ...order.filter((i) => inSlot.includes(i))];
    q.next = 0;
  }
}
