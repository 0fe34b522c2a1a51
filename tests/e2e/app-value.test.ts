/**
 * The Value and Embeddings tabs end to end (scripts/app-stack.ts: real server with its
 * small "demo" dataset, Vite, Chromium with WebGPU on SwiftShader): a tiny PRTS is
 * pre-trained in the browser for a few steps (with CRL, and a lambda = 0 run), then the
 * Value tab plots V under the true and a wrong instruction with the metrics, and the
 * Embeddings tab plots both checkpoints' t-SNE side by side with their separation metrics,
 * and loads t-SNE JSON files (the CLI's shape, built here from the shared panelMetrics).
 * Kept tiny for SwiftShader: 16-frame episodes, few steps, stride 2 and 30 t-SNE iterations.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startAppStack, type AppStack } from '../../scripts/app-stack.ts';
import { panelMetrics } from '../../src/analysis/chunk-embeddings.ts';

let stack: AppStack;
beforeAll(async () => {
  stack = await startAppStack();
}, 180_000);
afterAll(async () => {
  await stack?.close();
});

const points = (page: Page, testId: string) => page.locator(`[data-testid="${testId}"]`).getAttribute('data-points').then(Number);

/** Metric cells of a panel's table: "task.knn" -> its text. */
const metricCells = (page: Page, k: number) =>
  page.locator(`[data-testid="emb-metrics-${k}"] td[data-metric]`).evaluateAll((tds) => Object.fromEntries(tds.map((td) => [td.getAttribute('data-metric')!, td.textContent!])));

/**
 * A file as `npm run tsne --out` writes it, for the demo dataset (episode e: task e, 16
 * frames) or one named `data`: every 4th chunk start, one panel, metrics from panelMetrics.
 */
function cliJson(data: string): string {
  const points = [0, 1].flatMap((e) => [0, 4, 8, 12].map((t) => ({ episode: e, t, task: e, instruction: e ? 'lift the red block' : 'push the blue block', phase: t < 8 ? 0 : 1 })));
  const emb = points.flatMap((p, i) => [1 + p.task, Math.sin(i), p.phase ?? 0]);
  const xy = points.flatMap((p, i) => [3 * p.task + Math.cos(i), p.phase ?? 0]);
  const panel = { label: 'cli panel', checkpoint: '/tmp/ck', step: 2, lambdaCrl: 1, note: null, x: xy.filter((_, i) => i % 2 === 0), y: xy.filter((_, i) => i % 2 === 1), kl: 0.5, metrics: panelMetrics(emb, 3, xy, points, 5) };
  return JSON.stringify({ run: 'tsne', data, feature: 'phi', tasks: ['push the blue block', 'lift the red block'], phases: ['reach', 'lift'], points, panels: [panel] });
}
const loadJson = (page: Page, name: string, text: string) => page.setInputFiles('[data-testid="emb-load"]', { name, mimeType: 'application/json', buffer: Buffer.from(text) });

async function pretrain(page: Page, steps: number, lambda: 'config' | 'zero'): Promise<string> {
  await page.fill('[data-testid="pt-steps"]', String(steps));
  await page.selectOption('[data-testid="pt-lambda"]', lambda);
  const name = (await page.getAttribute('[data-testid="pt-name"]', 'placeholder'))!;
  await page.click('[data-testid="pt-start"]');
  await page.waitForSelector('[data-testid="pt-done"], [data-testid="pt-job"] .field-error', { timeout: 600_000 });
  const err = await page.locator('[data-testid="pt-job"] .field-error').count();
  if (err) throw new Error(`pre-training failed: ${await page.locator('[data-testid="pt-job"] .field-error').innerText()}`);
  return name;
}

