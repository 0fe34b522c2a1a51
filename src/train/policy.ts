/**
 * The policy interface the evaluation harness drives (issue 6 item 5), a receding-horizon
 * executor, and the built-in policies.
 *
 * A policy maps a batch of observations + instructions to action chunks: one
 * Float32Array of chunkSize x ACTION_DIM per input, step-major ([a_0, a_1, ...], each
 * a_k = [dx, dy, dz, rx, ry, rz, gripper] in the simulation's [-1, 1] action space).
 * The executor runs the first `executeSteps` actions of each chunk and then asks again
 * (receding horizon, as PRTS / pi0-style chunked policies are evaluated on LIBERO).
 *
 * Model policies plug in through ModelPolicy, which only needs a function
 * `(inputs) -> chunks`: the DiT head's sampleActions (5 Euler steps) or AR FAST decoding
 * wrapped with its checkpoint, tokenizers and un-normalisation is such a function.
 *
 * Runs in a browser worker and in Node: no Node APIs here.
 */
import { Rng } from '../engine/random';
import { ACTION_DIM, createExpert, type EpisodeRecord, type Observation, type World } from '../sim/index';

/** What a policy sees for one environment at a re-planning step. */
export interface PolicyInput {
  /** Slot of the environment in the current batch (stable for the episode). */
  envId: number;
  obs: Observation;
  /** The instruction the episode runs with (after paraphrase / novel-task perturbations). */
  instruction: string;
  taskId: string;
  /**
   * Privileged simulator state. Only oracle policies (the scripted expert) may read it;
   * the harness passes it only to policies that declare `privileged: true`.
   */
  world?: World;
}

/** One episode starting in a slot; passed to Policy.reset. */
export interface EpisodeStart {
  envId: number;
  taskId: string;
  instruction: string;
  /** Index of the fixed initial state (0..49). */
  initState: number;
  /** 'nominal' or a perturbation kind. */
  perturbation: string;
  /**
   * Per-episode seed derived from the evaluation seed and the episode's identity (not
   * its slot), so a stochastic policy draws the same numbers however episodes are batched.
   */
  seed: number;
  world?: World;
}

export interface Policy {
  readonly name: string;
  /** Actions per chunk (H). */
  readonly chunkSize: number;
  /** Actions to execute per chunk before re-planning, when the caller does not say (default chunkSize). */
  readonly executeSteps?: number;
  /** Whether act() needs camera images (the harness turns the cameras off otherwise). */
  readonly needsImages?: boolean;
  /** Whether the policy reads the simulator state (PolicyInput.world). */
  readonly privileged?: boolean;
  /** New episodes start in these slots; forget any state kept for them. */
  reset(episodes: EpisodeStart[]): void | Promise<void>;
  /** One chunk (chunkSize x ACTION_DIM floats, step-major) per input, in input order. */
  act(inputs: PolicyInput[]): Promise<Float32Array[]>;
  /** Frees resources (GPU buffers, workers). */
  dispose?(): void;
  /**
   * Problems the policy hit in one slot's current episode (e.g. AR chunks whose tokens
   * did not decode), read when the episode ends, so a failure shows in the results
   * instead of passing silently. Counts restart when the slot is reset.
   */
  episodeIssues?(envId: number): number;
  /** Run-wide diagnostics for the results file (counters and the last problem seen). */
  diagnostics?(): Record<string, unknown>;
}

/** Checks a policy's output for a batch and names the policy, slot and problem. */
export function validateChunks(policy: Pick<Policy, 'name' | 'chunkSize'>, inputs: PolicyInput[], chunks: Float32Array[]): void {
  if (!Array.isArray(chunks) || chunks.length !== inputs.length) {
    throw new Error(`policy '${policy.name}': act() returned ${Array.isArray(chunks) ? chunks.length : typeof chunks} chunks for ${inputs.length} inputs`);
  }
  const want = policy.chunkSize * ACTION_DIM;
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i];
    if (!(c instanceof Float32Array) || c.length !== want) {
      throw new Error(`policy '${policy.name}': chunk for env ${inputs[i].envId} must be a Float32Array of chunkSize*${ACTION_DIM} = ${want} values, got ${c instanceof Float32Array ? c.length : typeof c}`);
    }
    for (let k = 0; k < c.length; k++) {
      if (!Number.isFinite(c[k])) {
        throw new Error(`policy '${policy.name}': chunk for env ${inputs[i].envId} has a non-finite value at step ${Math.floor(k / ACTION_DIM)}, dim ${k % ACTION_DIM}`);
      }
    }
  }
}

