/**
 * The policy a CLI runs, from its command line: `--policy expert|random[:seed]|replay:<results.json>|checkpoint:<dir>[:dit|:ar]`
 * or `--checkpoint <dir> [--mode dit|ar]`, with `--candidates N [--temperature T]` for
 * checkpoints. Shared by `npm run eval` and `npm run eval:grounding`, so that both read
 * the same specs with the same messages and show a checkpoint the same images.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { OptionSpecs } from '../../cli/args.ts';
import type { CheckpointData } from '../checkpoint';
import { demoPolicyOptions, parseDemoRecord, type DemoRecord } from '../demo-run';
import { parseResults } from '../eval-results';
import { ExpertPolicy, RandomPolicy, ReplayPolicy, type Policy } from '../policy';

/** The checkpoint options of a CLI that runs a policy (after its --policy option), as eval and eval:grounding write them. */
export const CHECKPOINT_OPTIONS = {
  checkpoint: { type: 'string', metavar: 'dir', help: 'short for --policy checkpoint:<dir> (a run directory or a .prts.zip archive); a <name>.demo.json record (public/demo/reach4-cpu.demo.json) acts as the shipped demo does' },
  mode: { type: 'string', choices: ['dit', 'ar'], help: "with --checkpoint: the DiT action expert or AR FAST decoding (default dit when the checkpoint has one)" },
  candidates: { type: 'int', min: 1, max: 64, metavar: 'N', help: 'with --checkpoint: propose N chunks per observation and execute the one with the highest CRL value phi(s,a).psi(l) (default 1, the plain policy; docs/evaluation.md)' },
  temperature: { type: 'number', above: 0, metavar: 'T', help: 'with --candidates: AR sampling temperature of the proposals after the first (default 1)' },
  'select-calls': { type: 'int', min: 0, metavar: 'N', help: "with --candidates: select by value on each episode's first N re-plans only, then run the plain policy (default: every re-plan; 0 with --coherent: no value selection at all)" },
  coherent: { type: 'boolean', help: "with --select-calls: after those re-plans keep proposing --candidates chunks and execute the one that best continues the previous chunk's unexecuted actions, instead of the plain policy's; --select-calls 0 --coherent needs no critic (docs/evaluation.md)" },
  critic: { type: 'string', metavar: 'dir', help: "with --candidates: score the proposals with this checkpoint's CRL critic instead of the policy's own (same tokenizers and vision settings; the policy may be BC-only)" },
} as const satisfies OptionSpecs;

/** The options these functions read (a CLI may leave out the ones it does not offer). */
export interface PolicyArgs {
  policy?: string;
  checkpoint?: string;
  mode?: 'dit' | 'ar';
  seed?: number;
  candidates?: number;
  temperature?: number;
  'select-calls'?: number;
  coherent?: boolean;
  critic?: string;
  /** The re-planning interval the CLI's executor uses (coherent selection must know it). */
  'execute-steps'?: number;
  /** Chunk length of the random policy. */
  chunk?: number;
}

/** The CLI's fail: prints `<name>: <message>` and the synopsis, exits 2. */
export type Fail = (message: string) => never;

/** What a `--checkpoint <name>.demo.json` expands to, and the line that says so. */
export interface DemoExpansion<T> {
  args: T;
  note: string;
}

/**
 * `--checkpoint <name>.demo.json`: the shipped demo as its record says it acts (a DemoRecord,
 * src/train/demo-run.ts): the proposer's archive with the record's archive as its critic when
 * the demo is a pair, else the archive alone, with the record's head, selection and
 * re-planning interval. The archives are found beside the record. How it acts is the
 * record's to say: giving --mode, --candidates, --temperature, --select-calls, --coherent or
 * --critic as well is refused (give the archives themselves to change it). Any other
 * checkpoint passes through unchanged (null).
 */
