/**
 * Model and training configuration: the zod schema every layer agrees on (UI editor,
 * training loops, checkpoints), three presets, and closed-form estimates of the
 * parameter count, sequence length and memory a config implies.
 *
 * The estimates follow the PRTS token layout (DESIGN.md 3): one document is
 *   [vision+state][instruction][AR action][CRL_action copy][CRL_goal copy]
 * so sequence length and attention cost are derived from the same fields the
 * tokenizers will use. Keep the formulas here in step with src/model's modules; the
 * model engineer's unit tests compare them with the real parameter tensors.
 */
import { z } from 'zod';
import tinyPreset from './presets/tiny.json';
import smallPreset from './presets/small.json';
import basePreset from './presets/base.json';
import cpuPreset from './presets/cpu.json';
import { SPECIAL_TOKENS } from './tokenizers/vocab.ts';

const int = (label: string) => z.number({ error: `${label} must be a number` }).int(`${label} must be a whole number`);
const pos = (label: string) => int(label).min(1, `${label} must be at least 1`);

export const CameraSchema = z
  .string()
  .trim()
  .regex(/^[a-z][a-z0-9_]{0,31}$/, 'camera names are 1-32 lowercase letters, digits or _, starting with a letter');

export const ModelConfigSchema = z
  .object({
    /** Text vocabulary (instruction, embodiment prompt, proprio-as-text digits, special tokens). */
    textVocab: pos('text vocab').max(262_144, 'text vocab is at most 262144'),
    /** FAST action-token vocabulary (BPE over quantized DCT coefficients). */
    actionVocab: pos('action vocab').max(65_536, 'action vocab is at most 65536'),
    dModel: pos('d_model').max(8192, 'd_model is at most 8192'),
    layers: pos('layers').max(128, 'layers is at most 128'),
    heads: pos('heads').max(128, 'heads is at most 128'),
    /** Attention kernels are specialised for these two head sizes. */
    headDim: z.union([z.literal(32), z.literal(64)], { error: 'head_dim must be 32 or 64' }),
    mlpRatio: z.number({ error: 'mlp ratio must be a number' }).min(1, 'mlp ratio must be at least 1').max(16, 'mlp ratio is at most 16'),
    patchSize: pos('patch size').max(64, 'patch size is at most 64'),
    imageSize: pos('image size').max(1024, 'image size is at most 1024'),
    cameras: z.array(CameraSchema).min(1, 'at least one camera is needed').max(8, 'at most 8 cameras'),
    /**
     * A learned absolute position embedding per image patch (a one-hot patch index in the
     * stem's input, src/train/vision.ts). RoPE alone tells attention how far apart two
     * tokens are but puts no position into what an image token carries. Default off: the
     * layout of checkpoints made before it existed.
     */
    patchPositions: z.boolean({ error: 'patch positions must be true or false' }).optional(),
    /**
     * <|action_start|> also carries the mean embedding of the instruction tokens, so the
     * first action token can look up the named object in one attention hop
     * (src/model/action-start-goal.ts says why). Default off: the layout of earlier checkpoints.
     */
    actionStartGoal: z.boolean({ error: 'action start goal must be true or false' }).optional(),
    /**
     * Classes of the grounding head (src/model/grounding.ts): which region holds the
     * object the instruction names, read at <|action_start|>. 0 or absent: no head (the
     * layout of earlier checkpoints). Trained only when train.lambdaGrounding > 0.
     */
    groundingClasses: int('grounding classes').min(0, 'grounding classes must be >= 0').max(256, 'grounding classes is at most 256').optional(),
    /** Proprio dimensions, one token each (PRTS Sec. 3.3: state as discretized text). */
    stateDim: pos('state dim').max(64, 'state dim is at most 64'),
    /** Resolution of a state token: 10^stateDigits bins (capped at 65536), see proprioBins. */
    stateDigits: pos('state digits').max(8, 'state digits is at most 8'),
    /** Longest embodiment prompt + instruction in tokens. */
    instructionTokens: pos('instruction tokens').max(512, 'instruction tokens is at most 512'),
    /** Action chunk length H (control steps per chunk). */
    chunkLength: pos('chunk length H').max(256, 'chunk length H is at most 256'),
    /** Action dimension K (6-D end-effector delta + gripper = 7). */
    actionDim: pos('action dim K').max(64, 'action dim K is at most 64'),
    /** Scale applied to DCT coefficients before rounding (FAST default 10). */
    fastScale: z.number({ error: 'FAST scale must be a number' }).positive('FAST scale must be positive').max(1000, 'FAST scale is at most 1000'),
    /** Upper bound on FAST tokens per chunk after BPE; sizes the AR/CRL action spans. */
    fastTokens: pos('FAST tokens').max(1024, 'FAST tokens is at most 1024'),
    /** Hidden width of the CRL projection MLPs (phi and psi). */
    crlHidden: pos('CRL hidden').max(8192, 'CRL hidden is at most 8192'),
    /** Dimension of the normalised phi/psi embeddings. */
    crlDim: pos('CRL dim').max(4096, 'CRL dim is at most 4096'),
    /** Q/K tile of the block-sparse attention kernels. */
    attnTile: z.union([z.literal(32), z.literal(64)], { error: 'attention tile must be 32 or 64' }),
    /**
     * Embodiment prompt before the instruction (Qwen-VLA Sec. 2.3): 'compact' (default),
     * 'qwen' (the paper's sentence) or 'none' (single-embodiment data, where it is the same
     * ~30 tokens in every sample).
     */
    embodimentPrompt: z.enum(['compact', 'qwen', 'none'], { error: "embodiment prompt must be 'compact', 'qwen' or 'none'" }).optional(),
    /**
     * Actions the policy executes from each predicted chunk before it re-plans (receding
     * horizon). Default: the whole chunk. Evaluation and rollouts use it unless told otherwise.
     */
    executeSteps: pos('execute steps').max(256, 'execute steps is at most 256').optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.heads * c.headDim !== c.dModel) {
      ctx.addIssue({
        code: 'custom',
        path: ['heads'],
        message: `heads x head_dim must equal d_model (${c.heads} x ${c.headDim} = ${c.heads * c.headDim}, d_model = ${c.dModel})`,
      });
    }
    if (c.imageSize % c.patchSize !== 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['patchSize'],
        message: `patch size must divide image size (${c.imageSize} / ${c.patchSize} is not whole)`,
      });
    }
    if (c.executeSteps !== undefined && c.executeSteps > c.chunkLength) {
      ctx.addIssue({ code: 'custom', path: ['executeSteps'], message: `execute steps (${c.executeSteps}) cannot exceed the chunk length H (${c.chunkLength})` });
    }
    if (new Set(c.cameras).size !== c.cameras.length) {
      ctx.addIssue({ code: 'custom', path: ['cameras'], message: 'camera names must be unique' });
    }
    if (c.groundingClasses === 1) {
      ctx.addIssue({ code: 'custom', path: ['groundingClasses'], message: 'grounding classes must be 0 (no head) or at least 2' });
    }
  });