// ------------------------------------------------------------------ executor

export interface ExecutorOptions {
  /** Actions executed from each chunk before re-planning (1..chunkSize; default policy.executeSteps, else chunkSize). */
  executeSteps?: number;
}

/**
 * Receding-horizon execution over N environments: each slot holds the unexecuted head
 * of its last chunk; slots whose queue is empty are re-planned together in one act()
 * call, so a batched model runs once per re-planning step.
 */
export class RecedingHorizonExecutor {
  readonly executeSteps: number;
  private queues = new Map<number, { chunk: Float32Array; next: number }>();
  /** act() calls and chunks received, for progress and the executor test. */
  actCalls = 0;
  chunks = 0;

  constructor(
    readonly policy: Policy,
    opts: ExecutorOptions = {},
  ) {
    const e = opts.executeSteps ?? policy.executeSteps ?? policy.chunkSize;
    if (!Number.isInteger(policy.chunkSize) || policy.chunkSize < 1) throw new Error(`policy '${policy.name}': chunkSize must be a positive integer, got ${policy.chunkSize}`);
    if (!Number.isInteger(e) || e < 1 || e > policy.chunkSize) {
      throw new Error(`executeSteps must be an integer in [1, chunkSize = ${policy.chunkSize}] for policy '${policy.name}', got ${e}`);
    }
    this.executeSteps = e;
  }

  async reset(episodes: EpisodeStart[]): Promise<void> {
    for (const ep of episodes) this.queues.delete(ep.envId);
    await this.policy.reset(episodes);
  }

  /** Drops a finished slot's pending actions. */
  finish(envId: number): void {
    this.queues.delete(envId);
  }

  /** The next action for each input's slot (re-planning the slots that ran out). */
  async next(inputs: PolicyInput[]): Promise<Float32Array[]> {
    const stale = inputs.filter((x) => !this.queues.has(x.envId));
    if (stale.length > 0) {
      const chunks = await this.policy.act(stale);
      validateChunks(this.policy, stale, chunks);
      this.actCalls++;
      this.chunks += chunks.length;
      stale.forEach((x, i) => this.queues.set(x.envId, { chunk: chunks[i], next: 0 }));
    }
    return inputs.map((x) => {
      const q = this.queues.get(x.envId)!;
      const a = q.chunk.slice(q.next * ACTION_DIM, (q.next + 1) * ACTION_DIM);
      q.next++;
      if (q.next >= this.executeSteps) this.queues.delete(x.envId);
      return a;
    });
  }
}

// ------------------------------------------------------------------ built-in policies

/**
 * The scripted expert as a policy (a privileged oracle, chunk size 1: it is closed-loop
 * on the true object poses). Used to check the harness: through it the harness must
 * reproduce the experts' success rate.
 */
export class ExpertPolicy implements Policy {
  readonly name = 'expert';
  readonly chunkSize = 1;
  readonly privileged = true;
  private experts = new Map<number, { nextAction(): { action: Float32Array } }>();

  reset(episodes: EpisodeStart[]): void {
    for (const ep of episodes) {
      if (!ep.world) throw new Error(`ExpertPolicy.reset: episode in env ${ep.envId} (${ep.taskId}) has no world; the expert needs the simulator state`);
      this.experts.set(ep.envId, createExpert(ep.world));
    }
  }

  async act(inputs: PolicyInput[]): Promise<Float32Array[]> {
    return inputs.map((x) => {
      const e = this.experts.get(x.envId);
      if (!e) throw new Error(`ExpertPolicy.act: env ${x.envId} was not reset`);
      return Float32Array.from(e.nextAction().action);
    });
  }
}

