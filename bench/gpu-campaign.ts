/**
 * The GPU campaign (issue 11, DESIGN.md 13): what `scripts/gpu/run.sh` runs on a GPU
 * machine from the bundle that `npm run gpu:pack` builds. Also runs here from source:
 *   node scripts/run.mjs bench/gpu-campaign.ts --out DIR --allow-software [--items matmul,train-tiny]
 *
 * Opens the adapter, prints what it is (vendor, architecture, features, limits) and refuses
 * a software adapter unless --allow-software. Then runs each item (a benchmark or the
 * overfit experiment, each its own process so that one crash or hang costs only itself)
 * in order, inside one time budget: an item starts only if its minimum fits in what is
 * left, and is killed when the budget runs out. Every item ends with one JSON line, which
 * is collected. Writes DIR/gpu-results.json and DIR/gpu-results.md and ends with one JSON
 * line of its own (adapter, budget, per item: status, seconds, headline figures).
 *
 * Items run as bundles beside this file (the GPU bundle: <name>.mjs) or, from source,
 * through scripts/run.mjs. Arguments differ on a software adapter, where the GPU sizes
 * would take hours: the same code paths, at sizes that finish.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineCli } from '../src/cli/args.ts';
import { Runtime } from '../src/engine/runtime.ts';

interface Item {
  name: string;
  /** Entry (relative to the repository) and the bundle name it travels as. */
  entry: string;
  bundle: string;
  what: string;
  args: (software: boolean) => string[];
  /** Seconds it needs at least; it is skipped when less of the budget is left. */
  minSeconds: (software: boolean) => number;
  /** The figures the Markdown table shows, picked from its JSON line. */
  headline: (r: Record<string, unknown>) => Record<string, unknown>;
}

// Set from --peak-tflops before any item runs.
let peakTflops = 67;
const pick = (r: Record<string, unknown>, keys: string[]) => Object.fromEntries(keys.filter((k) => k in r).map((k) => [k, r[k]]));

const trainItem = (preset: 'tiny' | 'small' | 'base'): Item => ({
  name: `train-${preset}`,
  entry: 'bench/train.ts',
  bundle: 'bench-train',
  what: `training step of the ${preset} preset's model body, CRL vs BC-only layout (bench:train --preset ${preset})`,
  args: (sw) => ['--preset', preset, ...(sw ? ['--steps', '1', '--warmup', '1', '--profile-steps', '1'] : ['--steps', '5', '--warmup', '3'])],
  // On SwiftShader the small and base bodies take minutes per step: they run only when
  // given a budget for it.
  minSeconds: (sw) => (sw ? { tiny: 30, small: 300, base: 900 } : { tiny: 20, small: 40, base: 90 })[preset],
  headline: (r) =>
    pick(r, [
      'tokens_per_s',
      'crl_step_ms',
      'crl_step_time_ratio',
      'dispatches_per_step',
      'dispatches_per_step_unfused',
      'pipelines_created_per_step',
      'encode_ms',
      'gpu_ms',
      'peak_gpu_mib',
    ]),
});

const ITEMS: Item[] = [
  {
    name: 'matmul',
    entry: 'bench/matmul.ts',
    bundle: 'bench-matmul',
    what: 'matmul GFLOP/s of the engine against tfjs-backend-webgpu on the same adapter (bench:matmul)',
    args: (sw) => (sw ? ['--quick'] : []),
    minSeconds: (sw) => (sw ? 60 : 30),
    headline: (r) => ({
      ...pick(r, ['gflops', 'gflops_tfjs']),
      ratio_vs_tfjs_geomean: (r.ratio_vs_tfjs as { geomean?: number } | undefined)?.geomean,
      tiles: (r.autotune as { tiles?: unknown } | undefined)?.tiles,
      // The best shape's share of the FP32 vector peak (--peak-tflops).
      best_fraction_of_fp32_peak: Math.max(...Object.values((r.gflops as Record<string, number>) ?? {})) / (peakTflops * 1000),
    }),
  },
  trainItem('tiny'),
  {
    name: 'attention',
    entry: 'bench/attention.ts',
    bundle: 'bench-attention',
    what: 'role-aware block-sparse attention against causal and dense masking, forward and forward+backward (bench:attention)',
    // On a GPU, PRTS Sec. 6.7's setting: 4 packed sequences of 4096 (and shorter ones).
    args: (sw) => (sw ? ['--lengths', '256', '--iters', '1'] : ['--lengths', '1024,2048,4096', '--heads', '8', '--batch', '4']),
    minSeconds: (sw) => (sw ? 60 : 40),
    headline: (r) => (r.summary as Record<string, unknown>) ?? {},
  },
  {
    name: 'decode',
    entry: 'bench/decode.ts',
    bundle: 'bench-decode',
    what: 'AR decode latency per chunk with and without the KV cache (bench:decode)',
    args: (sw) => (sw ? ['--reps', '1'] : ['--rows', '16', '--reps', '5']),
    minSeconds: (sw) => (sw ? 30 : 20),
    headline: (r) => pick(r, ['cached_ms_per_chunk', 'uncached_ms_per_chunk', 'speedup', 'tokens_match']),
  },
  trainItem('small'),
  {
    name: 'twin-peer',
    entry: 'bench/twin-peer.ts',
    bundle: 'bench-twin',
    what: 'the engine against PyTorch on the same model, weights and batches: eager with the exact mask (FlexAttention on CUDA), torch.compile, causal SDPA (bench:twin); needs a python3 with torch',
    args: (sw) => (sw ? ['--preset', 'tiny', '--steps', '1', '--warmup', '1'] : ['--preset', 'small', '--steps', '5', '--warmup', '3']),
    // torch.compile takes a minute or more on first use.
    minSeconds: (sw) => (sw ? 60 : 150),
    headline: (r) => ({ ...pick(r, ['engine_step_ms', 'torch', 'peer_device', 'peer_error']), ...((r.ratios as Record<string, unknown>) ?? {}) }),
  },
  {
    name: 'overfit',
    entry: 'src/train/cli/overfit.ts',
    bundle: 'check-overfit',
    what: 'the overfit experiment (issue 10): train on one expert demonstration, roll out closed loop in the AR and DiT modes (check:overfit --demos 1)',
    // On software: the same pipeline (demonstration, pre-training, post-training, both
    // closed-loop modes) with too few steps to succeed; on a GPU the check itself.
    args: (sw) => ['--demos', '1', ...(sw ? ['--max-pretrain', '30', '--max-posttrain', '30', '--eval-every', '30'] : [])],
    minSeconds: (sw) => (sw ? 120 : 90),
    headline: (r) => pick(r, ['success_ar', 'success_dit', 'seconds']),
  },
  trainItem('base'),
];