export const TrainConfigSchema = z
  .object({
    batchSize: pos('batch size').max(4096, 'batch size is at most 4096'),
    lr: z.number({ error: 'learning rate must be a number' }).positive('learning rate must be positive').max(1, 'learning rate is at most 1'),
    warmupSteps: int('warmup steps').min(0, 'warmup steps must be >= 0'),
    steps: pos('steps').max(10_000_000, 'steps is at most 10,000,000'),
    weightDecay: z.number({ error: 'weight decay must be a number' }).min(0, 'weight decay must be >= 0').max(1, 'weight decay is at most 1'),
    gradClip: z.number({ error: 'grad clip must be a number' }).min(0, 'grad clip must be >= 0 (0 disables clipping)'),
    /** Discount of the CRL weights w = gamma^(T - t); the PRTS code uses 0.99, the paper 0.995. */
    gamma: z.number({ error: 'gamma must be a number' }).gt(0, 'gamma must be in (0, 1]').max(1, 'gamma must be in (0, 1]'),
    lambdaCrl: z.number({ error: 'lambda_crl must be a number' }).min(0, 'lambda_crl must be >= 0'),
    /** Initial temperature of the contrastive logits (PRTS code: 0.2). */
    temperatureInit: z.number({ error: 'temperature init must be a number' }).positive('temperature init must be positive'),
    /** Clamp of exp(s), the logit scale (PRTS: 100). */
    maxScale: z.number({ error: 'max scale must be a number' }).positive('max scale must be positive'),
    seed: int('seed').min(0, 'seed must be >= 0').max(0xffffffff, 'seed must fit in 32 bits'),
    // Optional pre-training fields (src/train/pretrain.ts resolves the defaults and
    // docs/training.md lists them); optional so the presets and saved configs stay valid.
    /** Samples of each task in a batch (positives of L_l->sa); batchSize / samplesPerTask tasks per batch. Default 4, or 2 for batches under 8. */
    samplesPerTask: pos('samples per task').max(4096, 'samples per task is at most 4096').optional(),
    /**
     * Batches per optimizer step, their gradients averaged (gradient accumulation): the
     * step sees accumulate x batchSize samples while memory holds one batch. Each batch
     * keeps its own InfoNCE (its own negatives), as the PyTorch twin's --accum does. The
     * CRL critic of the reach configs learns at 4 x 12 and not at 12 (docs/results.md
     * round 9). Default 1.
     */
    accumulate: pos('accumulate').max(64, 'accumulate is at most 64').optional(),
    /** Keep the CRL blocks in the sequence even when lambdaCrl = 0 (cost measurements, phi/psi read-out). Default: lambdaCrl > 0. */
    crlBlocks: z.boolean({ error: 'CRL blocks must be true or false' }).optional(),
    /** Cosine floor as a fraction of lr. Default 0.1. */
    minLrRatio: z.number({ error: 'min lr ratio must be a number' }).min(0, 'min lr ratio must be in [0, 1]').max(1, 'min lr ratio must be in [0, 1]').optional(),
    /** Packed row length in tokens; 0 or absent: one row per batch, sized to fit it. */
    rowTokens: int('row tokens').min(0, 'row tokens must be >= 0').max(1 << 20, 'row tokens is at most 1048576').optional(),
    /** Take every stride-th step of each episode as a sample. Default 1. */
    sampleStride: pos('sample stride').max(10_000, 'sample stride is at most 10000').optional(),
    /** Checkpoint every this many steps (0: only at the end). Default 100. */
    checkpointEvery: int('checkpoint every').min(0, 'checkpoint every must be >= 0').optional(),
    /**
     * Gaussian noise added to each training sample's state before it is tokenized, in
     * proprio bins (std = stateNoise x the dimension's bin width). Default 0. Discretized
     * state tokens make a policy trained on few demonstrations hypersensitive: a rollout
     * that strays 1 mm or 1 mrad from its demonstration lands in bins the model never saw
     * (issue 10, docs/results.md round 3); the noise trains the neighbouring bins too.
     */
    stateNoise: z.number({ error: 'state noise must be a number' }).min(0, 'state noise must be >= 0').max(100, 'state noise is at most 100 bins').optional(),
    /**
     * Keyframe weighting: samples whose chunk starts before step `steps` of their episode
     * are drawn `weight` times as often (src/model/batch/sampler.ts says why). Default off.
     */
    startFrames: z
      .object({
        steps: pos('start frames steps').max(100_000, 'start frames steps is at most 100000'),
        weight: pos('start frames weight').max(1000, 'start frames weight is at most 1000'),
      })
      .strict()
      .optional(),
    /**
     * Weight of the grounding loss (src/model/grounding.ts), which needs
     * model.groundingClasses and a dataset whose episodes name their goal object (the
     * simulator's). Default 0.
     */
    lambdaGrounding: z.number({ error: 'lambda grounding must be a number' }).min(0, 'lambda grounding must be >= 0').max(100, 'lambda grounding is at most 100').optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.samplesPerTask !== undefined && t.batchSize % t.samplesPerTask !== 0) {
      ctx.addIssue({ code: 'custom', path: ['samplesPerTask'], message: `samples per task (${t.samplesPerTask}) must divide batch size (${t.batchSize})` });
    }
    if (t.warmupSteps > t.steps) {
      ctx.addIssue({ code: 'custom', path: ['warmupSteps'], message: `warmup steps (${t.warmupSteps}) exceed total steps (${t.steps})` });
    }
    if (1 / t.temperatureInit > t.maxScale) {
      ctx.addIssue({
        code: 'custom',
        path: ['temperatureInit'],
        message: `1 / temperature init (${(1 / t.temperatureInit).toPrecision(3)}) exceeds max scale (${t.maxScale})`,
      });
    }
  });

