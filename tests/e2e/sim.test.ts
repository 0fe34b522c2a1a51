import { afterAll, beforeAll, expect, test } from 'vitest';
import { distinctColours, startE2E, type E2E } from './harness';
import { acquireDevice } from '../../src/engine/device';
import { determinismRun, type DeterminismResult } from './pages/sim-determinism';

let e2e: E2E;
beforeAll(async () => {
  e2e = await startE2E();
});
afterAll(async () => {
  await e2e?.close();
});

test('Chromium and Node agree bit for bit on physics and camera images; the viewer draws', async () => {
  // Opened by hand rather than with e2e.open: the first visit makes Vite pre-bundle
  // three.js and MuJoCo, which can outlast page.goto's default 30 s 'load' wait on 2 cores.
  const page = await e2e.browser.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${e2e.baseUrl}/tests/e2e/pages/sim.html`, { waitUntil: 'domcontentloaded', timeout: 180_000 });
  await page.waitForFunction(() => document.title !== '', null, { timeout: 240_000 });
  expect(await page.title()).toBe('done');
  const browser = (await page.evaluate(() => window.__sim)) as { determinism: DeterminismResult; viewerSteps: number };
  expect(browser.viewerSteps).toBeGreaterThan(5);

  const { device } = await acquireDevice();
  const node = await determinismRun(device);
  device.destroy();
  expect(browser.determinism.stateHashes).toEqual(node.stateHashes);
  expect(browser.determinism.imageHashes).toEqual(node.imageHashes);
  expect(new Set(node.stateHashes).size).toBe(node.stateHashes.length);

  // The three.js canvas shows a scene, not a blank clear colour.
  const distinct = await distinctColours(page, '#view');
  expect(distinct).toBeGreaterThan(30);
  await page.screenshot({ path: 'test-results/sim-viewer.png' });
  expect(errors).toEqual([]);
});