export interface RandomPolicyOptions {
  seed?: number;
  chunkSize?: number;
  /** Action magnitude: uniform in [-scale, scale] (default 1). */
  scale?: number;
}

/**
 * Uniform random actions, seeded per episode (policy seed x episode seed) so the draw
 * does not depend on which slot or batch an episode lands in.
 */
export class RandomPolicy implements Policy {
  readonly name: string;
  readonly chunkSize: number;
  private readonly seed: number;
  private readonly scale: number;
  private rngs = new Map<number, Rng>();

  constructor(opts: RandomPolicyOptions = {}) {
    this.seed = opts.seed ?? 0;
    this.chunkSize = opts.chunkSize ?? 1;
    this.scale = opts.scale ?? 1;
    if (!(this.scale > 0 && this.scale <= 1)) throw new Error(`RandomPolicy: scale must be in (0, 1], got ${this.scale}`);
    this.name = `random(seed=${this.seed})`;
  }

  reset(episodes: EpisodeStart[]): void {
    for (const ep of episodes) this.rngs.set(ep.envId, new Rng(mixSeeds(this.seed, ep.seed)));
  }

  async act(inputs: PolicyInput[]): Promise<Float32Array[]> {
    return inputs.map((x) => {
      const rng = this.rngs.get(x.envId);
      if (!rng) throw new Error(`RandomPolicy.act: env ${x.envId} was not reset`);
      const c = new Float32Array(this.chunkSize * ACTION_DIM);
      for (let i = 0; i < c.length; i++) c[i] = rng.uniform(-this.scale, this.scale);
      return c;
    });
  }
}

/** A recorded episode: EpisodeRecord and the harness's EpisodeResult both fit. */
export interface ReplayRecording {
  taskId: string;
  initState: number | Pick<EpisodeRecord['initState'], 'index'>;
  instruction: string;
  actions?: ArrayLike<ArrayLike<number>>;
}

/** Returns the recorded actions for an episode, or undefined when none was recorded. */
export type ReplaySource = (ep: EpisodeStart) => ArrayLike<ArrayLike<number>> | undefined;

/**
 * Plays recorded action sequences open-loop (e.g. dataset episodes or records from an
 * earlier run); after the recording ends it holds still with the last gripper command.
 */
export class ReplayPolicy implements Policy {
  readonly chunkSize = 1;
  private playing = new Map<number, { actions: ArrayLike<ArrayLike<number>>; t: number }>();

  constructor(
    private readonly source: ReplaySource,
    readonly name = 'replay',
  ) {}

  /**
   * Replays recordings matched by task, initial-state index and instruction: the sim's
   * EpisodeRecords, or the harness's episode results kept with keepActions.
   */
  static fromRecords(records: ReplayRecording[], name = 'replay'): ReplayPolicy {
    const key = (taskId: string, init: number, instruction: string) => `${taskId}#${init}|${instruction}`;
    const map = new Map(
      records.map((r, i) => {
        if (!r.actions) throw new Error(`ReplayPolicy.fromRecords: recording ${i} (${r.taskId}) has no actions (evaluate with keepActions: true)`);
        return [key(r.taskId, typeof r.initState === 'number' ? r.initState : r.initState.index, r.instruction), r.actions] as const;
      }),
    );
    return new ReplayPolicy((ep) => map.get(key(ep.taskId, ep.initState, ep.instruction)), name);
  }

  reset(episodes: EpisodeStart[]): void {
    for (const ep of episodes) {
      const actions = this.source(ep);
      if (!actions) throw new Error(`ReplayPolicy '${this.name}': no recording for ${ep.taskId} init ${ep.initState} (${ep.perturbation})`);
      this.playing.set(ep.envId, { actions, t: 0 });
    }
  }