export const WorkbenchConfigSchema = z
  .object({
    name: z.string().trim().min(1, 'name must not be empty').max(80, 'name is at most 80 characters'),
    model: ModelConfigSchema,
    train: TrainConfigSchema,
  })
  .strict()
  .superRefine((c, ctx) => {
    if ((c.train.lambdaGrounding ?? 0) > 0 && !c.model.groundingClasses) {
      ctx.addIssue({ code: 'custom', path: ['train', 'lambdaGrounding'], message: `lambda grounding is ${c.train.lambdaGrounding} but model.groundingClasses is 0: the model has no grounding head to train` });
    }
  });

export type ModelConfig = z.infer<typeof ModelConfigSchema>;
export type TrainConfig = z.infer<typeof TrainConfigSchema>;
export type WorkbenchConfig = z.infer<typeof WorkbenchConfigSchema>;

/** cpu: the preset calibrated with the reach suite for a 2-core CPU (docs/results.md, round 3). */
export const PRESET_NAMES = ['cpu', 'tiny', 'small', 'base'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

// Presets are parsed at load so a broken JSON file fails loudly in every test run.
export const PRESETS: Record<PresetName, WorkbenchConfig> = {
  tiny: WorkbenchConfigSchema.parse(tinyPreset),
  small: WorkbenchConfigSchema.parse(smallPreset),
  base: WorkbenchConfigSchema.parse(basePreset),
  cpu: WorkbenchConfigSchema.parse(cpuPreset),
};

export function isPresetName(s: string): s is PresetName {
  return (PRESET_NAMES as readonly string[]).includes(s);
}

/** One validation problem, addressed by a dotted path such as "model.heads". */
export interface FieldError {
  path: string;
  message: string;
}

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

function toFieldErrors(issues: readonly z.core.$ZodIssue[]): FieldError[] {
  return issues.map((i) => {
    let path = i.path.map(String).join('.');
    // A misspelt key is reported on the key itself so the editor can point at it.
    if (i.code === 'unrecognized_keys') path = [path, ...i.keys].filter(Boolean).join('.');
    return { path: path || '(root)', message: i.message };
  });
}

export function validateConfig(input: unknown): ValidationResult<WorkbenchConfig> {
  const r = WorkbenchConfigSchema.safeParse(input);
  return r.success ? { ok: true, value: r.data } : { ok: false, errors: toFieldErrors(r.error.issues) };
}

/** Parses exported JSON text; JSON syntax errors come back as a (root) field error. */
export function parseConfigJson(text: string): ValidationResult<WorkbenchConfig> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { ok: false, errors: [{ path: '(root)', message: `not valid JSON: ${(e as Error).message}` }] };
  }
  return validateConfig(raw);
}