export function expandDemoRecord<T extends PolicyArgs>(args: T, fail: Fail, read: (path: string) => string = (p) => readFileSync(p, 'utf8')): DemoExpansion<T> | null {
  const path = args.checkpoint;
  if (path === undefined || !path.endsWith('.demo.json')) return null;
  const own = (['mode', 'candidates', 'temperature', 'select-calls', 'coherent', 'critic'] as const).filter((k) => args[k] !== undefined && args[k] !== false);
  if (own.length) fail(`--checkpoint ${path} acts as its demo record says; --${own[0]} would change that (give the archives themselves: --checkpoint <proposer>.prts.zip --critic <critic>.prts.zip ...)`);
  const record = readDemoRecord(path, fail, read);
  const dir = dirname(path);
  const critic = join(dir, record.archive);
  // The same mapping the test that reproduces the recorded evaluation acts with.
  const how = demoPolicyOptions(record);
  const sel = record.eval.select;
  const out: T = {
    ...args,
    checkpoint: record.proposer ? join(dir, record.proposer.archive) : critic,
    ...(record.proposer ? { critic } : {}),
    mode: how.mode,
    ...(how.candidates !== undefined ? { candidates: how.candidates, temperature: how.temperature, 'select-calls': how.selectCalls } : {}),
    ...(how.coherent ? { coherent: true } : {}),
    ...(args['execute-steps'] === undefined && record.eval.options?.executeSteps ? { 'execute-steps': record.eval.options.executeSteps } : {}),
  };
  const flags = [`--checkpoint ${out.checkpoint}`, out.critic ? `--critic ${out.critic}` : '', `--mode ${out.mode}`, sel ? `--candidates ${sel.candidates} --temperature ${sel.temperature} --select-calls ${sel.selectCalls}${sel.coherent ? ' --coherent' : ''}` : '', out['execute-steps'] !== undefined ? `--execute-steps ${out['execute-steps']}` : '']
    .filter(Boolean)
    .join(' ');
  const o = record.eval;
  const st = o.options?.initStates ?? [];
  const states = st.length > 1 && st.every((x, i) => x === st[0] + i) ? `${st[0]}-${st[st.length - 1]}` : st.join(',');
  return { args: out, note: `demo record ${path} (recorded: ${o.successes}/${o.n} on ${o.options?.suites?.join(',') ?? '?'} states ${states || '?'}, seed ${o.options?.seed ?? '?'}) acts as ${flags}` };
}

/** A demo record from a file, or the CLI's failure naming the file and the problem. */
function readDemoRecord(path: string, fail: Fail, read: (path: string) => string): DemoRecord {
  let text: string;
  try {
    text = read(path);
  } catch (e) {
    return fail(`--checkpoint ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  try {
    return parseDemoRecord(JSON.parse(text), path);
  } catch (e) {
    return fail(`--checkpoint ${e instanceof SyntaxError ? `${path}: not JSON (${e.message})` : (e as Error).message}`);
  }
}

/** The policy spec as given (--checkpoint is short for --policy checkpoint:<dir>). */
function spec0(args: PolicyArgs): string {
  return args.checkpoint !== undefined ? `checkpoint:${args.checkpoint}` : (args.policy ?? '');
}

/** Checks how --policy, --checkpoint, --mode, --candidates and --temperature combine and returns the spec for makePolicy. */
export function policySpec(args: PolicyArgs, fail: Fail): string {
  if (args.checkpoint !== undefined && args.policy !== undefined) fail('give either --policy or --checkpoint, not both');
  if ((args.candidates !== undefined || args.temperature !== undefined) && !spec0(args).startsWith('checkpoint:')) fail('--candidates and --temperature apply to checkpoint policies only');
  if (args.temperature !== undefined && args.candidates === undefined) fail('--temperature needs --candidates N (it sets how the proposals after the first are sampled)');
  if (args['select-calls'] !== undefined && args.candidates === undefined) fail('--select-calls needs --candidates N (it sets on how many re-plans the proposals are chosen between)');
  if (args.coherent && args['select-calls'] === undefined) fail('--coherent needs --select-calls N (it chooses the chunks after the value-selected re-plans; 0: from the first re-plan on, with no critic)');
  if (args['select-calls'] === 0 && !args.coherent) fail('--select-calls 0 chooses nothing by value: add --coherent (coherent selection alone) or leave --candidates out (the plain policy)');
  if (args['select-calls'] === 0 && args.critic !== undefined) fail('--critic is never asked with --select-calls 0 (coherent selection alone): give --select-calls 1 or more, or leave --critic out');
  if (args.critic !== undefined && (args.candidates === undefined || args.candidates < 2)) fail('--critic needs --candidates N of 2 or more (it chooses between the proposals)');
  if (args.mode !== undefined && args.checkpoint === undefined) fail('--mode applies to --checkpoint only (with --policy write checkpoint:<dir>:dit|:ar)');
  return args.checkpoint !== undefined ? `checkpoint:${args.checkpoint}${args.mode ? `:${args.mode}` : ''}` : (args.policy ?? fail('--policy or --checkpoint is required'));
}

/**
 * A policy from a PRTS checkpoint (src/train/inference.ts): `checkpoint:<dir>` samples
 * the post-trained DiT (5 Euler steps, seeded per episode from --seed) when the
 * checkpoint has one and otherwise decodes FAST tokens with the LM head;
 * `checkpoint:<dir>:dit` / `:ar` pick the head. <dir> is a run directory (its
 * latest.json) or one step directory.
 */
async function checkpointPolicy(spec: string, args: PolicyArgs, fail: Fail): Promise<Policy> {
  const m = /^(.*?)(?::(dit|ar))?$/.exec(spec)!;
  const dir = m[1];
  const mode = m[2] as 'dit' | 'ar' | undefined;
  if (!dir) fail('--policy checkpoint:<dir>[:dit|:ar] needs a directory');
  const [{ loadPrtsPolicy }, { nodeCheckpointIO }] = await Promise.all([import('../inference'), import('../checkpoint-node')]);
  let critic: CheckpointData | undefined;
  if (args.critic !== undefined) {
    const { loadCheckpoint } = await import('../checkpoint');
    const cio = await nodeCheckpointIO(args.critic, { create: false }).catch((e: Error) => fail(`--critic ${args.critic}: ${e.message}`));
    critic = await loadCheckpoint(cio).catch((e: Error) => fail(`--critic ${args.critic}: ${e.message}`));
  }
  const io = await nodeCheckpointIO(dir, { create: false }).catch((e: Error) => fail(`--policy checkpoint:${dir}: ${e.message}`));
  const policy = await loadPrtsPolicy(io, undefined, { mode, seed: args.seed, candidates: args.candidates, temperature: args.temperature, selectCalls: args['select-calls'], coherent: args.coherent, executeSteps: args['execute-steps'], critic }).catch((e: Error) =>
    fail(`--policy checkpoint:${dir}${critic ? ` with --critic ${args.critic}` : ''}: ${e.message}`),
  );
  const d = policy.inference.data;
  console.log(
    `checkpoint ${resolve(dir)}: ${d.trainer.kind} step ${d.trainer.step}/${d.trainer.steps} (backbone ${d.trainer.withCrl ? 'with' : 'without'} CRL), ` +
      `${policy.inference.mode === 'dit' ? 'DiT head, 5 Euler steps' : 'AR FAST decoding'}, chunk ${policy.chunkSize}` +
      (policy.inference.opts.select.candidates > 1 && policy.inference.opts.select.calls === 0
        ? `, coherent selection alone: the greedy first chunk, then of ${policy.inference.opts.select.candidates} proposals (temperature ${policy.inference.opts.select.temperature}) the one that best continues the previous plan`
        : policy.inference.opts.select.candidates > 1
        ? `, best of ${policy.inference.opts.select.candidates} by ${critic ? `the CRL value of ${resolve(args.critic!)}` : 'CRL value'} (temperature ${policy.inference.opts.select.temperature}` +
          (Number.isFinite(policy.inference.opts.select.calls) ? `, on each episode's first ${policy.inference.opts.select.calls} re-plan(s))` : ')') +
          (policy.inference.opts.select.coherent ? `, then the proposal that best continues the previous plan` : '')
        : ''),
  );
  return policy;
}

