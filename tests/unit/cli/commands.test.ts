/**
 * Every npm script that runs a TypeScript entry (CLIs, benchmarks, the server) through
 * scripts/run.mjs, driven as a user would: --help, bad command lines, and the options
 * that reach the program. None of these runs trains or renders anything.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { npmRun, TS_ENTRIES as ENTRIES } from './npm-run.ts';

const dir = mkdtempSync(join(tmpdir(), 'prts-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('--help of every npm run entry', () => {
  it('covers the CLIs and benchmarks', () => {
    const names = ENTRIES.map(([n]) => n);
    for (const n of ['train', 'post-train', 'eval', 'value', 'tsne', 'gen', 'sim:experts', 'check:e2e', 'check:overfit', 'serve', 'bench:attention', 'bench:decode', 'bench:matmul', 'bench:server', 'bench:sim', 'bench:train', 'bench:tsne', 'pack-run']) expect(names).toContain(n);
  });

  it('the runner refuses a script package.json does not have', () => {
    expect(() => npmRun('no-such-script', [])).toThrow(/package\.json has no script "no-such-script"/);
  });

  it.each(ENTRIES.map(([n]) => n))('npm run %s -- --help prints its usage under its own name and exits 0', (name) => {
    const r = npmRun(name, ['--help']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.startsWith(`usage: npm run ${name} --`)).toBe(true);
    expect(r.stdout).toMatch(/-h, --help +print this help/);
  });
});

describe('bad command lines exit 2 naming the option', () => {
  const cases: [string, string[], RegExp][] = [
    ['train', ['--data', 'd', '--out', 'o', '--stpes', '5'], /^train: unknown option --stpes \(options: .*--steps/],
    ['train', ['--data', 'd', '--out', 'o', '--steps', '0'], /^train: --steps must be an integer >= 1, got '0'/],
    ['train', ['--out', 'o'], /^train: --data <dataset dir> is required/],
    ['train', ['--data', 'd', '--out', 'o', 'tiny'], /^train: unexpected argument 'tiny'/],
    ['post-train', ['--data', 'd', '--out', 'o'], /^posttrain: --checkpoint <pre-trained run or step dir> is required \(unless --resume\)/],
    ['post-train', ['--data', 'd', '--out', 'o', '--checkpoint', 'c', '--lr', '2'], /^posttrain: --lr must be a number in \(0, 1\], got '2'/],
    ['post-train', ['--data', 'd', '--out', 'o', '--checkpoint', 'c', '--tau-emphasis', 'middle'], /^posttrain: --tau-emphasis must be one of data, noise, got 'middle'/],
    ['eval', ['--suites', 'spatial'], /^eval: --policy or --checkpoint is required/],
    ['eval', ['--checkpoint', 'runs/a', '--policy', 'expert'], /^eval: give either --policy or --checkpoint, not both/],
    ['eval', ['--policy', 'expert', '--mode', 'ar'], /^eval: --mode applies to --checkpoint only/],
    ['eval', ['--checkpoint', 'runs/a', '--mode', 'fast'], /^eval: --mode must be one of dit, ar, got 'fast'/],
    ['eval', ['--policy', 'expert', '--states', '990-1000'], /^eval: --states: '990-1000' must lie in 0-999/],
    ['eval', ['--policy', 'expert', '--suites', 'spatial,space'], /^eval: --suites must be one of spatial, object, goal, long, reach, reach4, got 'space'/],
    ['eval', ['--policy', 'expert', '--perturbations', 'nominal,fog'], /^eval: --perturbations must be one of nominal, .*, all, got 'fog'/],
    ['eval', ['--compare', 'a.json'], /^eval: --compare needs two result files/],
    ['eval', ['--checkpoint', 'runs/a', '--critic', 'runs/b'], /^eval: --critic needs --candidates N of 2 or more/],
    ['eval', ['--checkpoint', 'runs/a', '--candidates', '1', '--critic', 'runs/b'], /^eval: --critic needs --candidates N of 2 or more/],
    ['eval', ['--checkpoint', 'runs/a', '--candidates', '8', '--coherent'], /^eval: --coherent needs --select-calls N/],
    ['eval', ['--checkpoint', 'runs/a', '--candidates', '8', '--select-calls', '0'], /^eval: --select-calls 0 chooses nothing by value: add --coherent/],
    ['eval', ['--checkpoint', 'runs/a', '--candidates', '8', '--select-calls', '0', '--coherent', '--critic', 'runs/b'], /^eval: --critic is never asked with --select-calls 0/],
    ['eval', ['--checkpoint', 'public/demo/reach4-cpu.demo.json', '--mode', 'dit'], /^eval: --checkpoint public\/demo\/reach4-cpu\.demo\.json acts as its demo record says; --mode would change that/],
    ['eval', ['--checkpoint', 'no/such.demo.json'], /^eval: --checkpoint no\/such\.demo\.json: no such file/],
    ['eval', ['--policy', 'alien'], /^eval: --policy must be expert, random\[:seed\], replay:<file> or checkpoint:<dir>\[:dit\|:ar\], got 'alien'/],
    ['eval:grounding', ['--suites', 'reach'], /^eval:grounding: --policy or --checkpoint is required/],
    ['eval:grounding', ['--policy', 'expert', '--mode', 'ar'], /^eval:grounding: --mode applies to --checkpoint only/],
    ['eval:grounding', ['--policy', 'alien'], /^eval:grounding: --policy must be expert, random\[:seed\] or checkpoint:<dir>\[:dit\|:ar\], got 'alien'/],
    ['eval:grounding', ['--policy', 'replay:r.json'], /^eval:grounding: --policy replay:<file> cannot be probed/],
    ['eval:grounding', ['--policy', 'expert', '--after', '-1'], /^eval:grounding: --after must be an integer >= 0, got '-1'/],
    ['eval:grounding', ['--policy', 'expert', '--suites', 'reach', '--tasks', 'reach/touch_red'], /^eval:grounding: give either --suites or --tasks, not both/],
    ['eval:grounding', ['--policy', 'expert', '--tasks', 'reach/touch_red,spatial/left', '--all-instructions'], /^eval:grounding: --all-instructions: task spatial\/left: no other task of suite 'spatial' has a goal object in this scene/],
    ['value', ['--checkpoint', 'c', '--data', 'd', '--strides', '2'], /^value: unknown option --strides \(options: .*--stride/],
    ['value', ['--checkpoint', 'c', '--data', 'd', '--batch', '1'], /^value: --batch must be an integer >= 2, got '1'/],
    ['value', ['--checkpoint', 'c', '--data', 'd', '--episodes', '3-1'], /^value: --episodes: range '3-1' is empty/],
    ['tsne', ['--checkpoint', 'a,b', '--data', 'd', '--out', 'o.json', '--rows', 'phase'], /^tsne: --rows must be one of 'task', 'task,phase', got 'phase'/],
    ['gen', ['--suite', 'goal'], /^gen: --out <dir> is required/],
    ['recovery', ['--suite', 'reach', '--out', 'o'], /^recovery: --policy or --checkpoint is required/],
    ['recovery', ['--policy', 'expert', '--out', 'o'], /^recovery: give exactly one of --suite and --tasks/],
    ['recovery', ['--policy', 'expert', '--suite', 'reach', '--out', 'no-such-dataset'], /^recovery: --out no-such-dataset holds no dataset yet: give --data <demonstrations>/],
    ['recovery', ['--policy', 'expert', '--suite', 'reach', '--out', 'o', '--takeover', '9-3'], /^recovery: --takeover: range '9-3' is empty/],
    ['gen', ['--out', 'o'], /^gen: give --suite \(spatial, object, goal, long, reach, reach4\) or --task ID/],
    ['gen', ['--out', 'o', '--suite', 'goal', '--episodes', '1001'], /^gen: --episodes must be an integer in \[1, 1000\], got '1001'/],
    ['gen', ['--out', 'o', '--suite', 'goal', '--first-state', '990', '--episodes', '20'], /^gen: --first-state must be an integer with first-state \+ episodes <= 1000/],
    ['gen', ['--out', 'o', '--suite', 'goal', '--perturb', 'lighting,fog'], /^gen: --perturb must be one of position_swap, .*, got 'fog'/],
    ['gen', ['--out', 'o', '--suite', 'goal', '--file-mb', '0'], /^gen: --file-mb must be an integer in \[1, 1000\], got '0'/],
    ['sim:experts', ['--states', '0'], /^sim:experts: --states must be an integer in \[1, 50\], got '0'/],
    ['check:e2e', ['--steps=x'], /^check:e2e: --steps must be an integer >= 1, got 'x'/],
    ['check:overfit', ['--demos', '1,0'], /^check:overfit: --demos: '0' is not a demonstration count in \[1, 50\]/],
    ['check:overfit', ['--config', 'no-such.json'], /^check:overfit: cannot read --config no-such.json/],
    ['check:overfit', ['--task', 'reach/touch_pink'], /^check:overfit: --task: unknown task 'reach\/touch_pink'/],
    ['bench:train', ['--batch', '6'], /^bench:train: --batch \(6\) must be a multiple of --tasks \(4\)/],
    ['bench:attention', ['--lengths', '512,-1'], /^bench:attention: --lengths must be an integer >= 1, got '-1'/],
    ['pack-run', ['--run', 'runs/tiny'], /^pack-run: --out <file\.prts\.zip> is required/],
    ['serve', ['--port', 'http'], /^serve: --port must be an integer in \[0, 65535\], got 'http'/],
  ];
  it.each(cases)('npm run %s -- %j', (name, args, message) => {
    const r = npmRun(name, args);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain(`usage: npm run ${name} --`);
    expect(r.stdout).toBe('');
  });
});

describe('read-only checkpoint options never create the directory they are given', () => {
  it('eval --policy checkpoint:<missing>', () => {
    const missing = join(dir, 'runs', 'tinyy');
    const r = npmRun('eval', ['--policy', `checkpoint:${missing}`, '--tasks', 'goal/open_drawer', '--states', '0']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`--policy checkpoint:${missing}: no such directory or checkpoint archive`);
    expect(existsSync(join(dir, 'runs'))).toBe(false);
  });

  it('eval --checkpoint <missing> (the issue-6 form of --policy checkpoint:)', () => {
    const missing = join(dir, 'runs2', 'tinyy');
    const r = npmRun('eval', ['--checkpoint', missing, '--mode', 'dit', '--tasks', 'goal/open_drawer', '--states', '0']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`--policy checkpoint:${missing}: no such directory or checkpoint archive`);
    expect(existsSync(join(dir, 'runs2'))).toBe(false);
  });

  it('eval --critic <missing>', () => {
    const missing = join(dir, 'runs3', 'critic');
    const r = npmRun('eval', ['--checkpoint', join(dir, 'runs3', 'policy'), '--candidates', '2', '--critic', missing, '--tasks', 'goal/open_drawer', '--states', '0']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`--critic ${missing}: no such directory or checkpoint archive`);
    expect(existsSync(join(dir, 'runs3'))).toBe(false);
  });

  it('value --checkpoint <missing>', () => {
    const missing = join(dir, 'value', 'tinyy');
    const r = npmRun('value', ['--checkpoint', missing, '--data', join(dir, 'data')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`--checkpoint ${missing}: no such directory or checkpoint archive`);
    expect(existsSync(join(dir, 'value'))).toBe(false);
  });

  it('post-train --checkpoint <missing>', () => {
    const missing = join(dir, 'pre', 'tinyy');
    const r = npmRun('post-train', ['--checkpoint', missing, '--data', join(dir, 'data'), '--out', join(dir, 'post')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`--checkpoint ${missing}: no such directory or checkpoint archive`);
    expect(existsSync(join(dir, 'pre'))).toBe(false);
  });
});

describe('options reach the program', () => {
  it('eval takes ranges, lists and numbers from the command line', () => {
    const out = join(dir, 'eval.json');
    const r = npmRun('eval', ['--policy', 'random:1', '--tasks', 'goal/open_drawer', '--states', '1,0', '--perturbations', 'nominal,lighting', '--max-steps', '3', '--envs=2', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const res = JSON.parse(readFileSync(out, 'utf8')) as { episodes: unknown[]; config: Record<string, unknown> };
    expect(res.config).toMatchObject({ tasks: ['goal/open_drawer'], initStates: [1, 0], perturbations: ['nominal', 'lighting'], maxSteps: 3, envsPerBatch: 2, seed: 0 });
    expect(res.episodes).toHaveLength(4);
    const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { episodes: number; out: string };
    expect(summary).toMatchObject({ episodes: 4, out });
  });
});
