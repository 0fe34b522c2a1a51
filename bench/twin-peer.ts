/**
 * npm run bench:twin [-- --preset small --steps 5 --warmup 2]
 *
 * The WebGPU engine against its PyTorch peer (issue 12, DESIGN.md 13): one training step
 * (forward, backward, AdamW) of the same model, from the same weights, on the same packed
 * CRL batches. The engine times its steps here; the batches and the starting checkpoint go
 * to shards (src/twin/export.ts) that torch/prts_torch/bench.py times as PyTorch eager,
 * compiled, and with plain causal SDPA (see there). Ratios are peer / engine step time:
 * above 1 the engine is faster. Run it where both run on the same device class (on the
 * GPU machine both on the GPU; here the engine runs on SwiftShader and torch on the CPU).
 * Ends with one JSON line.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineCli } from '../src/cli/args.ts';
import { memoryIO, LeRobotReader } from '../src/data/index.ts';
import { nodeIO } from '../src/data/io-node.ts';
import { openRuntime } from '../src/engine/autotune.ts';
import { saveCheckpoint } from '../src/train/checkpoint.ts';
import { nodeCheckpointIO } from '../src/train/checkpoint-node.ts';
import { Pretrainer } from '../src/train/pretrain.ts';
import { writeSyntheticDataset } from '../src/train/synthetic-dataset.ts';
import { exportShards } from '../src/twin/export.ts';
import { runTwin, twinAvailable } from '../src/twin/python.ts';
import { shardName } from '../src/twin/shards.ts';
import { median } from './timing.ts';
import { benchTrainConfig, type BenchPreset } from './train-config.ts';

const cli = defineCli({
  name: 'bench:twin',
  command: 'npm run bench:twin --',
  description: 'Training step time of the WebGPU engine against PyTorch (eager, compiled, causal SDPA) on the same model and batches; ends with one JSON line.',
  options: {
    preset: { type: 'string', choices: ['tiny', 'small', 'base', 'cpu'], default: 'tiny', help: 'model body and batch (as bench:train --preset)' },
    steps: { type: 'int', min: 1, default: 5, help: 'timed steps per variant' },
    warmup: { type: 'int', min: 0, default: 2, help: 'untimed steps per variant' },
    tasks: { type: 'int', min: 1, default: 4, help: 'tasks in the synthetic dataset and per batch' },
    device: { type: 'string', choices: ['auto', 'cpu', 'cuda'], default: 'auto', help: "the twin's device" },
    variants: { type: 'list', choices: ['eager', 'compiled', 'sdpa_causal'], metavar: 'a,b', help: 'PyTorch variants (default all)' },
    keep: { type: 'string', metavar: 'dir', help: 'keep the shards and checkpoint here (default: a temporary directory, removed)' },
  },
});
const args = cli.parse();
const fail: (message: string) => never = cli.fail;
const made = benchTrainConfig({ preset: args.preset as BenchPreset, d: 64, layers: 2, image: 32, patch: 8, batch: 8, tasks: args.tasks, steps: 2 * (args.steps + args.warmup) + 2 });
if ('error' in made) fail(made.error);
const config = made.config;
const py = twinAvailable();

const dir = args.keep ?? mkdtempSync(join(tmpdir(), 'prts-bench-twin-'));
const io = memoryIO();
await writeSyntheticDataset(io, { tasks: args.tasks, episodesPerTask: 3, imageSize: config.model.imageSize, cameras: config.model.cameras, seed: 1 });
const rt = await openRuntime();
const device = `${rt.info.vendor}/${rt.info.architecture} (${rt.info.description})`;
console.error(`adapter: ${device}`);
let engineMs: number;
let params: number;
let tokens: number;
let shardBytes = 0;
try {
  const tr = await Pretrainer.create(rt, config, await LeRobotReader.open(io));
  params = tr.model.store.count;
  try {
    await saveCheckpoint(await nodeCheckpointIO(join(dir, 'init')), await tr.checkpoint());
    const n = args.warmup + args.steps;
    const index = await exportShards(tr, nodeIO(dir), { batches: n });
    tokens = index.tokens.reduce((a, b) => a + b, 0) / n;
    const times: number[] = [];
    for (let k = 0; k < n; k++) shardBytes += statSync(join(dir, shardName(k))).size;
    // The engine replays the same stream from its start: a second trainer from the same
    // seed has the saved initial weights and draws the exported batches in order.
    const replay = await Pretrainer.create(rt, config, await LeRobotReader.open(io));
    try {
      for (let k = 0; k < n; k++) {
        const b = await replay.nextBatch();
        const t0 = performance.now();
        await replay.stepOn(b);
        if (k >= args.warmup) times.push(performance.now() - t0);
      }
    } finally {
      replay.dispose();
    }
    engineMs = median(times);
  } finally {
    tr.dispose();
  }
} finally {
  rt.destroy();
}
console.error(`engine: ${engineMs.toFixed(1)} ms per step, ${params.toLocaleString('en-US')} parameters, ${tokens.toFixed(0)} real tokens per batch`);

let peer: { torch?: string; device?: string; variants?: Record<string, { status: string; step_ms?: number; reason?: string }> } = {};
let peerError: string | null = null;
if (!py.ok) peerError = py.reason;
else {
  let out = '';
  let err = '';
  const code = await runTwin(['-m', 'prts_torch.bench', '--shards', dir, '--warmup', String(args.warmup), '--steps', String(args.steps), '--device', args.device, ...(args.variants ? ['--variants', args.variants.join(',')] : [])], {
    onStdout: (s) => (out += s),
    onStderr: (s) => {
      err += s;
      process.stderr.write(s.replace(/^(?=.)/gm, '[twin] '));
    },
  });
  const line = out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (code !== 0 || !line) peerError = `the twin exited ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`;
  else peer = JSON.parse(line);
}
if (!args.keep) rmSync(dir, { recursive: true, force: true });

const ratios: Record<string, number | null> = {};
for (const [name, v] of Object.entries(peer.variants ?? {})) ratios[`${name}_over_engine`] = v.status === 'ok' && v.step_ms ? Number((v.step_ms / engineMs).toFixed(3)) : null;
console.log(
  JSON.stringify({
    bench: 'twin',
    preset: args.preset,
    engine_device: device,
    peer_device: peer.device ?? null,
    torch: peer.torch ?? null,
    params,
    real_tokens: Number(tokens.toFixed(1)),
    engine_step_ms: Number(engineMs.toFixed(2)),
    engine_tokens_per_s: Number((tokens / (engineMs / 1000)).toFixed(1)),
    peer: peer.variants ?? null,
    ratios,
    shard_mib: Number((shardBytes / 2 ** 20).toFixed(2)),
    peer_error: peerError,
  }),
);
