/**
 * Training checkpoints, the same code in the browser and in Node: everything goes
 * through a WritableDatasetIO (src/data/io.ts), which Node implements over the disk
 * (checkpoint-node.ts) and the browser over memory or IndexedDB.
 *
 * Layout of a run directory (`--out`):
 *   latest.json                 { "dir": "step-00000200", "step": 200 }, replaced atomically
 *   step-00000200/              one complete checkpoint:
 *     model.safetensors         every named parameter, f32 (ParamStore names)
 *     optimizer.safetensors     AdamW moments: "exp_avg.<param>", "exp_avg_sq.<param>";
 *                               metadata "steps" = JSON { param: bias-correction step }
 *     config.json               the WorkbenchConfig of the run
 *     tokenizers.json           TokenizerBundle.toJSON()
 *     metrics.jsonl             one PretrainStepMetrics per line, from step 0
 *     trainer.json              TrainerState + the byte size and FNV-1a hash of every
 *                               other file; written last
 *   and, in a post-training checkpoint (trainer.json kind "posttrain", src/train/posttrain.ts):
 *     dit.json                  the DiT action expert's DitConfig; its parameters are the
 *                               `dit.*` tensors of model.safetensors, next to the backbone's
 *     posttrain-metrics.jsonl   one PostTrainStepMetrics per line (metrics.jsonl keeps the
 *                               pre-training history the run started from)
 * Optional files are listed in the manifest only when present, so pre-training
 * checkpoints are byte-for-byte what they were before post-training existed.
 *
 * Nothing is lost on a crash: each file is written atomically (temp + rename), a step
 * directory counts only once its trainer.json exists, and latest.json moves to it only
 * after that, so a crash mid-save leaves the previous checkpoint current. Older step
 * directories are pruned after the switch (the newest `keep` stay). Loading checks the
 * sizes and hashes (a truncated or corrupted file is named), and applyParams /
 * applyOptimizer check names and shapes against the model.
 */
import { joinPath, type WritableDatasetIO } from '../data/io.ts';
import type { AdamW } from '../engine/optim.ts';
import { validateConfig, type WorkbenchConfig } from '../model/config.ts';
import type { ParamStore } from '../model/params.ts';
import { TokenizerBundle, type TokenizerBundleJSON } from '../model/tokenizers/index.ts';
import type { PretrainStepMetrics } from './metrics.ts';
import { validateDitConfig, type DitConfig } from '../model/dit.ts';
import type { PostTrainerState, PostTrainStepMetrics, PretrainResume, TrainerState } from './trainer-state.ts';
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from './safetensors.ts';

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

/** A writable directory; removeDir (optional) lets pruning delete whole step directories. */
export type CheckpointIO = WritableDatasetIO & { removeDir?(dir: string): Promise<void> };

export const CHECKPOINT_FILES = ['model.safetensors', 'optimizer.safetensors', 'config.json', 'tokenizers.json', 'metrics.jsonl'] as const;
/** Written only by post-training; loaded when the manifest lists them. */
export const OPTIONAL_FILES = ['dit.json', 'posttrain-metrics.jsonl'] as const;

export interface CheckpointData {
  config: WorkbenchConfig;
  tokenizers: TokenizerBundleJSON;
  params: NamedTensor[];
  optimizer: NamedTensor[];
  optimizerSteps: Record<string, number>;
  trainer: TrainerState | PostTrainerState;
  metrics: PretrainStepMetrics[];
  /** Post-training only: its per-step metrics and the DiT's config. */
  postMetrics?: PostTrainStepMetrics[];
  dit?: DitConfig;
}

type TrainerFile = (TrainerState | PostTrainerState) & {
  files: Record<string, { bytes: number; fnv1a: string }>;
};