  async act(inputs: PolicyInput[]): Promise<Float32Array[]> {
    return inputs.map((x) => {
      const p = this.playing.get(x.envId);
      if (!p) throw new Error(`ReplayPolicy.act: env ${x.envId} was not reset`);
      const out = new Float32Array(ACTION_DIM);
      if (p.t < p.actions.length) {
        const a = p.actions[p.t];
        if (a.length !== ACTION_DIM) throw new Error(`ReplayPolicy '${this.name}': action ${p.t} has ${a.length} values, expected ${ACTION_DIM}`);
        for (let i = 0; i < ACTION_DIM; i++) out[i] = a[i];
      } else if (p.actions.length > 0) {
        out[6] = p.actions[p.actions.length - 1][6];
      }
      p.t++;
      return out;
    });
  }
}

// ------------------------------------------------------------------ model adapter

/**
 * The adapter point for learned policies: a batched function from observations +
 * instructions to action chunks. A PRTS checkpoint provides one by tokenising the
 * instruction and proprioception, running the backbone, then either the DiT's
 * sampleActions (5 Euler steps from noise) or AR FAST decoding, and un-normalising
 * (q01/q99) back to the [-1, 1] action space.
 */
export type ChunkFn = (inputs: PolicyInput[]) => Promise<Float32Array[]>;

export interface ModelPolicyOptions {
  name: string;
  chunkSize: number;
  /** The policy's re-planning interval (Policy.executeSteps). */
  executeSteps?: number;
  predict: ChunkFn;
  /** Default true: learned policies look at the cameras. */
  needsImages?: boolean;
  /** Called on new episodes (e.g. to reseed a sampler per episode). */
  onReset?: (episodes: EpisodeStart[]) => void | Promise<void>;
  dispose?: () => void;
  episodeIssues?: (envId: number) => number;
  diagnostics?: () => Record<string, unknown>;
}

export class ModelPolicy implements Policy {
  readonly name: string;
  readonly chunkSize: number;
  readonly executeSteps?: number;
  readonly needsImages: boolean;

  constructor(private readonly o: ModelPolicyOptions) {
    if (!o.name) throw new Error('ModelPolicy: name is required');
    if (!Number.isInteger(o.chunkSize) || o.chunkSize < 1) throw new Error(`ModelPolicy '${o.name}': chunkSize must be a positive integer, got ${o.chunkSize}`);
    if (typeof o.predict !== 'function') throw new Error(`ModelPolicy '${o.name}': predict must be a function (inputs) => Promise<Float32Array[]>`);
    this.name = o.name;
    this.chunkSize = o.chunkSize;
    if (o.executeSteps !== undefined && (!Number.isInteger(o.executeSteps) || o.executeSteps < 1 || o.executeSteps > o.chunkSize)) {
      throw new Error(`ModelPolicy '${o.name}': executeSteps must be an integer in [1, chunkSize = ${o.chunkSize}], got ${o.executeSteps}`);
    }
    this.executeSteps = o.executeSteps;
    this.needsImages = o.needsImages ?? true;
  }

  async reset(episodes: EpisodeStart[]): Promise<void> {
    await this.o.onReset?.(episodes);
  }

  async act(inputs: PolicyInput[]): Promise<Float32Array[]> {
    const chunks = await this.o.predict(inputs);
    validateChunks(this, inputs, chunks);
    return chunks;
  }

  dispose(): void {
    this.o.dispose?.();
  }

  episodeIssues(envId: number): number {
    return this.o.episodeIssues?.(envId) ?? 0;
  }

  diagnostics(): Record<string, unknown> {
    return this.o.diagnostics?.() ?? {};
  }
}

/** Lifts a per-sample `(obs, instruction) -> chunk` function to a batched ChunkFn. */
export function perSample(fn: (obs: Observation, instruction: string) => Float32Array | Promise<Float32Array>): ChunkFn {
  return async (inputs) => {
    const out: Float32Array[] = [];
    for (const x of inputs) out.push(await fn(x.obs, x.instruction));
    return out;
  };
}

/** 32-bit mix of two seeds (murmur3 finaliser over a combination), never Math.random. */
export function mixSeeds(a: number, b: number): number {
  let h = (Math.imul(a >>> 0, 0x9e3779b1) ^ (b >>> 0)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