export function configToJson(cfg: WorkbenchConfig): string {
  return JSON.stringify(cfg, null, 2) + '\n';
}

/** Token counts of one training document, by role (DESIGN.md 3). */
export interface SequenceLayout {
  visionTokens: number;
  stateTokens: number;
  instructionTokens: number;
  /** <|action_start|> + FAST tokens + <|action_end_ar|>. */
  arActionTokens: number;
  /** FAST copy + <|action_end|>. */
  crlActionTokens: number;
  /** Instruction copy + <|goal_end|>. */
  crlGoalTokens: number;
  total: number;
}

export function sequenceLayout(m: ModelConfig): SequenceLayout {
  const perCam = (m.imageSize / m.patchSize) ** 2;
  const visionTokens = Math.floor(perCam) * m.cameras.length;
  const stateTokens = m.stateDim;
  const arActionTokens = m.fastTokens + 2;
  const crlActionTokens = m.fastTokens + 1;
  const crlGoalTokens = m.instructionTokens + 1;
  const total = visionTokens + stateTokens + m.instructionTokens + arActionTokens + crlActionTokens + crlGoalTokens;
  return { visionTokens, stateTokens, instructionTokens: m.instructionTokens, arActionTokens, crlActionTokens, crlGoalTokens, total };
}

export interface ParamBreakdown {
  embeddings: number;
  patchEmbed: number;
  blocks: number;
  finalNorm: number;
  lmHead: number;
  crlHeads: number;
  /** 0 without model.groundingClasses. */
  groundingHead: number;
  total: number;
}

/**
 * Bins of the proprio tokenizer: a state value carries as much resolution as
 * stateDigits decimal digits, in one token. Capped so the vocabulary stays indexable.
 */
