/**
 * The shipped demo run on a profile's first open (src/ui/lib/demoRun.ts) with fake page
 * dependencies: imported once, never twice (marker, run name, two tabs at once), a
 * missing or broken file leaves the app as it was; which episode the Sim tab shows; the
 * Sim tab's demo URL replays the recorded episode's seed. The e2e test
 * (tests/e2e/app-demo.test.ts) runs the real files in the browser.
 */
import { describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { DEMO_ARCHIVE, DEMO_PROPOSER_ARCHIVE, DEMO_DATASET, DEMO_RECORD, DEMO_RECORD_SCHEMA, DEMO_TWIN, demoModeOf, demoPolicyOptions, demoProposerConfig, demoTwinConfig, parseDemoRecord, type DemoEpisode, type DemoRecord } from '../../../src/train/demo-run.ts';
import { episodeSeed } from '../../../src/train/eval-plan.ts';
import { DEMO_POLICY_RUN, DEMO_RUN, DEMO_URL, MARKER_KEY, demoEpisode, ensureDemoRun, parseMarker, type DemoDefaults, type DemoDeps } from '../../../src/ui/lib/demoRun.ts';
import { demoSimParams, parsePolicyParams } from '../../../src/ui/tabs/sim/policyParams.ts';
import { parseSimParams } from '../../../src/ui/tabs/sim/simParams.ts';
import { listSuites } from '../../../src/sim/index.ts';
import type { RunSummary } from '../../../worker/jobs/runs.ts';

const ZIP = Uint8Array.from([0x50, 0x4b, 3, 4, 1, 2, 3]);

function record(episodes: Partial<DemoEpisode>[]): DemoRecord {
  const eps = episodes.map((e) => ({ taskId: 'reach4/touch_red', initState: 0, success: true, steps: 12, finalStateHash: 'h', ...e }));
  return {
    schema: DEMO_RECORD_SCHEMA,
    name: 'reach4-cpu',
    archive: DEMO_ARCHIVE,
    dataset: DEMO_DATASET,
    command: 'npm run demo:train',
    eval: { successes: eps.filter((e) => e.success).length, n: eps.length, rate: 0.5, episodes: eps },
  } as unknown as DemoRecord;
}

/** A fake page: files by URL, a run list, localStorage, a lock shared by every "tab" made from the same world. */
function world(files: Record<string, Response | Error | (() => Response)>) {
  const runs: RunSummary[] = [];
  const store = new Map<string, string>();
  const imports: number[] = [];
  const notes: string[] = [];
  const fetched: string[] = [];
  const targets: { file: string; name: string }[] = [];
  let lock: Promise<unknown> = Promise.resolve();
  const deps: DemoDeps = {
    async fetch(url) {
      fetched.push(String(url));
      const f = files[String(url)];
      if (f instanceof Error) throw f;
      return typeof f === 'function' ? f() : (f?.clone() ?? new Response('<!doctype html>', { status: 200, headers: { 'content-type': 'text/html' } }));
    },
    storage: { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => void store.set(k, v) },
    listRuns: async () => [...runs],
    async importRun(bytes, _runs, target) {
      imports.push(bytes.length);
      targets.push(target);
      // IndexedDB takes a while: a second tab without the lock would see no run yet.
      await new Promise((r) => setTimeout(r, 5));
      runs.push({ name: target.name } as RunSummary);
    },
    exclusive(f) {
      const next = lock.then(f);
      lock = next.catch(() => {});
      return next;
    },
    note: (m) => void notes.push(m),
  };
  return { deps, runs, store, imports, notes, fetched, targets };
}

const archive = () => new Response(ZIP, { status: 200 });
const json = (v: unknown) => () => new Response(JSON.stringify(v), { status: 200 });

describe('demo run import', () => {
  test('a fresh profile imports the archive once and preselects the recorded episode', async () => {
    const w = world({ [DEMO_URL + DEMO_ARCHIVE]: archive, [DEMO_URL + DEMO_RECORD]: json(record([{ success: true }])) });
    const st = await ensureDemoRun(w.deps);
    expect(st).toEqual({ status: 'ready', defaults: { run: DEMO_RUN, dataset: DEMO_DATASET, task: 'reach4/touch_red', state: 0, mode: 'dit' } });
    expect(w.imports).toEqual([ZIP.length]);
    expect(DEMO_RUN).toBe('reach4-cpu-demo');
    expect(DEMO_URL).toBe('demo/');
    // The next open: the marker says it was done; nothing is fetched or imported.
    w.fetched.length = 0;
    expect(await ensureDemoRun(w.deps)).toEqual(st);
    expect(w.fetched).toEqual([]);
    expect(w.imports).toHaveLength(1);
  });

  test('a pair: the proposer is imported beside the critic run, and the defaults name both with the recorded selection', async () => {
    const pairRecord = { ...record([{ success: true }]), proposer: { archive: DEMO_PROPOSER_ARCHIVE }, eval: { ...record([{ success: true }]).eval, mode: 'ar', select: { candidates: 8, temperature: 1, selectCalls: 1, coherent: true } } };
    const w = world({ [DEMO_URL + DEMO_ARCHIVE]: archive, [DEMO_URL + DEMO_PROPOSER_ARCHIVE]: archive, [DEMO_URL + DEMO_RECORD]: json(pairRecord) });
    const st = await ensureDemoRun(w.deps);
    expect(st).toEqual({ status: 'ready', defaults: { run: DEMO_RUN, dataset: DEMO_DATASET, task: 'reach4/touch_red', state: 0, mode: 'ar', candidates: 8, selectCalls: 1, coherent: true, policyRun: DEMO_POLICY_RUN } });
    expect(w.targets).toEqual([{ file: DEMO_ARCHIVE, name: DEMO_RUN }, { file: DEMO_PROPOSER_ARCHIVE, name: DEMO_POLICY_RUN }]);
    // The Sim tab rolls out the proposer with the critic run choosing, coherent afterwards.
    const p = demoSimParams((st as { defaults: DemoDefaults }).defaults);
    const params = Object.fromEntries(Object.entries(p).filter(([, v]) => v !== null).map(([k, v]) => [k, String(v)]));
    expect(parsePolicyParams(params)).toMatchObject({ policy: DEMO_POLICY_RUN, critic: DEMO_RUN, cand: 8, selcalls: 1, coh: true, mode: 'ar' });
    // Without the proposer's file the critic run acts alone, as the plain policy.
    const alone = world({ [DEMO_URL + DEMO_ARCHIVE]: archive, [DEMO_URL + DEMO_RECORD]: json(pairRecord) });
    const st2 = await ensureDemoRun(alone.deps);
    expect(st2).toEqual({ status: 'ready', defaults: { run: DEMO_RUN, dataset: DEMO_DATASET, task: 'reach4/touch_red', state: 0, mode: 'ar' } });
    expect(alone.notes.join('\n')).toMatch(/reach4-cpu-policy\.prts\.zip is not served here/);
  });

  test('a deleted demo run stays deleted in this profile', async () => {
    const w = world({ [DEMO_URL + DEMO_ARCHIVE]: archive });
    await ensureDemoRun(w.deps);
    w.runs.length = 0;
    expect((await ensureDemoRun(w.deps)).status).toBe('ready');
    expect(w.imports).toHaveLength(1);
  });

  test('two tabs opened at once import it once', async () => {
    const w = world({ [DEMO_URL + DEMO_ARCHIVE]: archive });
    const [a, b] = await Promise.all([ensureDemoRun(w.deps), ensureDemoRun(w.deps)]);
    expect(a).toEqual(b);
    expect(w.imports).toHaveLength(1);
  });

  test('a lost marker with the run still there: no second copy, the marker comes back', async () => {
    const w = world({ [DEMO_URL + DEMO_ARCHIVE]: archive });
    w.runs.push({ name: DEMO_RUN } as RunSummary);
    expect((await ensureDemoRun(w.deps)).status).toBe('ready');
    expect(w.imports).toEqual([]);
    expect(w.fetched).not.toContain(DEMO_URL + DEMO_ARCHIVE);
    expect(parseMarker(w.store.get(MARKER_KEY) ?? null)?.run).toBe(DEMO_RUN);
  });

  test.each([
    ['a 404', new Response('{"error":"not_found"}', { status: 404 }), /reach4-cpu\.prts\.zip is not served here \(HTTP 404\)/],
    ['a host answering index.html', undefined, /reach4-cpu\.prts\.zip is not served here \(not the file\)/],
    ['offline', new TypeError('Failed to fetch'), /reach4-cpu\.prts\.zip could not be fetched \(Failed to fetch\)/],
  ])('%s: nothing imported, a quiet note, tried again on the next open', async (_what, answer, note) => {
    const w = world(answer === undefined ? {} : { [DEMO_URL + DEMO_ARCHIVE]: answer });
    const st = await ensureDemoRun(w.deps);
    expect(st.status).toBe('absent');
    expect(w.imports).toEqual([]);
    expect(w.notes.join('\n')).toMatch(note);
    expect(w.store.size).toBe(0);
  });

  test('an archive that does not import (corrupt) is noted, not thrown, and not marked done', async () => {
    const w = world({ [DEMO_URL + DEMO_ARCHIVE]: archive });
    w.deps.importRun = async () => {
      throw new Error('reach4-cpu.prts.zip: step-00000010/model.safetensors: sha256 mismatch');
    };
    const st = await ensureDemoRun(w.deps);
    expect(st).toEqual({ status: 'absent', why: 'reach4-cpu.prts.zip: step-00000010/model.safetensors: sha256 mismatch' });
    expect(w.notes.join('\n')).toMatch(/demo run: not imported: .*sha256 mismatch/);
    expect(w.store.size).toBe(0);
  });

  test('a broken record is noted and the preferred episode is used', async () => {
    const w = world({ [DEMO_URL + DEMO_ARCHIVE]: archive, [DEMO_URL + DEMO_RECORD]: json({ schema: 'other' }) });
    const st = await ensureDemoRun(w.deps);
    expect(st).toMatchObject({ status: 'ready', defaults: { task: 'reach4/touch_red', state: 0 } });
    expect(w.notes.join('\n')).toMatch(/reach4-cpu\.demo\.json: field 'schema' must be/);
  });

  test('a marker that does not parse counts as none', () => {
    expect(parseMarker(null)).toBeNull();
    expect(parseMarker('{oops')).toBeNull();
    expect(parseMarker(JSON.stringify({ run: 'r', dataset: 'd', task: 't' }))).toBeNull();
    expect(parseMarker(JSON.stringify({ run: 'r', dataset: 'd', task: 't', state: 2 }))).toEqual({ run: 'r', dataset: 'd', task: 't', state: 2 });
    expect(parseMarker(JSON.stringify({ run: 'r', dataset: 'd', task: 't', state: 2, mode: 'ar' }))).toEqual({ run: 'r', dataset: 'd', task: 't', state: 2, mode: 'ar' });
    expect(parseMarker(JSON.stringify({ run: 'r', dataset: 'd', task: 't', state: 2, mode: 'fast' }))).toBeNull();
  });
});

describe('the Sim tab shows an episode the demo succeeded on', () => {
  test('reach4/touch_red from state 0 unless the record says it failed', () => {
    expect(demoEpisode(null)).toEqual({ task: 'reach4/touch_red', state: 0 });
    expect(demoEpisode(record([{ success: true }, { taskId: 'reach4/touch_blue', success: true }]))).toEqual({ task: 'reach4/touch_red', state: 0 });
    const failedRed = record([{ success: false }, { taskId: 'reach4/touch_red', initState: 1, success: false }, { taskId: 'reach4/touch_blue', initState: 3, success: true }]);
    expect(demoEpisode(failedRed)).toEqual({ task: 'reach4/touch_blue', state: 3 });
    expect(demoEpisode(record([{ success: false }, { taskId: 'reach4/touch_blue', success: false }]))).toEqual({ task: 'reach4/touch_red', state: 0 });
  });

  test("the demo URL selects the run, the scene and the recorded evaluation's episode seed", () => {
    const p = demoSimParams({ run: DEMO_RUN, dataset: DEMO_DATASET, task: 'reach4/touch_red', state: 2 });
    const params = Object.fromEntries(Object.entries(p).filter(([, v]) => v !== null).map(([k, v]) => [k, String(v)]));
    const seed = episodeSeed(0, 'reach4/touch_red', 2, 'nominal');
    expect(seed).toBeGreaterThan(2 ** 31); // past the old URL clamp: the full 32-bit range is kept
    expect(params).toEqual({ suite: 'reach4', task: 'reach4/touch_red', state: '2', policy: DEMO_RUN, pseed: String(seed) });
    expect(parsePolicyParams(params)).toEqual({ policy: DEMO_RUN, mode: null, steps: 0, pseed: seed, exec: 0, cand: 0, selcalls: 0, coh: false, critic: '' });
    expect(parseSimParams(params, listSuites())).toMatchObject({ suite: 'reach4', task: 'reach4/touch_red', state: 2, perturb: [] });
  });

  test('the demo URL asks for the head the recorded evaluation used', () => {
    const p = demoSimParams({ run: DEMO_RUN, dataset: DEMO_DATASET, task: 'reach4/touch_red', state: 0, mode: 'ar' });
    const params = Object.fromEntries(Object.entries(p).filter(([, v]) => v !== null).map(([k, v]) => [k, String(v)]));
    expect(parsePolicyParams(params).mode).toBe('ar');
  });

  test('the demo URL asks for the recorded value-guided selection', () => {
    const p = demoSimParams({ run: DEMO_RUN, dataset: DEMO_DATASET, task: 'reach4/touch_red', state: 0, mode: 'ar', candidates: 8, selectCalls: 1 });
    const params = Object.fromEntries(Object.entries(p).filter(([, v]) => v !== null).map(([k, v]) => [k, String(v)]));
    expect(parsePolicyParams(params)).toMatchObject({ mode: 'ar', cand: 8, selcalls: 1 });
  });
});

describe('the demo record names its head', () => {
  test("'dit' when absent (records before the choice), the recorded one otherwise; anything else is refused by field", () => {
    const r = record([{ success: true }]);
    expect(demoModeOf(r)).toBe('dit');
    expect(demoModeOf({ eval: { ...r.eval, mode: 'ar' } })).toBe('ar');
    expect(parseDemoRecord(JSON.parse(JSON.stringify({ ...r, eval: { ...r.eval, mode: 'ar' } }))).eval.mode).toBe('ar');
    expect(() => parseDemoRecord({ ...r, eval: { ...r.eval, mode: 'fast' } })).toThrow(/field 'eval.mode' must be 'dit' or 'ar', got "fast"/);
  });

  test('the selection a record acts with: checked by field, and handed to the policy', () => {
    const r = record([{ success: true }]);
    const sel = { ...r, eval: { ...r.eval, mode: 'ar' as const, select: { candidates: 8, temperature: 1, selectCalls: 1 } } };
    expect(demoPolicyOptions(parseDemoRecord(JSON.parse(JSON.stringify(sel))))).toEqual({ mode: 'ar', candidates: 8, temperature: 1, selectCalls: 1 });
    expect(demoPolicyOptions(r)).toEqual({ mode: 'dit' });
    const bad = (select: unknown) => () => parseDemoRecord({ ...r, eval: { ...r.eval, select } });
    expect(bad({ candidates: 0, temperature: 1, selectCalls: 1 })).toThrow(/field 'eval.select.candidates' must be an integer in 1..64, got 0/);
    expect(bad({ candidates: 8, temperature: 0, selectCalls: 1 })).toThrow(/field 'eval.select.temperature' must be a positive number/);
    expect(bad({ candidates: 8, temperature: 1, selectCalls: 0.5 })).toThrow(/field 'eval.select.selectCalls' must be a positive integer/);
    expect(bad(null)).toThrow(/field 'eval.select' must be an object/);
    expect(bad({ candidates: 8, temperature: 1, selectCalls: 1, coherent: 'yes' })).toThrow(/field 'eval.select.coherent' must be true or false/);
    const coh = { ...r, eval: { ...r.eval, mode: 'ar' as const, select: { candidates: 8, temperature: 1, selectCalls: 1, coherent: true } } };
    expect(demoPolicyOptions(parseDemoRecord(JSON.parse(JSON.stringify(coh))))).toEqual({ mode: 'ar', candidates: 8, temperature: 1, selectCalls: 1, coherent: true });
    const withProposer = (proposer: unknown, e: unknown = coh.eval) => () => parseDemoRecord({ ...r, proposer, eval: e });
    expect(withProposer({ archive: DEMO_PROPOSER_ARCHIVE })).not.toThrow();
    expect(withProposer({ archive: 'policy.bin' })).toThrow(/field 'proposer.archive' must name a .prts.zip archive/);
    expect(withProposer({ archive: DEMO_ARCHIVE })).toThrow(/field 'proposer.archive' must differ from archive/);
    expect(withProposer({ archive: DEMO_PROPOSER_ARCHIVE }, r.eval)).toThrow(/field 'eval.select' is needed with a proposer/);
    expect(() => parseDemoRecord({ ...r, recipe: 'cloud' })).toThrow(/field 'recipe' must be 'twin' or 'engine', got "cloud"/);
  });

  test("the twin recipe's config is docs/configs/reach4-crl.json but for its name", () => {
    const doc = JSON.parse(readFileSync('docs/configs/reach4-crl.json', 'utf8'));
    const c = demoTwinConfig(0);
    expect({ model: c.model, train: c.train }).toEqual({ model: doc.model, train: doc.train });
    expect(demoTwinConfig(3).train.seed).toBe(3);
    expect(DEMO_TWIN.steps).toBe(c.train.steps);
  });

  test("the proposer's config is docs/configs/reach4-bc.json (lambda_CRL 0), and differs from the critic's in that field only", () => {
    const doc = JSON.parse(readFileSync('docs/configs/reach4-bc.json', 'utf8'));
    const p = demoProposerConfig();
    expect({ model: p.model, train: p.train }).toEqual({ model: doc.model, train: doc.train });
    expect(p.train.seed).toBe(DEMO_TWIN.proposerSeed);
    const c = demoTwinConfig(DEMO_TWIN.proposerSeed);
    expect({ ...p.train, lambdaCrl: c.train.lambdaCrl }).toEqual(c.train);
    expect(p.model).toEqual(c.model);
  });

  test('a first open with a selecting record preselects its selection', async () => {
    const base = record([{ success: true }]);
    const rec = { ...base, eval: { ...base.eval, mode: 'ar' as const, select: { candidates: 8, temperature: 1, selectCalls: 1 } } };
    const w = world({ [DEMO_URL + DEMO_ARCHIVE]: archive, [DEMO_URL + DEMO_RECORD]: json(rec) });
    expect(await ensureDemoRun(w.deps)).toMatchObject({ status: 'ready', defaults: { run: DEMO_RUN, mode: 'ar', candidates: 8, selectCalls: 1 } });
  });

  test('a first open with an AR record preselects the AR head', async () => {
    const rec = { ...record([{ success: true }]), eval: { ...record([{ success: true }]).eval, mode: 'ar' as const } };
    const w = world({ [DEMO_URL + DEMO_ARCHIVE]: archive, [DEMO_URL + DEMO_RECORD]: json(rec) });
    const st = await ensureDemoRun(w.deps);
    expect(st).toMatchObject({ status: 'ready', defaults: { run: DEMO_RUN, mode: 'ar' } });
  });
});