const cli = defineCli({
  name: 'gpu-campaign',
  command: 'scripts/gpu/run.sh',
  description: 'Runs every benchmark and the overfit experiment on this adapter inside one time budget; writes gpu-results.json and gpu-results.md; ends with one JSON line.',
  options: {
    out: { type: 'string', metavar: 'DIR', help: 'folder for gpu-results.json and gpu-results.md (required)' },
    budget: { type: 'int', min: 10, default: 480, metavar: 'SECONDS', help: 'time budget for all items together' },
    'allow-software': { type: 'boolean', help: 'run on a software adapter (SwiftShader) instead of refusing it, with small sizes' },
    'peak-tflops': { type: 'number', min: 0.001, default: 67, metavar: 'T', help: "the adapter's FP32 vector peak, for matmul's fraction of it (H100 and H200: 67)" },
    items: { type: 'list', metavar: 'name,...', help: `items to run, in this order (default all: ${ITEMS.map((i) => i.name).join(',')})` },
  },
});
const args = cli.parse();
peakTflops = args['peak-tflops'];
// Annotated so that TypeScript knows a call does not return.
const fail: (message: string) => never = cli.fail;
const outDir = args.out ?? fail('--out is required: the folder for gpu-results.json and gpu-results.md');
const selected = (args.items ?? ITEMS.map((i) => i.name)).map((name) => {
  const item = ITEMS.find((i) => i.name === name);
  if (!item) fail(`--items: unknown item '${name}' (known: ${ITEMS.map((i) => i.name).join(', ')})`);
  return item;
});

const started = Date.now();
const deadline = started + args.budget * 1000;

// The adapter, as the items will see it (each opens its own device the same way).
const rt = await Runtime.create();
const info = rt.info;
const adapter = {
  vendor: info.vendor,
  architecture: info.architecture,
  device: info.device,
  description: info.description,
  software: info.software,
  features: info.features,
  limits: info.limits,
};
rt.destroy();
console.error(`adapter: ${info.vendor} / ${info.architecture} / ${info.description || info.device}${info.software ? ' (software)' : ''}`);
console.error(`features: ${info.features.join(' ')}`);
console.error(`limits: ${Object.entries(info.limits).map(([k, v]) => `${k}=${v}`).join(' ')}`);
if (info.software && !args['allow-software']) {
  console.error(
    'refusing a software adapter: this is SwiftShader (or another CPU implementation), not the GPU, so no figure would mean what it says. ' +
      'On the GPU machine, check that the Vulkan loader and the NVIDIA ICD are installed (scripts/gpu/run.sh does this) and that VK_ICD_FILENAMES is unset; ' +
      'pass --allow-software to test the bundle on SwiftShader.',
  );
  process.exit(3);
}

const here = dirname(fileURLToPath(import.meta.url));
function command(item: Item): string[] {
  const bundled = join(here, `${item.bundle}.mjs`);
  if (existsSync(bundled)) return [bundled];
  // From source: this file is bench/gpu-campaign.ts bundled by scripts/run.mjs elsewhere,
  // so find the repository from the working directory.
  return ['scripts/run.mjs', item.entry];
}