test('Value and Embeddings tabs render from a checkpoint pre-trained in the browser', async () => {
  const page = await stack.browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${stack.base}/#/value?ds=demo`, { waitUntil: 'domcontentloaded', timeout: 180_000 });
  await page.waitForSelector('[data-testid="pt-start"]:not([disabled])', { timeout: 180_000 });
  const crl = await pretrain(page, 2, 'config');
  const bc = await pretrain(page, 1, 'zero');
  expect(crl).not.toBe(bc);

  // Value curves of episode 1 under its own and the other task's instruction.
  await page.selectOption('[data-testid="value-ckpt"]', crl);
  await page.selectOption('[data-testid="value-ep"]', '1');
  expect(await page.inputValue('[data-testid="value-wrong"]')).toBe('push the blue block');
  await page.click('[data-testid="value-start"]');
  await page.waitForSelector('[data-testid="value-view"], [data-testid="value-job"] .field-error', { timeout: 600_000 });
  expect(await page.locator('[data-testid="value-job"] .field-error').count()).toBe(0);
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="value-plot"]')?.getAttribute('data-points')) > 0, null, { timeout: 60_000 });
  // Two curves over the episode's 16 chunk starts; the bar and the result count the same chunks.
  expect(await points(page, 'value-plot')).toBe(32);
  expect(await page.locator('[data-testid="value-chunks"]').innerText()).toBe('16');
  expect(await page.locator('[data-testid="value-job"]').innerText()).toMatch(/^16\/16 chunks/);
  expect(await page.locator('[data-testid="value-frac"]').innerText()).toMatch(/^\d+(\.\d)?%$/);
  expect(await page.locator('[data-testid="value-spearman"]').innerText()).toMatch(/^(-?\d\.\d{3}|—)$/);
  // The cursor moves the frame and the URL.
  await page.locator('[data-testid="value-cursor"]').fill('9');
  expect(new URL(page.url()).hash).toMatch(/t=9/);
  await page.screenshot({ path: 'test-results/app-value.png' });

  // Embeddings: both checkpoints side by side.
  await page.evaluate(([a, b]) => (location.hash = `#/embeddings?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}&ds=demo&iters=30&perp=4&stride=2`), [crl, bc]);
  await page.waitForSelector('[data-testid="emb-start"]:not([disabled])', { timeout: 60_000 });
  await page.click('[data-testid="emb-start"]');
  // While it runs, the right side says so instead of the how-to placeholder.
  await page.waitForSelector('[data-testid="emb-placeholder"]:has-text("Computing"), [data-testid="emb-view"]', { timeout: 60_000 });
  await page.waitForSelector('[data-testid="emb-view"], [data-testid="emb-job"] .field-error', { timeout: 600_000 });
  expect(await page.locator('[data-testid="emb-job"] .field-error').count()).toBe(0);
  // Progress in the setting's iterations, per panel.
  expect(await page.locator('[data-testid="emb-job"]').innerText()).toMatch(/^panel 2 of 2: iteration 30 \/ 30/);
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="emb-plot-1"]')?.getAttribute('data-points')) > 0, null, { timeout: 60_000 });
  // 2 episodes x 8 chunk starts (stride 2) in each panel.
  expect(await points(page, 'emb-plot-0')).toBe(16);
  expect(await points(page, 'emb-plot-1')).toBe(16);
  // Metrics under each panel. Each task has one episode here, so task k-NN has nobody to
  // ask (all 16 chunks left out); both episodes hold 4 chunks of each phase, so a random
  // neighbour from the other episode has the right phase half the time.
  for (const k of [0, 1]) {
    const m = await metricCells(page, k);
    expect(m).toMatchObject({ 'task.knn': 'n/a', 'task.excluded': '16', 'phase.chance': '0.50', 'phase.excluded': '0' });
    for (const [key, text] of Object.entries(m)) {
      if (key.endsWith('excluded') || text === 'n/a') continue;
      const [lo, hi] = key.includes('silhouette') ? [-1, 1] : [0, 1];
      expect(Number(text), key).toBeGreaterThanOrEqual(lo);
      expect(Number(text), key).toBeLessThanOrEqual(hi);
    }
    expect(m['task.silhouette']).toMatch(/^-?\d\.\d\d$/);
    expect(m['phase.knn']).toMatch(/^\d\.\d\d$/);
  }
  // The task legend is below the panels, whole, and none is drawn over the points.
  expect(await page.locator('[data-testid="emb-legend"]').innerText()).toMatch(/push the blue block[\s\S]*lift the red block|lift the red block[\s\S]*push the blue block/);
  expect(await page.locator('[data-testid="emb-plot-0"] .legend').count()).toBe(0);
  await page.selectOption('[data-testid="emb-color"]', 'phase');
  await page.screenshot({ path: 'test-results/app-embeddings.png' });

  // A t-SNE JSON of the served demo dataset: its 8 points in one panel, frames available.
  await loadJson(page, 'demo.json', cliJson('/somewhere/demo'));
  await page.waitForFunction(() => document.querySelector('[data-testid="emb-plot-0"]')?.getAttribute('data-points') === '8', null, { timeout: 60_000 });
  expect(await page.locator('[data-testid="emb-plot-1"]').count()).toBe(0);
  expect(await page.locator('[data-testid="emb-file"]').innerText()).toMatch(/showing demo\.json/);
  expect(await page.locator('[data-testid="emb-no-frames"]').count()).toBe(0);
  expect((await metricCells(page, 0))['phase.chance']).toBe('0.50');
  // Another dataset: the points still render, and the tab says why there are no frames.
  await loadJson(page, 'other.json', cliJson('/somewhere/not-served'));
  await page.waitForSelector('[data-testid="emb-no-frames"]', { timeout: 30_000 });
  expect(await page.locator('[data-testid="emb-no-frames"]').innerText()).toMatch(/"\/somewhere\/not-served" is not one the server serves/);
  expect(await points(page, 'emb-plot-0')).toBe(8);
  await page.screenshot({ path: 'test-results/app-embeddings-json.png' });
  // A broken file is refused, naming the field; the loaded view stays.
  await loadJson(page, 'bad.json', cliJson('/somewhere/demo').replace('"episode":1', '"episode":"one"'));
  expect(await page.locator('[data-testid="emb-load-error"]').innerText()).toMatch(/bad\.json is not a t-SNE result:\s+points\.4\.episode: must be a number/);
  expect(await points(page, 'emb-plot-0')).toBe(8);
  expect(errors).toEqual([]);
}, 1_500_000);