/** 32-bit FNV-1a: cheap, and enough to tell a corrupted file from an intact one. */
export function fnv1a(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function stepDirName(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}

/** AdamW state as named tensors (moments of parameters that never had a gradient are zeros). */
export async function optimizerTensors(opt: AdamW): Promise<{ tensors: NamedTensor[]; steps: Record<string, number> }> {
  const st = await opt.state();
  const params = opt.params;
  const tensors: NamedTensor[] = [];
  const steps: Record<string, number> = {};
  st.names.forEach((name, i) => {
    if (!name) throw new CheckpointError(`optimizer parameter ${i} has no name; checkpoints address parameters by name`);
    const shape = [...params[i].shape];
    tensors.push({ name: `exp_avg.${name}`, shape, data: st.m[i] }, { name: `exp_avg_sq.${name}`, shape, data: st.v[i] });
    steps[name] = st.steps[i];
  });
  return { tensors, steps };
}

export interface SaveOptions {
  /** Step directories to keep (default 2: the new one and its predecessor). */
  keep?: number;
}

/** Writes one checkpoint under `io` (a run directory) and points latest.json at it. Returns the step directory. */
export async function saveCheckpoint(io: CheckpointIO, data: CheckpointData, options: SaveOptions = {}): Promise<string> {
  const dir = stepDirName(data.trainer.step);
  await io.mkdirp(dir);
  const files: Record<string, Uint8Array> = {
    'model.safetensors': encodeSafetensors(data.params, { format: 'prts-model', step: String(data.trainer.step) }),
    'optimizer.safetensors': encodeSafetensors(data.optimizer, { format: 'prts-adamw', steps: JSON.stringify(data.optimizerSteps) }),
    'config.json': enc.encode(JSON.stringify(data.config, null, 2) + '\n'),
    'tokenizers.json': enc.encode(JSON.stringify(data.tokenizers) + '\n'),
    'metrics.jsonl': enc.encode(data.metrics.map((m) => JSON.stringify(m) + '\n').join('')),
  };
  if (data.dit) files['dit.json'] = enc.encode(JSON.stringify(data.dit, null, 2) + '\n');
  if (data.postMetrics) files['posttrain-metrics.jsonl'] = enc.encode(data.postMetrics.map((m) => JSON.stringify(m) + '\n').join(''));
  const manifest: TrainerFile = { ...data.trainer, files: {} };
  for (const [name, bytes] of Object.entries(files)) {
    await io.writeFileAtomic(joinPath(dir, name), bytes);
    manifest.files[name] = { bytes: bytes.length, fnv1a: fnv1a(bytes) };
  }
  await io.writeFileAtomic(joinPath(dir, 'trainer.json'), enc.encode(JSON.stringify(manifest, null, 2) + '\n'));
  await io.writeFileAtomic('latest.json', enc.encode(JSON.stringify({ dir, step: data.trainer.step }) + '\n'));
  await prune(io, dir, options.keep ?? 2);
  return dir;
}

async function prune(io: CheckpointIO, current: string, keep: number): Promise<void> {
  const dirs = (await io.list('')).filter((d) => /^step-\d{8}$/.test(d) && d !== current).sort();
  const drop = dirs.slice(0, Math.max(0, dirs.length - (keep - 1)));
  for (const d of drop) {
    if (io.removeDir) await io.removeDir(d);
    else for (const f of await io.list(d)) await io.remove(joinPath(d, f));
  }
}

async function readText(io: WritableDatasetIO, path: string, what: string): Promise<string> {
  if (!(await io.exists(path))) throw new CheckpointError(`checkpoint: ${what} "${path}" is missing`);
  return dec.decode(await io.readFile(path));
}

function parseJson<T>(text: string, path: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new CheckpointError(`checkpoint: "${path}" is not valid JSON (${(e as Error).message})`);
  }
}

/**
 * Finds the checkpoint directory under `io`: `dir` if given, else the one latest.json
 * names, else the root itself when it holds a trainer.json (a step directory opened directly).
 */
export async function resolveCheckpointDir(io: WritableDatasetIO, dir?: string): Promise<string> {
  if (dir !== undefined) return dir;
  if (await io.exists('latest.json')) {
    const latest = parseJson<{ dir?: unknown }>(await readText(io, 'latest.json', 'pointer'), 'latest.json');
    if (typeof latest.dir !== 'string' || !/^step-\d{8}$/.test(latest.dir)) throw new CheckpointError(`checkpoint: latest.json field "dir" must name a step directory, got ${JSON.stringify(latest.dir)}`);
    return latest.dir;
  }
  if (await io.exists('trainer.json')) return '';
  throw new CheckpointError('checkpoint: no latest.json and no trainer.json here; this is not a checkpoint or run directory');
}

