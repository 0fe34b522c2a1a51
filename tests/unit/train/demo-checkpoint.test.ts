/**
 * `--checkpoint <name>.demo.json` (src/train/cli/policy-spec.ts expandDemoRecord): the
 * shipped demo acts as its record says, with the same flags a user would write by hand.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expandDemoRecord, policySpec, type PolicyArgs } from '../../../src/train/cli/policy-spec.ts';
import { DEMO_DIR, DEMO_RECORD } from '../../../src/train/demo-run.ts';

const fail = (m: string): never => {
  throw new Error(m);
};
const shipped = JSON.parse(readFileSync(join(DEMO_DIR, DEMO_RECORD), 'utf8'));
/** A record as the fake file system holds it. */
const files = (text: string) => (p: string) => {
  if (p !== 'demo/x.demo.json') throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
  return text;
};

describe('expandDemoRecord', () => {
  it('passes any other checkpoint, and no checkpoint, through', () => {
    expect(expandDemoRecord({ checkpoint: 'runs/a', mode: 'ar' }, fail)).toBeNull();
    expect(expandDemoRecord({ policy: 'expert' }, fail)).toBeNull();
  });

  it('a pair: the proposer acts with the record archive as its critic, the record selection and re-planning', () => {
    const e = expandDemoRecord({ checkpoint: 'demo/x.demo.json', seed: 3 }, fail, files(JSON.stringify(shipped)))!;
    const sel = shipped.eval.select;
    expect(e.args).toEqual({
      checkpoint: join('demo', shipped.proposer.archive),
      critic: join('demo', shipped.archive),
      mode: shipped.eval.mode,
      candidates: sel.candidates,
      temperature: sel.temperature,
      'select-calls': sel.selectCalls,
      ...(sel.coherent ? { coherent: true } : {}),
      'execute-steps': shipped.eval.options.executeSteps,
      seed: 3,
    });
    // The same policy spec as the flags it prints, written by hand.
    expect(policySpec(e.args, fail)).toBe(`checkpoint:${join('demo', shipped.proposer.archive)}:${shipped.eval.mode}`);
    expect(e.note).toContain(`--checkpoint ${join('demo', shipped.proposer.archive)} --critic ${join('demo', shipped.archive)} --mode ${shipped.eval.mode} --candidates ${sel.candidates}`);
    expect(e.note).toContain(`recorded: ${shipped.eval.successes}/${shipped.eval.n} on reach4 states 0-9, seed 0`);
  });

  it('a single run: the archive alone, plain when the record has no selection; an explicit --execute-steps stays', () => {
    const single = { ...shipped, proposer: undefined, eval: { ...shipped.eval, select: undefined, mode: 'dit' } };
    const given: PolicyArgs = { checkpoint: 'demo/x.demo.json', 'execute-steps': 2 };
    const e = expandDemoRecord(given, fail, files(JSON.stringify(single)))!;
    expect(e.args).toEqual({ checkpoint: join('demo', shipped.archive), mode: 'dit', 'execute-steps': 2 });
    expect(e.args.critic).toBeUndefined();
  });

  it.each([
    [{ mode: 'dit' }, /--mode would change that/],
    [{ critic: 'runs/b' }, /--critic would change that/],
    [{ candidates: 4 }, /--candidates would change that/],
    [{ coherent: true }, /--coherent would change that/],
  ] as [Partial<PolicyArgs>, RegExp][])('refuses %o beside a demo record', (extra, re) => {
    expect(() => expandDemoRecord({ checkpoint: 'demo/x.demo.json', ...extra }, fail, files(JSON.stringify(shipped)))).toThrow(re);
  });

  it('names what is wrong with the record', () => {
    expect(() => expandDemoRecord({ checkpoint: 'demo/missing.demo.json' }, fail, files('{}'))).toThrow(/^--checkpoint demo\/missing\.demo\.json: no such file$/);
    expect(() => expandDemoRecord({ checkpoint: 'demo/x.demo.json' }, fail, files('{"schema"'))).toThrow(/demo\/x\.demo\.json: not JSON/);
    expect(() => expandDemoRecord({ checkpoint: 'demo/x.demo.json' }, fail, files(JSON.stringify({ ...shipped, proposer: { archive: 'p.bin' } })))).toThrow(/demo\/x\.demo\.json: field 'proposer\.archive' must name a \.prts\.zip archive/);
  });

  it('the shipped record names archives that ship beside it', () => {
    const given: PolicyArgs = { checkpoint: join(DEMO_DIR, DEMO_RECORD) };
    const e = expandDemoRecord(given, fail)!;
    for (const p of [e.args.checkpoint!, e.args.critic].filter((x): x is string => !!x)) expect(existsSync(p), p).toBe(true);
  });
});
