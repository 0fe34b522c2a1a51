/**
 * Attention benchmark (issue 2): role-aware block-sparse attention against (b) plain
 * causal block-sparse attention on the same documents without the CRL blocks (the PRTS
 * BC baseline, shorter sequences) and (c) the dense masked path on the role-aware
 * sequence. Forward and forward+backward, ratios measured within this run, one JSON
 * line at the end. Also (d) causal on BC-only documents packed to the SAME length, the
 * setup of the PRTS paper's Fig. 10a, and the useful-work ratio (allowed pairs), the
 * floor of (a)/(b) for any kernel whose time follows the work.
 *
 *   node scripts/run.mjs bench/attention.ts [--lengths 512,1024,2048] [--heads 4]
 *        [--tile 64] [--iters N] [--long] [--seed 1]
 *
 * --long adds 4096 and 8192 (meant for a real GPU). Variants are timed round-robin per
 * iteration, so load drift on a shared machine hits all of them alike, and reduced by the
 * minimum (other processes can only add time; medians are in the JSON too). FLOPs follow FlashAttention-2: 4 * d per (query, key) pair per head forward
 * (QK^T and PV), 2.5x that backward; "visited" counts every element of every visited tile
 * pair (work the kernel does), "useful" counts only allowed pairs.
 */
import { defineCli } from '../src/cli/args';
import { openRuntime } from '../src/engine/autotune';
import type { Runtime } from '../src/engine/runtime';
import { Tensor, fromArray, tidy } from '../src/engine/tensor';
import { Rng } from '../src/engine/random';
import { CAUSAL_RULE, PRTS_RULE, ROLE_NAMES, Role, type MaskRule } from '../src/engine/roles';
import { buildBlockMap, denseBlockMap, uploadBlockMap, type BlockMap, type GpuBlockMap } from '../src/engine/blockmap';
import { attentionBackward, attentionForward } from '../src/engine/ops/attention';
import { median } from './timing.ts';

const cli = defineCli({
  name: 'bench:attention',
  command: 'npm run bench:attention --',
  description: 'Role-aware block-sparse attention against causal block-sparse and dense masked attention, forward and forward+backward; ends with one JSON line.',
  options: {
    lengths: { type: 'list', of: 'int', min: 1, default: [512, 1024, 2048], help: 'role-aware sequence lengths' },
    heads: { type: 'int', min: 1, help: 'attention heads (default 2 on a software device, 8 on a GPU)' },
    batch: {
      type: 'int',
      min: 1,
      default: 1,
      help: 'packed sequences per call, each of the same layout (PRTS Sec. 6.7: 4 x 4096); run as batch x heads heads, which is the same work for attention',
    },
    tile: { type: 'int', min: 1, default: 64, help: 'block-map tile size' },
    iters: { type: 'int', min: 1, help: 'timed iterations (default 3 on a software device, 15 on a GPU)' },
    long: { type: 'boolean', help: 'add lengths 4096 and 8192 (meant for a real GPU)' },
    seed: { type: 'int', min: 1, default: 1, help: 'random seed' },
  },
});

// ------------------------------------------------------------------ layout

interface Doc {
  vision: number;
  instruction: number;
  action: number;
}

/** One document's sizes for a given role-aware length: vision ~55%, instruction and AR
 * action ~11% each, CRL_action = action + <|action_end|>, CRL_goal = instruction + <|goal_end|>. */
function docOfLength(total: number, rng: Rng): Doc {
  const instruction = Math.max(1, Math.round(total * (0.1 + 0.03 * rng.next())));
  const action = Math.max(1, Math.round(total * (0.1 + 0.03 * rng.next())));
  const vision = total - 2 * instruction - 2 * action - 2;
  if (vision < 1) throw new Error(`document of ${total} tokens is too short for the PRTS layout`);
  return { vision, instruction, action };
}

const fullLength = (d: Doc) => d.vision + 2 * d.instruction + 2 * d.action + 2;

