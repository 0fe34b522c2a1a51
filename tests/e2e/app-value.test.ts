/**
 * The Value and Embeddings tabs end to end (scripts/app-stack.ts: real server with its
 * small "demo" dataset, Vite, Chromium with WebGPU on SwiftShader): a tiny PRTS is
 * pre-trained in the browser for a few steps (with CRL, and a lambda = 0 run), then the
 * Value tab plots V under the true and a wrong instruction with the metrics, and the
 * Embeddings tab plots both checkpoints' t-SNE side by side. Kept tiny for SwiftShader:
 * 16-frame episodes, few steps, stride 2 and 30 t-SNE iterations.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startAppStack, type AppStack } from '../../scripts/app-stack.ts';

let stack: AppStack;
beforeAll(async () => {
  stack = await startAppStack();
}, 180_000);
afterAll(async () => {
  await stack?.close();
});

const points = (page: Page, testId: string) => page.locator(`[data-testid="${testId}"]`).getAttribute('data-points').then(Number);

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
  // Two curves over the episode's 16 chunk starts.
  expect(await points(page, 'value-plot')).toBe(32);
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
  await page.waitForSelector('[data-testid="emb-view"], [data-testid="emb-job"] .field-error', { timeout: 600_000 });
  expect(await page.locator('[data-testid="emb-job"] .field-error').count()).toBe(0);
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="emb-plot-1"]')?.getAttribute('data-points')) > 0, null, { timeout: 60_000 });
  // 2 episodes x 8 chunk starts (stride 2) in each panel.
  expect(await points(page, 'emb-plot-0')).toBe(16);
  expect(await points(page, 'emb-plot-1')).toBe(16);
  await page.selectOption('[data-testid="emb-color"]', 'phase');
  await page.screenshot({ path: 'test-results/app-embeddings.png' });
  expect(errors).toEqual([]);
}, 1_500_000);