/**
 * The policy of a spec. `replay: false` refuses replay:<file> (a CLI that does not start
 * its episodes at step 0 cannot replay a recording), leaving it out of the message.
 */
export async function makePolicy(spec: string, args: PolicyArgs, fail: Fail, o: { replay?: boolean } = {}): Promise<Policy> {
  const replay = o.replay ?? true;
  const [kind, ...rest] = spec.split(':');
  const arg = rest.join(':');
  switch (kind) {
    case 'expert':
      return new ExpertPolicy();
    case 'random': {
      const seed = arg ? Number(arg) : 0;
      if (!Number.isInteger(seed)) fail(`--policy random:<seed> needs an integer seed, got '${arg}'`);
      return new RandomPolicy({ seed, chunkSize: args.chunk ?? 1 });
    }
    case 'replay': {
      if (!replay) break;
      if (!arg) fail('--policy replay:<results.json> needs a results file written with --keep-actions');
      const res = parseResults(JSON.parse(readFileSync(arg, 'utf8')), arg);
      return ReplayPolicy.fromRecords(res.episodes, `replay(${arg})`);
    }
    case 'checkpoint':
      if (!arg) fail('--policy checkpoint:<dir>[:dit|:ar] needs a directory');
      return checkpointPolicy(arg, args, fail);
  }
  fail(`--policy must be expert, random[:seed]${replay ? ', replay:<file>' : ''} or checkpoint:<dir>[:dit|:ar], got '${spec}'`);
}

/**
 * The camera size a policy sees: --camera when given, else a checkpoint's own image size
 * (model.imageSize, at least 8), else undefined (the caller's default).
 */
export async function policyCamera(policy: Policy, camera: number | undefined): Promise<{ width: number; height: number } | undefined> {
  if (camera !== undefined) return { width: camera, height: camera };
  if (policy instanceof (await import('../inference')).PrtsPolicy) {
    const size = Math.max(8, policy.inference.data.config.model.imageSize);
    return { width: size, height: size };
  }
  return undefined;
}