interface ItemResult {
  name: string;
  what: string;
  args: string[];
  status: 'ok' | 'failed' | 'timeout' | 'skipped';
  seconds: number;
  reason?: string;
  result?: Record<string, unknown>;
  headline?: Record<string, unknown>;
  tail?: string;
}

function runItem(item: Item, itemArgs: string[], timeoutMs: number): Promise<ItemResult> {
  const t0 = Date.now();
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, [...command(item), ...itemArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let tail = '';
    const keepTail = (s: string) => {
      tail = (tail + s).slice(-4000);
    };
    child.stdout.on('data', (b: Buffer) => {
      const s = b.toString();
      stdout += s;
      keepTail(s);
      process.stderr.write(s.replace(/^(?=.)/gm, `[${item.name}] `));
    });
    child.stderr.on('data', (b: Buffer) => {
      const s = b.toString();
      keepTail(s);
      process.stderr.write(s.replace(/^(?=.)/gm, `[${item.name}] `));
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const seconds = Number(((Date.now() - t0) / 1000).toFixed(1));
      const lastJson = stdout
        .trim()
        .split('\n')
        .reverse()
        .find((l) => l.startsWith('{'));
      let result: Record<string, unknown> | undefined;
      try {
        result = lastJson ? (JSON.parse(lastJson) as Record<string, unknown>) : undefined;
      } catch {
        result = undefined;
      }
      const base = { name: item.name, what: item.what, args: itemArgs, seconds };
      if (timedOut) resolveRun({ ...base, status: 'timeout', reason: `killed when the budget ran out after ${seconds} s`, tail });
      else if (code !== 0 || !result)
        resolveRun({ ...base, status: 'failed', reason: code !== 0 ? `exit ${code ?? signal}` : 'no JSON line at the end of its output', tail });
      else resolveRun({ ...base, status: 'ok', result, headline: item.headline(result) });
    });
  });
}

const results: ItemResult[] = [];
for (const item of selected) {
  const itemArgs = item.args(info.software);
  const left = (deadline - Date.now()) / 1000;
  const need = item.minSeconds(info.software);
  if (left < need) {
    results.push({ name: item.name, what: item.what, args: itemArgs, status: 'skipped', seconds: 0, reason: `needs about ${need} s, ${Math.max(0, Math.round(left))} s of the budget left` });
    console.error(`[campaign] skip ${item.name}: ${results.at(-1)!.reason}`);
    continue;
  }
  console.error(`[campaign] ${item.name}: ${item.what} (${Math.round(left)} s of the budget left)`);
  const r = await runItem(item, itemArgs, left * 1000);
  console.error(`[campaign] ${item.name}: ${r.status} in ${r.seconds} s${r.reason ? ` (${r.reason})` : ''}`);
  results.push(r);
}

const report = {
  schema: 'prts-workbench/gpu-results@1',
  date: new Date().toISOString(),
  node: process.version,
  adapter,
  budget_s: args.budget,
  elapsed_s: Number(((Date.now() - started) / 1000).toFixed(1)),
  items: results,
};
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'gpu-results.json'), JSON.stringify(report, null, 1) + '\n');
writeFileSync(join(outDir, 'gpu-results.md'), markdown(report));

function fmt(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toPrecision(4);
  if (v && typeof v === 'object') return Object.entries(v).map(([k, x]) => `${k}: ${fmt(x)}`).join(', ');
  return String(v);
}

function markdown(r: typeof report): string {
  const lines = [
    `# GPU campaign, ${r.date}`,
    '',
    `Adapter: **${r.adapter.vendor} / ${r.adapter.architecture}** (${r.adapter.description || r.adapter.device})${r.adapter.software ? ', **software: figures are not a GPU\'s**' : ''}. Node ${r.node}. Budget ${r.budget_s} s, used ${r.elapsed_s} s.`,
    '',
    `Features: ${r.adapter.features.join(', ') || 'none'}.`,
    '',
    '| item | status | s | headline figures |',
    '|---|---|---|---|',
    ...r.items.map((i) => `| ${i.name} | ${i.status}${i.reason ? ` (${i.reason})` : ''} | ${i.seconds} | ${i.headline ? Object.entries(i.headline).map(([k, v]) => `${k}: ${fmt(v)}`).join('; ') : ''} |`),
    '',
    'What each item is, and its arguments:',
    '',
    ...r.items.map((i) => `- **${i.name}**: ${i.what}; \`${i.args.join(' ')}\``),
    '',
    'Every item\'s full JSON line is in gpu-results.json.',
    '',
  ];
  return lines.join('\n');
}

console.log(
  JSON.stringify({
    campaign: 'gpu',
    adapter: { vendor: adapter.vendor, architecture: adapter.architecture, description: adapter.description, software: adapter.software },
    budget_s: report.budget_s,
    elapsed_s: report.elapsed_s,
    items: Object.fromEntries(results.map((i) => [i.name, { status: i.status, seconds: i.seconds, ...(i.headline ?? {}) }])),
  }),
);
process.exit(results.some((i) => i.status === 'failed') ? 1 : 0);
