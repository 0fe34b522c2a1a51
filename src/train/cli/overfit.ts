/**
 * npm run check:overfit [-- --task reach/touch_red --demos 1,4 --config cpu --max-pretrain 600 --max-posttrain 600]
 *
 * The pipeline's correctness check (issue 10, DESIGN.md 9; src/train/overfit.ts): train
 * on 1, then 4 expert demonstrations of one task and roll out from the same initial
 * states in the AR and the DiT mode; each must succeed every time. Prints a line per
 * closed-loop check, a table per stage with the per-step action error along the rollout,
 * and ends with one JSON line: {"success_dit": 1, "success_ar": 1, ...}.
 */
import { writeFileSync } from 'node:fs';
import { defineCli } from '../../cli/args.ts';
import { readConfigSpec } from '../../cli/config-spec.ts';
import { openRuntime } from '../../engine/autotune.ts';
import type { WorkbenchConfig } from '../../model/config.ts';
import { getTask } from '../../sim/tasks/suites.ts';
import { formatDuration } from '../metrics.ts';
import { runOverfitCheck, type OverfitModeResult } from '../overfit.ts';

const cli = defineCli({
  name: 'check:overfit',
  command: 'npm run check:overfit --',
  description: 'Overfit check: train on 1, then 4 demonstrations of one task and roll out from the same states in the AR and DiT modes; ends with one JSON line.',
  options: {
    task: { type: 'string', default: 'reach/touch_red', metavar: 'ID', help: 'task of the demonstrations' },
    demos: { type: 'list', default: ['1', '4'], metavar: 'n,...', help: 'demonstrations per stage (initial states 0..n-1)' },
    config: { type: 'string', default: 'cpu', metavar: 'file|preset', help: 'model and training config (lambda_crl is set by --lambda-crl)' },
    'lambda-crl': { type: 'number', min: 0, default: 0, help: 'weight of the InfoNCE terms (one task has one goal, so 0 by default)' },
    'max-pretrain': { type: 'int', min: 1, default: 600, metavar: 'N', help: 'most pre-training steps per stage' },
    'max-posttrain': { type: 'int', min: 1, default: 600, metavar: 'N', help: 'most post-training steps per stage' },
    'eval-every': { type: 'int', min: 1, default: 50, metavar: 'N', help: 'training steps between closed-loop checks' },
    'execute-steps': { type: 'int', min: 1, metavar: 'N', help: 'actions executed per chunk before re-planning (default the chunk length)' },
    seed: { type: 'int', min: 0, default: 0, help: 'train.seed (weights, batch order, DiT noise)' },
    out: { type: 'string', metavar: 'file.json', help: 'write the full report (checks, per-step errors) here' },
  },
});
const args = cli.parse();
const fail: (message: string) => never = cli.fail;

const readConfig = (spec: string): WorkbenchConfig => readConfigSpec(spec, fail);

const demos = args.demos.map((d) => {
  const n = Number(d);
  if (!Number.isInteger(n) || n < 1 || n > 50) fail(`--demos: '${d}' is not a demonstration count in [1, 50]`);
  return n;
});
try {
  getTask(args.task);
} catch (e) {
  fail(`--task: ${(e as Error).message}`);
}
const base = readConfig(args.config);
const config: WorkbenchConfig = { ...base, name: `${base.name}-overfit`, train: { ...base.train, lambdaCrl: args['lambda-crl'], seed: args.seed } };

function errorLine(r: OverfitModeResult): string {
  const e = r.perStepError;
  const pick = [0, 1, 2, 4, 8, 16, 32, 64].filter((t) => t < e.length);
  return pick.map((t) => `t${t} ${e[t].toFixed(3)}`).join('  ');
}

const rt = await openRuntime();
console.error(`adapter: ${rt.info.vendor} ${rt.info.architecture} (${rt.info.description})`);
let report;
try {
  report = await runOverfitCheck(rt, {
    task: args.task,
    demos,
    config,
    maxPretrainSteps: args['max-pretrain'],
    maxPosttrainSteps: args['max-posttrain'],
    evalEvery: args['eval-every'],
    executeSteps: args['execute-steps'],
    onLog: (l) => console.error(l),
  });
} catch (e) {
  console.error(`check:overfit: ${(e as Error).message}`);
  process.exit(1);
} finally {
  rt.destroy();
}
for (const s of report.stages) {
  console.log(`\n${s.demos} demonstration(s), ${s.demoFrames} frames`);
  for (const r of [s.ar, s.dit]) {
    console.log(
      `  ${r.mode.padEnd(3)}  success ${(100 * r.success).toFixed(0)}%  solved at ${r.solvedAt ?? 'never'} of ${r.steps} steps  loss ${r.finalLoss.toFixed(4)}  ` +
        `|a - a_demo| mean ${r.meanError.toFixed(3)} (${errorLine(r)})  ${r.policyIssues ? `${r.policyIssues} policy problems  ` : ''}${formatDuration(r.seconds)}`,
    );
  }
}
if (args.out) writeFileSync(args.out, JSON.stringify(report, null, 1));
const brief = (r: OverfitModeResult) => ({ success: r.success, solved_at: r.solvedAt, steps: r.steps, final_loss: Number(r.finalLoss.toFixed(5)), mean_action_error: Number(r.meanError.toFixed(4)), policy_issues: r.policyIssues });
console.log(
  JSON.stringify({
    success_dit: report.success_dit,
    success_ar: report.success_ar,
    task: report.task,
    config: report.config,
    stages: report.stages.map((s) => ({ demos: s.demos, frames: s.demoFrames, ar: brief(s.ar), dit: brief(s.dit) })),
    seconds: Math.round(report.seconds),
  }),
);
