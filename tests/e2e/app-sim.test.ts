/**
 * The Sim tab end to end (scripts/app-stack.ts: real server + Vite + Chromium with
 * WebGPU on SwiftShader): the scripted expert plays an episode in the three.js viewer
 * until the goal holds, scrubbing shows recorded frames, and a one-episode dataset is
 * generated in the worker, uploaded to the server and listed by it.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startAppStack, TOKEN, type AppStack } from '../../scripts/app-stack.ts';
import { distinctColours } from './harness.ts';

let stack: AppStack;
beforeAll(async () => {
  stack = await startAppStack();
}, 180_000);
afterAll(async () => {
  await stack?.close();
});

test('the Sim tab plays the expert to success, scrubs, and generates a dataset onto the server', async () => {
  const page = await stack.browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(String(e)));
  // The token link first (the app adopts it into the session), then the shared Sim link.
  await page.goto(`${stack.base}/#token=${TOKEN}`, { waitUntil: 'domcontentloaded', timeout: 180_000 });
  await page.evaluate(() => (location.hash = '#/sim?suite=goal&task=goal/red_on_plate&state=0'));
  await page.waitForSelector('[data-testid="sim-play"]:not([disabled])', { timeout: 240_000 });
  expect(await page.inputValue('[data-testid="sim-task-select"]')).toBe('goal/red_on_plate');
  expect(await distinctColours(page, 'sim-canvas')).toBeGreaterThan(30);
  // Both policy cameras are drawn beside the 3-D view.
  expect(await page.locator('[data-testid="sim-images"] canvas').count()).toBe(2);

  await page.locator('select').filter({ hasText: '8×' }).selectOption('8');
  await page.click('[data-testid="sim-play"]');
  await page.waitForSelector('[data-testid="sim-success"]', { timeout: 240_000 });
  const steps = await page.locator('[data-testid="sim-step-count"]').innerText();
  const n = Number(/step (\d+)\/(\d+)/.exec(steps)![2]);
  expect(n).toBeGreaterThan(10);
  expect(await page.locator('[data-testid="sim-phase"] .tag').innerText()).toMatch(/\w+/);
  expect(await distinctColours(page, 'sim-canvas')).toBeGreaterThan(30);
  // The speed reached is shown, and said to fall short when it does (SwiftShader never reaches 8x).
  expect(await page.locator('[data-testid="sim-speed"]').innerText()).toMatch(/^playing at [\d.]+× real time(, below the chosen 8×: .+)?$/);

  // Scrubbing back shows an earlier frame: the badge goes, the phase text changes.
  await page.locator('[data-testid="sim-scrub"]').fill('0');
  await page.waitForFunction(() => !document.querySelector('[data-testid="sim-success"]'));
  expect(await page.locator('[data-testid="sim-step-count"]').innerText()).toBe(`step 0/${n}`);

  // Perturbation axes go to the URL, seeded.
  await page.check('[data-testid="sim-perturb-lighting"]');
  expect(new URL(page.url()).hash).toMatch(/perturb=lighting/);
  await page.waitForSelector('[data-testid="sim-perturbation"]', { timeout: 120_000 });

  // Dataset generation in the worker, uploaded to the server.
  await page.uncheck('[data-testid="sim-perturb-lighting"]');
  await page.fill('[data-testid="gen-episodes"]', '1');
  await page.fill('[data-testid="gen-name"]', 'e2e-gen');
  await page.click('[data-testid="gen-start"]');
  await page.waitForSelector('[data-testid="gen-done"]', { timeout: 300_000 });
  const list = (await (await fetch(`http://127.0.0.1:${stack.server.port}/api/datasets`)).json()) as { datasets: Array<{ id: string; total_episodes: number }> };
  expect(list.datasets.find((d) => d.id === 'e2e-gen')?.total_episodes).toBe(1);
  await page.screenshot({ path: 'test-results/app-sim.png' });
  expect(errors).toEqual([]);
}, 900_000);