/** Packs documents of 220-360 role-aware tokens until exactly `length` tokens. */
function packDocs(length: number, rng: Rng): Doc[] {
  const docs: Doc[] = [];
  let left = length;
  while (left > 0) {
    let size = 220 + rng.int(141);
    if (left - size < 220) size = left;
    docs.push(docOfLength(size, rng));
    left -= size;
  }
  return docs;
}

/** BC-only documents (same size distribution, CRL blocks dropped) packed to exactly
 * `length` tokens: the paper's Fig. 10a setup, where both runs share the packed length. */
function packBcDocs(length: number, rng: Rng): Doc[] {
  const docs: Doc[] = [];
  let left = length;
  while (left > 0) {
    let doc = docOfLength(220 + rng.int(141), rng);
    let size = doc.vision + doc.instruction + doc.action;
    if (left - size < 170) {
      const instruction = Math.max(1, Math.round(left * 0.15));
      const action = Math.max(1, Math.round(left * 0.15));
      doc = { vision: left - instruction - action, instruction, action };
      size = left;
    }
    docs.push(doc);
    left -= size;
  }
  return docs;
}

function layout(docs: Doc[], crl: boolean): { doc: Int32Array; role: Uint8Array } {
  const doc: number[] = [];
  const role: number[] = [];
  docs.forEach((d, id) => {
    const runs: [number, number][] = [
      [Role.VISION_STATE, d.vision],
      [Role.INSTRUCTION, d.instruction],
      [Role.AR_ACTION, d.action],
    ];
    if (crl) runs.push([Role.CRL_ACTION, d.action + 1], [Role.CRL_GOAL, d.instruction + 1]);
    for (const [r, len] of runs) for (let i = 0; i < len; i++) (doc.push(id), role.push(r));
  });
  return { doc: Int32Array.from(doc), role: Uint8Array.from(role) };
}

// ------------------------------------------------------------------ timing

interface Variant {
  name: string;
  map: BlockMap;
  gmap: GpuBlockMap;
  q: Tensor;
  k: Tensor;
  v: Tensor;
  dO: Tensor;
  fwd: number[];
  fwdbwd: number[];
}

function makeVariant(rt: Runtime, name: string, map: BlockMap, heads: number, d: number, rng: Rng): Variant {
  const size = map.n * heads * d;
  const rnd = () => {
    const a = new Float32Array(size);
    for (let i = 0; i < size; i++) a[i] = rng.normal();
    return fromArray(rt, a, [map.n, heads, d]);
  };
  return { name, map, gmap: uploadBlockMap(rt, map), q: rnd(), k: rnd(), v: rnd(), dO: rnd(), fwd: [], fwdbwd: [] };
}

function runForward(v: Variant): void {
  tidy(() => {
    attentionForward(v.q, v.k, v.v, v.gmap);
  });
}

function runForwardBackward(v: Variant): void {
  tidy(() => {
    const { o, lse } = attentionForward(v.q, v.k, v.v, v.gmap);
    attentionBackward(v.q, v.k, v.v, o, lse, v.dO, v.gmap);
  });
}

/** Milliseconds per call of fn. On a software adapter the "GPU" is threads of this process
 * sharing two cores with other jobs, so wall time mostly measures the neighbours; the
 * process CPU time is the device's work there. A real GPU is timed by the wall clock. */
async function timeMs(rt: Runtime, fn: () => void, reps: number, cpuClock: boolean): Promise<number> {
  await rt.sync();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) fn();
  await rt.sync();
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  return (cpuClock ? (cpu.user + cpu.system) / 1000 : wall) / reps;
}

const round = (x: number, digits = 3) => Number(x.toFixed(digits));

