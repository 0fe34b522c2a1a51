/**
 * PRTS pre-training and post-training from the Train tab end to end
 * (scripts/app-stack.ts: real server, Vite, Chromium with WebGPU on SwiftShader): the
 * tiny preset is pre-trained 3 steps on a small dataset shaped like the simulator's
 * (7-D actions, so the post-trained run is a simulation policy), with live bc, sa->l,
 * l->sa and temperature curves and tokens/s; the run is saved every 2 steps and at the
 * end; it is post-trained 2 steps (flow loss, grad norm, lr), the new run is listed,
 * loads as a DiT policy in the worker, is continued one step from its saved checkpoint,
 * and the Value tab lists it. Kept tiny for SwiftShader: 8x8 images (one patch), 16-frame
 * episodes, a handful of steps.
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { LeRobotWriter } from '../../src/data/index.ts';
import { nodeIO } from '../../src/data/io-node.ts';
import { startAppStack, type AppStack } from '../../scripts/app-stack.ts';

let stack: AppStack;

/** 2 tasks x 1 episode of 16 frames, 8x8 camera, 8-D state, 7-D actions (the simulator's action space). */
async function writeSimShaped(root: string): Promise<void> {
  const w = await LeRobotWriter.create(nodeIO(join(root, 'demo7')), {
    repoId: 'prts/demo7',
    fps: 20,
    robotType: 'panda',
    features: {
      'observation.state': { dtype: 'float32', shape: [8], names: ['x', 'y', 'z', 'ax', 'ay', 'az', 'f1', 'f2'] },
      'observation.images.agentview': { dtype: 'image', shape: [8, 8, 3], names: ['height', 'width', 'channels'] },
      action: { dtype: 'float32', shape: [7], names: ['dx', 'dy', 'dz', 'rx', 'ry', 'rz', 'grip'] },
    },
  });
  for (let e = 0; e < 2; e++) {
    for (let t = 0; t < 16; t++) {
      const u = t / 16;
      w.addFrame({
        'observation.state': [u, e, Math.sin(t), 0, 0, 0, 0.04 * (1 - u), 0.04 * (1 - u)],
        'observation.images.agentview': { width: 8, height: 8, channels: 3, data: new Uint8Array(8 * 8 * 3).fill(40 + t * 12 + e * 30) },
        action: [0.5 * Math.cos(e + 3 * u), 0.5 * Math.sin(e + 3 * u), -0.2 * u, 0, 0, 0.1 * e, u > 0.5 ? 1 : -1],
      });
    }
    await w.saveEpisode({ task: e ? 'put the red block on the plate' : 'push the blue block left' });
  }
  await w.finalize();
}

beforeAll(async () => {
  stack = await startAppStack();
  await writeSimShaped(stack.server.config.dataDir);
}, 180_000);
afterAll(async () => {
  await stack?.close();
});

const text = (page: Page, id: string) => page.locator(`[data-testid="${id}"]`).innerText();
const series = async (page: Page, id: string) => ((await page.locator(`[data-testid="${id}"]`).getAttribute('data-series')) ?? '').split('|');
/** Waits until the plot has drawn exactly these series (it redraws on the next animation frame). */
async function waitSeries(page: Page, id: string, names: string[]): Promise<void> {
  await page
    .waitForFunction(([i, n]) => document.querySelector(`[data-testid="${i}"]`)?.getAttribute('data-series') === n, [id, names.join('|')] as const, { timeout: 30_000 })
    .catch(async () => expect(await series(page, id)).toEqual(names));
}

/** Starts the set-up job and waits for its end; a failed job throws with its error and log. */
async function runJob(page: Page, label: string, expectEta: boolean): Promise<{ eta: string | null }> {
  await page.click('[data-testid="start-job"]');
  // The new job is shown (not the previous, finished one).
  await page.waitForFunction((l) => document.querySelector('[data-testid="job-view"] h2')?.textContent === l, label, { timeout: 60_000 });
  let eta: string | null = null;
  if (expectEta) {
    // While it runs, the ETA is a duration once a step's pace is known.
    const h = await page.waitForFunction(() => {
      const s = document.querySelector('[data-testid="job-state"]')?.textContent;
      const e = document.querySelector('[data-testid="job-eta"]')?.textContent ?? '';
      return s !== 'running' ? '(ended)' : /^\d+ (s|min|h)/.test(e) ? e : null;
    }, null, { timeout: 600_000, polling: 50 });
    eta = (await h.jsonValue()) as string;
  }
  await page.waitForFunction(() => ['done', 'failed', 'cancelled'].includes(document.querySelector('[data-testid="job-state"]')?.textContent ?? ''), null, { timeout: 600_000 });
  const state = await text(page, 'job-state');
  if (state !== 'done') {
    const err = await page.locator('[data-testid="job-error"]').innerText().catch(() => '');
    const log = await page.locator('[data-testid="job-view"] .log').innerText().catch(() => '');
    throw new Error(`job ${state}: ${err}\n${log}`);
  }
  return { eta };
}

