/**
 * A newcomer's first open with the demo run that ships in public/demo (made by
 * `npm run demo:train`; scripts/app-stack.ts: real server serving its built-in
 * demo-reach4 dataset, Vite, Chromium with WebGPU on SwiftShader). A fresh browser
 * profile imports the archive as the browser run "reach4-cpu-demo" (once: a reload adds
 * no copy); the Value tab, entered with no choices, has the run and demo-reach4 selected
 * and plots both value curves; the Embeddings tab has them selected and shows the t-SNE
 * panel; the Sim tab has the run, the recorded episode and its evaluation seed selected,
 * and the rollout ends as the recorded evaluation says: with the success badge. When the
 * demo acts as a pair (DemoRecord.proposer), the proposer is imported too ("reach4-cpu-
 * policy-demo") and the Sim tab rolls it out with the demo run as its critic.
 * Kept short for 2 cores: one value episode, two episodes per task at stride 4 and 50
 * t-SNE iterations, one rollout of a ~20-step episode.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startAppStack, type AppStack } from '../../scripts/app-stack.ts';
import { LeRobotReader } from '../../src/data/index.ts';
import { nodeIO } from '../../src/data/io-node.ts';
import { DEMO_ARCHIVE, DEMO_DATASET, DEMO_DIR, DEMO_RECORD, demoModeOf, parseDemoRecord, type DemoEpisode } from '../../src/train/demo-run.ts';
import { DEMO_POLICY_RUN, DEMO_RUN, MARKER_KEY, demoEpisode } from '../../src/ui/lib/demoRun.ts';

let stack: AppStack;
let recorded: DemoEpisode;
let mode: string;
let kind: string;
let cand: string;
let pair: boolean;
let coherent: boolean;
let lengths: number[];
let tasks: string[];

beforeAll(async () => {
  for (const f of [DEMO_ARCHIVE, DEMO_RECORD, `datasets/${DEMO_DATASET}/meta/info.json`]) {
    if (!existsSync(join(DEMO_DIR, f))) throw new Error(`${join(DEMO_DIR, f)} is missing: the demo run ships with the app (npm run demo:train makes it)`);
  }
  const record = parseDemoRecord(JSON.parse(readFileSync(join(DEMO_DIR, DEMO_RECORD), 'utf8')));
  const ep = demoEpisode(record);
  recorded = record.eval.episodes.find((e) => e.taskId === ep.task && e.initState === ep.state)!;
  mode = demoModeOf(record);
  // The twin recipe ships a pre-training checkpoint (AR head), the engine recipe a post-trained one.
  kind = record.training.posttrainSteps > 0 ? 'post (DiT)' : 'pre';
  cand = String(record.eval.select?.candidates ?? 0);
  pair = !!record.proposer;
  coherent = !!record.eval.select?.coherent;
  const reader = await LeRobotReader.open(nodeIO(join(DEMO_DIR, 'datasets', DEMO_DATASET)));
  lengths = reader.episodes.map((e) => e.length);
  tasks = reader.episodes.map((e) => e.tasks[0]);
  stack = await startAppStack();
}, 180_000);
afterAll(async () => {
  await stack?.close();
});

const hashParams = (page: Page) => Object.fromEntries(new URLSearchParams(new URL(page.url()).hash.split('?')[1] ?? ''));
/** Enters a tab from the tab bar (no URL parameters, as a newcomer does) and waits for the demo's choices. */
async function enter(page: Page, tab: string, key: string): Promise<void> {
  await page.click(`[data-testid="tab-${tab}"]`);
  await page.waitForFunction((k) => new URLSearchParams(location.hash.split('?')[1] ?? '').has(k), key, { timeout: 120_000 });
}