export function proprioBins(m: Pick<ModelConfig, 'stateDigits'>): number {
  return Math.min(10 ** m.stateDigits, 65_536);
}

/**
 * The largest unified vocabulary this config can give (src/model/tokenizers/vocab.ts):
 * special tokens + text + proprio bins + FAST. The tokenizers are fitted on the data,
 * so the text and FAST parts may come out smaller (a checkpoint's real size is
 * tokenizers.vocab.size).
 */
export function maxVocabSize(m: ModelConfig): number {
  return SPECIAL_TOKENS.length + m.textVocab + proprioBins(m) + m.actionVocab;
}

/**
 * Parameters of the model as src/model builds it (names as in a checkpoint): one
 * embedding table over the unified vocabulary (backbone.embed); a bias-free patch stem
 * whose input is the pixel patch plus a one-hot camera id and, with patchPositions, a
 * one-hot patch index (backbone.patch_stem, so the camera and position embeddings are rows
 * of the stem); pre-norm blocks with RMSNorm gains, Q/K/V/O
 * projections without biases and a SwiGLU MLP (three d x ratio*d matrices); a final
 * norm; an LM head over the unified vocabulary (lm_head.w: BC only scores FAST targets,
 * but decoding reads the same logits); two CRL heads (phi, psi), each Linear(d,
 * hidden)+bias, SiLU, Linear(hidden, crlDim) without bias (the output is
 * L2-normalised, so a bias would only shift the sphere), plus the logit scale; with
 * groundingClasses, the grounding head (Linear(d, classes) with bias).
 * `vocabSize` defaults to maxVocabSize: pass a checkpoint's vocab size for its exact count.
 */
export function paramCount(m: ModelConfig, vocabSize = maxVocabSize(m)): ParamBreakdown {
  const d = m.dModel;
  const hidden = Math.round(m.mlpRatio * d);
  const embeddings = vocabSize * d;
  const patchEmbed = (m.patchSize * m.patchSize * 3 + m.cameras.length + (m.patchPositions ? (m.imageSize / m.patchSize) ** 2 : 0)) * d;
  const attn = 4 * d * d;
  const mlp = 3 * d * hidden;
  const norms = 2 * d;
  const blocks = m.layers * (attn + mlp + norms);
  const finalNorm = d;
  const lmHead = d * vocabSize;
  const head = d * m.crlHidden + m.crlHidden + m.crlHidden * m.crlDim;
  const crlHeads = 2 * head + 1;
  const groundingHead = m.groundingClasses ? (d + 1) * m.groundingClasses : 0;
  const total = embeddings + patchEmbed + blocks + finalNorm + lmHead + crlHeads + groundingHead;
  return { embeddings, patchEmbed, blocks, finalNorm, lmHead, crlHeads, groundingHead, total };
}

export interface MemoryEstimate {
  /** f32 weights. */
  weights: number;
  /** f32 gradients. */
  grads: number;
  /** AdamW first and second moments. */
  optimizer: number;
  /** Activations kept for backward, for one batch. */
  activations: number;
  total: number;
  seqLen: number;
}

/**
 * Training memory in bytes (f32 everywhere, as the engine trains). Activations per
 * block and token: the normed input, Q, K, V, attention output, the two residual
 * inputs, the MLP's gate/up pre-activations and the SwiGLU product (~ 6 d + 3 r d
 * floats), plus the row logsumexp per head; FlashAttention-style kernels never
 * materialise the N x N scores. Logits are kept for the action positions only.
 */
export function memoryEstimate(cfg: WorkbenchConfig): MemoryEstimate {
  const m = cfg.model;
  const b = cfg.train.batchSize;
  const p = paramCount(m).total;
  const seq = sequenceLayout(m);
  const n = seq.total;
  const d = m.dModel;
  const hidden = Math.round(m.mlpRatio * d);
  const perTokenPerLayer = 6 * d + 3 * hidden + m.heads;
  const activations = 4 * b * n * (m.layers * perTokenPerLayer + 2 * d) + 4 * b * seq.arActionTokens * m.actionVocab;
  const weights = 4 * p;
  const grads = 4 * p;
  const optimizer = 8 * p;
  return { weights, grads, optimizer, activations, total: weights + grads + optimizer + activations, seqLen: n };
}

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}