test('pre-train and post-train from the Train tab, with live curves, saved and continued runs', async () => {
  const page = await stack.browser.newPage({ viewport: { width: 1500, height: 1100 } });
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${stack.base}/#/train?job=pretrain`, { waitUntil: 'domcontentloaded', timeout: 180_000 });
  await page.waitForSelector('[data-testid="prts-dataset"] option[value="demo7"]', { state: 'attached', timeout: 180_000 });
  // The Model tab's lambda_crl and gamma are shown with the form.
  expect(await text(page, 'prts-config')).toMatch(/λcrl 0\.1 · γ 0\.99/);

  await page.selectOption('[data-testid="prts-dataset"]', 'demo7');
  // Per-field validation: a bad value is named at its field and blocks the start.
  await page.fill('[data-testid="prts-steps"]', '0');
  expect(await text(page, 'err-prts-steps')).toMatch(/steps must be a whole number/);
  expect(await page.locator('[data-testid="start-job"]').isDisabled()).toBe(true);
  await page.fill('[data-testid="prts-steps"]', '3');
  await page.fill('[data-testid="prts-name"]', 'e2e-pre');
  await page.fill('[data-testid="prts-every"]', '2');
  expect(await page.locator('[data-testid="err-prts-steps"]').count()).toBe(0);
  await page.waitForSelector('[data-testid="start-job"]:not([disabled])', { timeout: 180_000 });

  const pre = await runJob(page, 'pretrain e2e-pre', true);
  expect(pre.eta === '(ended)' || /^\d+ (s|min|h)/.test(pre.eta ?? '')).toBe(true);
  await waitSeries(page, 'loss-plot', ['total', 'bc', 'sa->l', 'l->sa', 'l->sa floor']);
  // The temperature is on its own axis, with the InfoNCE accuracy, grad norm and lr.
  await waitSeries(page, 'diag-plot', ['temperature', 'accuracy', 'grad norm', 'lr']);
  expect(Number(await page.locator('[data-testid="loss-plot"]').getAttribute('data-points'))).toBeGreaterThanOrEqual(4 * 3 - 3);
  expect(await text(page, 'job-throughput')).toMatch(/^\d[\d.]* (k )?tokens\/s$/);
  expect(Number(await text(page, 'loss-temperature'))).toBeGreaterThan(0);
  expect(await text(page, 'job-step')).toBe('3 / 3');
  const preLog = await page.locator('[data-testid="job-view"] .log').innerText();
  expect(preLog).toMatch(/saved browser run "e2e-pre" at step 2/);
  expect(preLog).toMatch(/saved browser run "e2e-pre" at step 3/);
  await page.waitForFunction(() => document.querySelector('[data-testid="job-saved"]')?.textContent === '3');
  await page.waitForSelector('[data-testid="run-e2e-pre"]');
  expect(await text(page, 'run-kind-e2e-pre')).toBe('pre');
  expect(await text(page, 'run-step-e2e-pre')).toBe('3/3');
  await page.screenshot({ path: 'test-results/app-train-pretrain.png' });

  // Post-train it: the run's DiT button sets up the form.
  await page.click('[data-testid="run-post-e2e-pre"]');
  await page.waitForFunction(() => location.hash.includes('job=posttrain'));
  expect(await page.inputValue('[data-testid="post-source"]')).toBe('e2e-pre');
  await page.fill('[data-testid="post-steps"]', '2');
  await page.fill('[data-testid="post-name"]', 'e2e-pre');
  expect(await text(page, 'err-post-name')).toMatch(/exists/);
  await page.fill('[data-testid="post-name"]', 'e2e-post');
  await runJob(page, 'posttrain e2e-post', false);
  await waitSeries(page, 'loss-plot', ['flow']);
  await waitSeries(page, 'diag-plot', ['grad norm', 'lr']);
  expect(Number(await text(page, 'loss-flow'))).toBeGreaterThan(0);
  expect(await text(page, 'job-throughput')).toMatch(/^\d[\d.]* (k )?tokens\/s$/);
  const postLog = await page.locator('[data-testid="job-view"] .log').innerText();
  expect(postLog).toMatch(/"e2e-post" loads as a DiT policy \(mode 'dit'\)/);
  await page.waitForSelector('[data-testid="run-e2e-post"]');
  expect(await text(page, 'run-kind-e2e-post')).toBe('post (DiT)');
  expect(await text(page, 'run-step-e2e-post')).toBe('2/2');
  await page.screenshot({ path: 'test-results/app-train-posttrain.png' });

  // Continue the post-training run from its saved checkpoint for one more step.
  await page.click('[data-testid="run-continue-e2e-post"]');
  expect(await page.inputValue('[data-testid="post-run"]')).toBe('e2e-post');
  await page.fill('[data-testid="post-steps"]', '2');
  expect(await text(page, 'err-post-steps')).toMatch(/at step 2: train until a later step/);
  await page.fill('[data-testid="post-steps"]', '3');
  await runJob(page, 'posttrain e2e-post → step 3', false);
  expect(await page.locator('[data-testid="job-view"] .log').innerText()).toMatch(/continuing post-training run "e2e-post" from step 2/);
  expect(await text(page, 'job-step')).toBe('3 / 3');
  await page.waitForFunction(() => document.querySelector('[data-testid="run-step-e2e-post"]')?.textContent === '3/3');

  // The Value tab lists both runs, the post-trained one as such.
  await page.evaluate(() => (location.hash = '#/value'));
  await page.waitForSelector('[data-testid="value-ckpt"] option[value="e2e-post"]', { state: 'attached', timeout: 60_000 });
  expect(await page.locator('[data-testid="value-ckpt"] option[value="e2e-post"]').innerText()).toMatch(/post-trained \(DiT\) 3 steps/);
  expect(await page.locator('[data-testid="value-ckpt"] option[value="e2e-pre"]').count()).toBe(1);
  expect(errors).toEqual([]);
}, 1_500_000);