test('first open: the demo run is imported once and the Value, Embeddings and Sim tabs show it', async () => {
  const page = await stack.browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${stack.base}/`, { waitUntil: 'domcontentloaded', timeout: 180_000 });

  // Imported as a browser run on its dataset; a reload adds no second copy.
  // The critic is listed before the proposer's import ends (a second archive): wait for
  // every run the demo imports, so the reload below cannot cut the import short.
  const imported = pair ? [DEMO_RUN, DEMO_POLICY_RUN] : [DEMO_RUN];
  const waitImported = async (timeout: number) => {
    for (const r of imported) await page.waitForSelector(`[data-testid="run-${r}"]`, { timeout });
  };
  await page.click('[data-testid="tab-train"]');
  await waitImported(180_000);
  expect(await page.locator(`[data-testid="run-kind-${DEMO_RUN}"]`).innerText()).toBe(kind);
  expect(await page.locator(`[data-testid="run-${DEMO_RUN}"] td`).nth(2).innerText()).toBe(DEMO_DATASET);
  await page.waitForFunction((k) => localStorage.getItem(k) !== null, MARKER_KEY, { timeout: 60_000 });
  await page.reload({ waitUntil: 'domcontentloaded' });
  await waitImported(120_000);
  for (const r of imported) expect(await page.locator(`[data-testid^="run-kind-${r}"]`).count()).toBe(1);

  // Value: the demo checkpoint and dataset are chosen; V under the true and a wrong instruction.
  await enter(page, 'value', 'ckpt');
  expect(hashParams(page)).toEqual({ ckpt: DEMO_RUN, ds: DEMO_DATASET });
  expect(await page.inputValue('[data-testid="value-ckpt"]')).toBe(DEMO_RUN);
  await page.waitForFunction((ds) => (document.querySelector('[data-testid="value-ds"]') as HTMLSelectElement | null)?.value === ds, DEMO_DATASET, { timeout: 60_000 });
  await page.click('[data-testid="value-start"]:not([disabled])', { timeout: 60_000 });
  await page.waitForSelector('[data-testid="value-view"], [data-testid="value-job"] .field-error', { timeout: 300_000 });
  expect(await page.locator('[data-testid="value-job"] .field-error').allInnerTexts()).toEqual([]);
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid="value-plot"]')?.getAttribute('data-points')) === n, 2 * lengths[0], { timeout: 60_000 });
  const names = await page.locator('[data-testid="value-plot"] .legendtext').allTextContents(); // SVG text has no innerText
  expect(names).toEqual([`true: ${tasks[0]}`, expect.stringMatching(/^wrong: touch the \w+ block$/)]);
  await page.screenshot({ path: 'test-results/app-demo-value.png' });

  // Embeddings: chosen too; two episodes of every task keep it short.
  await enter(page, 'embeddings', 'a');
  expect(hashParams(page)).toEqual({ a: DEMO_RUN, ds: DEMO_DATASET });
  expect(await page.inputValue('[data-testid="emb-ckpt-a"]')).toBe(DEMO_RUN);
  const eps = [...new Set(tasks)].flatMap((t) => tasks.flatMap((x, i) => (x === t ? [i] : [])).slice(0, 2));
  await page.fill('[data-testid="emb-eps"]', eps.join(','));
  await page.fill('#emb-stride', '4');
  await page.fill('[data-testid="emb-iters"]', '50');
  await page.click('[data-testid="emb-start"]:not([disabled])', { timeout: 60_000 });
  await page.waitForSelector('[data-testid="emb-view"], [data-testid="emb-job"] .field-error', { timeout: 300_000 });
  expect(await page.locator('[data-testid="emb-job"] .field-error').allInnerTexts()).toEqual([]);
  const chunks = eps.reduce((n, e) => n + Math.ceil(lengths[e] / 4), 0);
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid="emb-plot-0"]')?.getAttribute('data-points')) === n, chunks, { timeout: 60_000 });
  expect(await page.locator('[data-testid="emb-plot-1"]').count()).toBe(0);
  expect((await page.locator('[data-testid="emb-metrics-0"] td[data-metric="task.excluded"]').innerText())).toBe('0');
  await page.screenshot({ path: 'test-results/app-demo-embeddings.png' });

  // Sim: the run on the recorded episode with the evaluation's seed; the rollout ends as recorded.
  await enter(page, 'sim', 'policy');
  expect(await page.inputValue('[data-testid="sim-policy-select"]')).toBe(pair ? DEMO_POLICY_RUN : DEMO_RUN);
  expect(await page.inputValue('[data-testid="sim-task-select"]')).toBe(recorded.taskId);
  expect(await page.inputValue('[data-testid="sim-state"]')).toBe(String(recorded.initState));
  await page.waitForSelector('[data-testid="sim-policy-info"]', { timeout: 120_000 });
  expect(await page.inputValue('[data-testid="sim-policy-mode"]')).toBe(mode);
  expect(await page.inputValue('[data-testid="sim-policy-cand"]')).toBe(cand);
  if (pair) expect(await page.inputValue('[data-testid="sim-policy-critic"]')).toBe(DEMO_RUN);
  if (coherent) expect(await page.isChecked('[data-testid="sim-policy-coh"]')).toBe(true);
  await page.click('[data-testid="sim-rollout-start"]');
  await page.waitForSelector('[data-testid="sim-outcome"], [data-testid="sim-rollout-job"] .field-error, [data-testid="sim-error"]', { timeout: 600_000 });
  expect(await page.locator('[data-testid="sim-rollout-job"] .field-error, [data-testid="sim-error"]').allInnerTexts()).toEqual([]);
  const success = await page.locator('[data-testid="sim-outcome"]').getAttribute('data-success');
  const summary = await page.locator('[data-testid="sim-rollout-summary"]').innerText();
  expect(success, `rollout "${summary}" vs the recorded ${JSON.stringify(recorded)}`).toBe(String(recorded.success));
  // The last frame of the replay carries the success badge.
  const n = Number(/step 0\/(\d+)/.exec(await page.locator('[data-testid="sim-step-count"]').innerText())![1]);
  await page.locator('[data-testid="sim-scrub"]').fill(String(n));
  await page.screenshot({ path: 'test-results/app-demo-sim.png' });
  expect(recorded.success, `the demo's recorded evaluation has no success to show (${recorded.taskId} from state ${recorded.initState} failed): retrain it with npm run demo:train`).toBe(true);
  await page.waitForSelector('[data-testid="sim-success"]', { timeout: 30_000 });
  expect(errors).toEqual([]);
  await page.close();
}, 900_000);