function roleShare(role: Uint8Array): Record<string, number> {
  const counts = new Array(ROLE_NAMES.length).fill(0);
  for (const r of role) counts[r]++;
  return Object.fromEntries(ROLE_NAMES.map((name, r) => [name, round(counts[r] / role.length)]));
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  const args = cli.parse();
  // --long appends the lengths meant for a real GPU.
  const lengths = args.long ? [...new Set([...args.lengths, 4096, 8192])] : args.lengths;
  const rt = await openRuntime();
  const info = rt.info;
  const software = info.software;
  console.log(
    `adapter: ${info.vendor} / ${info.architecture} / ${info.device} / ${info.description} (${info.host}${software ? ', software' : ''})`,
  );
  console.log(`features: ${info.features.join(', ')}`);
  console.log(
    `shader-f16: ${info.features.includes('shader-f16')}, subgroups: ${info.features.includes('subgroups')}, ` +
      `subgroup matrices: ${info.features.some((f) => f.includes('subgroup-matrix'))}, ` +
      `workgroup storage: ${info.limits.maxComputeWorkgroupStorageSize} B`,
  );

  const d = 64;
  // A batch of packed sequences with the same layout is the same attention work as that
  // many times the heads over one of them (the block map is per sequence, shared).
  const headsPerSeq = args.heads ?? (software ? 2 : 8);
  const heads = headsPerSeq * args.batch;
  // SwiftShader runs ~0.5 GFLOP/s on two shared cores: few samples, one dispatch each.
  const iters = args.iters ?? (software ? 3 : 15);
  const reps = software ? 1 : 10;
  const warmup = software ? 1 : 3;
  const clock = software ? 'process CPU time (software adapter: the device is this process\'s threads)' : 'wall clock';
  console.log(`batch ${args.batch} x heads ${headsPerSeq} x d ${d}, tile ${args.tile}, ${iters} timed iterations (minimum reported) of ${reps} rep(s), ${warmup} warm-up; ${clock}`);

  const rng = new Rng(args.seed);
  const perLength: Record<string, unknown> = {};
  const summaryRows: { fwd: number; fwdbwd: number; dense: number; visited: number; floor: number; fwdEq: number; fwdbwdEq: number }[] = [];
  for (const length of lengths) {
    const docs = packDocs(length, rng.fork());
    const roleAware = layout(docs, true);
    const bc = layout(docs, false);
    const bcSame = layout(packBcDocs(length, rng.fork()), false);
    const maps: [string, BlockMap][] = [
      ['role_aware', buildBlockMap(roleAware.doc, roleAware.role, { tile: args.tile, rule: PRTS_RULE })],
      ['causal_bc', buildBlockMap(bc.doc, bc.role, { tile: args.tile, rule: CAUSAL_RULE as MaskRule })],
      ['causal_eq', buildBlockMap(bcSame.doc, bcSame.role, { tile: args.tile, rule: CAUSAL_RULE as MaskRule })],
      ['dense', denseBlockMap(roleAware.doc, roleAware.role, { tile: args.tile, rule: PRTS_RULE })],
    ];
    const variants = maps.map(([name, map]) => makeVariant(rt, name, map, heads, d, rng));
    const [ra, causal, causalEq, dense] = variants;
    console.log(
      `\nlength ${length}: ${docs.length} documents of ${docs.map(fullLength).join(', ')} tokens; ` +
        `BC baseline ${bc.doc.length} tokens; role shares ${JSON.stringify(roleShare(roleAware.role))}`,
    );
    for (const v of variants) {
      console.log(
        `  ${v.name.padEnd(10)} n=${v.map.n} tiles ${v.map.numTiles}^2: full ${v.map.fullTiles}, partial ${v.map.partialTiles}, ` +
          `visited ${(100 * v.map.visitedFraction).toFixed(1)}%, allowed pairs ${(100 * v.map.allowedPairs / v.map.n ** 2).toFixed(1)}%`,
      );
    }

    // Pipelines are cached across lengths, so on the slow software device only the first
    // length pays for warm-up (shader compilation); a GPU also warms clocks and caches.
    if (!software || length === lengths[0]) {
      for (let i = 0; i < warmup; i++) for (const v of variants) (runForward(v), runForwardBackward(v));
    }
    await rt.sync();
    // The dense path is the costliest thing here: fewer samples (its backward feeds no target).
    const denseFwdIters = Math.ceil(iters / 2);
    const denseBwdIters = software ? 1 : Math.ceil(iters / 3);
    for (let it = 0; it < iters; it++) {
      for (const v of variants) {
        if (v !== dense || it < denseFwdIters) v.fwd.push(await timeMs(rt, () => runForward(v), reps, software));
      }
      for (const v of variants) {
        if (v !== dense || it < denseBwdIters) v.fwdbwd.push(await timeMs(rt, () => runForwardBackward(v), reps, software));
      }
    }

    const stat = (v: Variant) => {
      const fwdMs = Math.min(...v.fwd);
      const fwdbwdMs = Math.min(...v.fwdbwd);
      const visitedPairs = (v.map.fullTiles + v.map.partialTiles) * v.map.tile ** 2;
      const fwdFlops = 4 * d * heads * visitedPairs;
      const usefulFwdFlops = 4 * d * heads * v.map.allowedPairs;
      return {
        n: v.map.n,
        fwd_ms: round(fwdMs),
        fwdbwd_ms: round(fwdbwdMs),
        fwd_ms_median: round(median(v.fwd)),
        fwdbwd_ms_median: round(median(v.fwdbwd)),
        visited_tile_fraction: round(v.map.visitedFraction, 4),
        full_tiles: v.map.fullTiles,
        partial_tiles: v.map.partialTiles,
        gflops: {
          fwd: round(fwdFlops / fwdMs / 1e6),
          fwdbwd: round((3.5 * fwdFlops) / fwdbwdMs / 1e6),
          fwd_useful: round(usefulFwdFlops / fwdMs / 1e6),
          fwdbwd_useful: round((3.5 * usefulFwdFlops) / fwdbwdMs / 1e6),
        },
      };
    };
    const sRa = stat(ra);
    const sCausal = stat(causal);
    const sCausalEq = stat(causalEq);
    const sDense = stat(dense);
    const row = {
      documents: docs.map((doc) => ({ ...doc, crl_action: doc.action + 1, crl_goal: doc.instruction + 1, total: fullLength(doc) })),
      role_shares: roleShare(roleAware.role),
      role_aware: sRa,
      causal_bc: sCausal,
      causal_same_length: sCausalEq,
      dense: sDense,
      fwd_ratio_vs_causal: round(sRa.fwd_ms / sCausal.fwd_ms),
      fwdbwd_ratio_vs_causal: round(sRa.fwdbwd_ms / sCausal.fwdbwd_ms),
      // The floor for the two ratios above when time is proportional to the allowed pairs:
      // CRL_action rows attend the whole vision span, work BC never does.
      useful_work_ratio_vs_causal: round(ra.map.allowedPairs / causal.map.allowedPairs),
      fwd_ratio_vs_causal_same_length: round(sRa.fwd_ms / sCausalEq.fwd_ms),
      fwdbwd_ratio_vs_causal_same_length: round(sRa.fwdbwd_ms / sCausalEq.fwdbwd_ms),
      fwd_speedup_vs_dense: round(sDense.fwd_ms / sRa.fwd_ms),
      fwdbwd_speedup_vs_dense: round(sDense.fwdbwd_ms / sRa.fwdbwd_ms),
      // What the ratios would be if time were proportional to visited tiles.
      tile_ratio_vs_causal: round((ra.map.fullTiles + ra.map.partialTiles) / (causal.map.fullTiles + causal.map.partialTiles)),
      visited_tile_fraction: sRa.visited_tile_fraction,
      empty_tile_fraction: round(1 - sRa.visited_tile_fraction, 4),
      gflops: sRa.gflops,
    };
    perLength[String(length)] = row;
    summaryRows.push({
      fwd: row.fwd_ratio_vs_causal,
      fwdbwd: row.fwdbwd_ratio_vs_causal,
      dense: row.fwd_speedup_vs_dense,
      visited: row.visited_tile_fraction,
      floor: row.useful_work_ratio_vs_causal,
      fwdEq: row.fwd_ratio_vs_causal_same_length,
      fwdbwdEq: row.fwdbwd_ratio_vs_causal_same_length,
    });
    console.log(
      `  fwd ms: role-aware ${sRa.fwd_ms}, causal BC ${sCausal.fwd_ms}, causal same length ${sCausalEq.fwd_ms}, dense ${sDense.fwd_ms} | ` +
        `fwd+bwd ms: ${sRa.fwdbwd_ms}, ${sCausal.fwdbwd_ms}, ${sCausalEq.fwdbwd_ms}, ${sDense.fwdbwd_ms}`,
    );
    console.log(
      `  fwd_ratio_vs_causal ${row.fwd_ratio_vs_causal} (tiles ${row.tile_ratio_vs_causal}), fwdbwd_ratio_vs_causal ${row.fwdbwd_ratio_vs_causal}, ` +
        `useful-work floor ${row.useful_work_ratio_vs_causal}, same packed length ${row.fwd_ratio_vs_causal_same_length} / ${row.fwdbwd_ratio_vs_causal_same_length}, ` +
        `fwd_speedup_vs_dense ${row.fwd_speedup_vs_dense} (${(100 * row.empty_tile_fraction).toFixed(1)}% tiles empty), ` +
        `GFLOP/s fwd ${sRa.gflops.fwd} fwd+bwd ${sRa.gflops.fwdbwd}`,
    );
    for (const v of variants) {
      for (const t of [v.q, v.k, v.v, v.dO]) t.dispose();
      v.gmap.release();
    }
  }

  const geo = (xs: number[]) => Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length);
  const denseApplies = summaryRows.filter((r) => 1 - r.visited >= 0.6);
  const summary = {
    fwd_ratio_vs_causal: round(geo(summaryRows.map((r) => r.fwd))),
    fwdbwd_ratio_vs_causal: round(geo(summaryRows.map((r) => r.fwdbwd))),
    fwd_speedup_vs_dense: round(geo(summaryRows.map((r) => r.dense))),
    useful_work_ratio_vs_causal: round(geo(summaryRows.map((r) => r.floor))),
    fwd_ratio_vs_causal_same_length: round(geo(summaryRows.map((r) => r.fwdEq))),
    fwdbwd_ratio_vs_causal_same_length: round(geo(summaryRows.map((r) => r.fwdbwdEq))),
    worst_fwd_ratio_vs_causal: round(Math.max(...summaryRows.map((r) => r.fwd))),
    worst_fwdbwd_ratio_vs_causal: round(Math.max(...summaryRows.map((r) => r.fwdbwd))),
    targets: {
      fwd_ratio_vs_causal_le_1_15: summaryRows.every((r) => r.fwd <= 1.15),
      fwdbwd_ratio_vs_causal_le_1_2: summaryRows.every((r) => r.fwdbwd <= 1.2),
      fwd_speedup_vs_dense_ge_2_where_60pct_empty: denseApplies.length ? denseApplies.every((r) => r.dense >= 2) : null,
    },
  };
  rt.destroy();
  console.log(
    JSON.stringify({
      bench: 'attention',
      device: { vendor: info.vendor, architecture: info.architecture, description: info.description, software },
      config: { heads: headsPerSeq, batch: args.batch, head_dim: d, tile: args.tile, iters, reps, lengths, clock },
      flop_counting: 'FlashAttention-2: 4*d FLOPs per (query, key) pair per head forward over every element of the visited tile pairs, backward 2.5x forward; *_useful counts allowed pairs only',
      lengths: perLength,
      summary,
    }),
  );
}

await main();