export async function loadCheckpoint(io: WritableDatasetIO, dir?: string): Promise<CheckpointData> {
  const root = await resolveCheckpointDir(io, dir);
  const p = (f: string) => joinPath(root, f);
  const trainer = parseJson<TrainerFile>(await readText(io, p('trainer.json'), 'trainer state'), p('trainer.json'));
  if (trainer.type !== 'prts-trainer' || trainer.version !== 1) {
    throw new CheckpointError(`checkpoint: ${p('trainer.json')} has type ${JSON.stringify(trainer.type)} version ${JSON.stringify(trainer.version)}; expected "prts-trainer" version 1`);
  }
  if (trainer.kind !== 'pretrain' && trainer.kind !== 'posttrain') {
    throw new CheckpointError(`checkpoint: ${p('trainer.json')} field "kind" must be "pretrain" or "posttrain", got ${JSON.stringify((trainer as { kind?: unknown }).kind)}`);
  }
  for (const f of ['step', 'steps', 'samplerSeed', 'samplerStep', 'tokens', 'seconds'] as const) {
    if (typeof trainer[f] !== 'number' || !Number.isFinite(trainer[f]) || trainer[f] < 0) throw new CheckpointError(`checkpoint: ${p('trainer.json')} field "${f}" must be a non-negative number, got ${JSON.stringify(trainer[f])}`);
  }
  if (!trainer.files || typeof trainer.files !== 'object') throw new CheckpointError(`checkpoint: ${p('trainer.json')} has no "files" manifest`);
  const bytes: Record<string, Uint8Array> = {};
  const optional = OPTIONAL_FILES.filter((f) => f in trainer.files);
  if (trainer.kind === 'posttrain' && !optional.includes('dit.json')) throw new CheckpointError(`checkpoint: ${p('trainer.json')} is a post-training checkpoint but its manifest lists no "dit.json"`);
  for (const name of [...CHECKPOINT_FILES, ...optional]) {
    const path = p(name);
    if (!(await io.exists(path))) throw new CheckpointError(`checkpoint: "${path}" is missing`);
    const b = await io.readFile(path);
    const want = trainer.files[name];
    if (!want) throw new CheckpointError(`checkpoint: the manifest in ${p('trainer.json')} does not list "${name}"`);
    if (b.length !== want.bytes) throw new CheckpointError(`checkpoint: "${path}" has ${b.length} bytes, the manifest says ${want.bytes} (truncated or replaced)`);
    const h = fnv1a(b);
    if (h !== want.fnv1a) throw new CheckpointError(`checkpoint: "${path}" is corrupted (FNV-1a ${h}, the manifest says ${want.fnv1a})`);
    bytes[name] = b;
  }
  const cfg = validateConfig(parseJson(dec.decode(bytes['config.json']), p('config.json')));
  if (!cfg.ok) throw new CheckpointError(`checkpoint: ${p('config.json')} is not a valid config: ${cfg.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
  const tokenizers = parseJson<TokenizerBundleJSON>(dec.decode(bytes['tokenizers.json']), p('tokenizers.json'));
  const wrap = <T>(what: string, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      throw new CheckpointError(`checkpoint: ${what}: ${(e as Error).message}`);
    }
  };
  const model = wrap(p('model.safetensors'), () => decodeSafetensors(bytes['model.safetensors']));
  const optim = wrap(p('optimizer.safetensors'), () => decodeSafetensors(bytes['optimizer.safetensors']));
  const optimizerSteps = wrap(`${p('optimizer.safetensors')} metadata "steps"`, () => JSON.parse(optim.metadata.steps ?? 'null') as Record<string, number> | null);
  if (!optimizerSteps || typeof optimizerSteps !== 'object') throw new CheckpointError(`checkpoint: ${p('optimizer.safetensors')} has no "steps" metadata`);
  const metrics = dec
    .decode(bytes['metrics.jsonl'])
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l, i) => parseJson<PretrainStepMetrics>(l, `${p('metrics.jsonl')} line ${i + 1}`));
  const { files: _files, ...state } = trainer;
  void _files;
  const out: CheckpointData = { config: cfg.value, tokenizers, params: model.tensors, optimizer: optim.tensors, optimizerSteps, trainer: state, metrics };
  if (bytes['dit.json']) {
    const dit = parseJson<DitConfig>(dec.decode(bytes['dit.json']), p('dit.json'));
    wrap(p('dit.json'), () => validateDitConfig(dit));
    if (dit.contextDim !== cfg.value.model.dModel) throw new CheckpointError(`checkpoint: ${p('dit.json')} has contextDim ${dit.contextDim}, the backbone's d_model is ${cfg.value.model.dModel}`);
    const missing = !model.tensors.some((t) => t.name.startsWith('dit.'));
    if (missing) throw new CheckpointError(`checkpoint: ${p('dit.json')} is present but ${p('model.safetensors')} holds no dit.* parameters`);
    out.dit = dit;
  }
  if (bytes['posttrain-metrics.jsonl']) {
    out.postMetrics = dec
      .decode(bytes['posttrain-metrics.jsonl'])
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l, i) => parseJson<PostTrainStepMetrics>(l, `${p('posttrain-metrics.jsonl')} line ${i + 1}`));
  }
  return out;
}

/** The resume bundle Pretrainer.create takes. */
export function toResume(data: CheckpointData): PretrainResume {
  if (data.trainer.kind !== 'pretrain') {
    throw new CheckpointError('checkpoint: this is a post-training checkpoint (DiT attached); pre-training cannot resume from it. Use the pre-training run it started from, or PostTrainRun to continue post-training');
  }
  let tokenizers: TokenizerBundle;
  try {
    tokenizers = TokenizerBundle.fromJSON(data.tokenizers);
  } catch (e) {
    throw new CheckpointError(`checkpoint: tokenizers.json: ${(e as Error).message}`);
  }
  return { trainer: data.trainer as TrainerState, tokenizers, params: data.params, optimizer: data.optimizer, optimizerSteps: data.optimizerSteps, metrics: data.metrics };
}

/** Writes saved tensors into the model's parameters; every name must match in both directions, with equal shapes. */
export function applyParams(store: ParamStore, params: readonly NamedTensor[]): void {
  const saved = new Map(params.map((t) => [t.name, t]));
  const missing = [...store.tensors.keys()].filter((n) => !saved.has(n));
  const extra = [...saved.keys()].filter((n) => !store.tensors.has(n));
  if (missing.length || extra.length) {
    const list = (a: string[]) => a.slice(0, 6).join(', ') + (a.length > 6 ? `, ... (${a.length})` : '');
    throw new CheckpointError(
      `checkpoint: model parameters do not match the config's model` +
        (missing.length ? `; missing from the checkpoint: ${list(missing)}` : '') +
        (extra.length ? `; not in the model: ${list(extra)}` : ''),
    );
  }
  const bad: string[] = [];
  for (const [name, t] of store.tensors) {
    const s = saved.get(name)!;
    if (s.shape.length !== t.shape.length || s.shape.some((d, i) => d !== t.shape[i])) bad.push(`${name}: checkpoint [${s.shape}], model [${t.shape}]`);
  }
  if (bad.length) throw new CheckpointError(`checkpoint: parameter shapes differ from the config's model: ${bad.slice(0, 6).join('; ')}`);
  for (const [name, t] of store.tensors) t.rt.write(t.buffer, saved.get(name)!.data);
}

/** Restores AdamW moments and step counts saved by optimizerTensors, by parameter name. */
export function applyOptimizer(opt: AdamW, tensors: readonly NamedTensor[], steps: Record<string, number>): void {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const params = opt.params;
  const names = params.map((p, i) => p.name ?? `#${i}`);
  const m: Float32Array[] = [];
  const v: Float32Array[] = [];
  const st: number[] = [];
  params.forEach((p, i) => {
    const name = names[i];
    const a = byName.get(`exp_avg.${name}`);
    const b = byName.get(`exp_avg_sq.${name}`);
    if (!a || !b) throw new CheckpointError(`checkpoint: optimizer state for parameter "${name}" is missing (exp_avg / exp_avg_sq)`);
    for (const t of [a, b]) {
      if (t.data.length !== p.size) throw new CheckpointError(`checkpoint: optimizer tensor "${t.name}" has ${t.data.length} values, parameter "${name}" has ${p.size}`);
    }
    const k = steps[name];
    if (!Number.isInteger(k) || k < 0) throw new CheckpointError(`checkpoint: optimizer step count of "${name}" is ${JSON.stringify(k)}, expected a non-negative integer`);
    m.push(a.data);
    v.push(b.data);
    st.push(k);
  });
  if (byName.size !== 2 * params.length) throw new CheckpointError(`checkpoint: the optimizer state holds ${byName.size / 2} parameters, the model ${params.length}`);
  opt.load({ names, steps: st, m, v });
}
