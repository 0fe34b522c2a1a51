import { afterAll, beforeAll, expect, test } from 'vitest';
import { startE2E, type E2E } from './harness';

let e2e: E2E;
beforeAll(async () => {
  e2e = await startE2E();
});
afterAll(async () => {
  await e2e?.close();
});

test('Chromium exposes a WebGPU adapter on a localhost page', async () => {
  const { page, errors } = await e2e.open('/tests/e2e/pages/webgpu.html');
  await page.waitForFunction(() => document.title !== '', null, { timeout: 60_000 });
  expect(await page.title()).toMatch(/^adapter:/);
  expect(errors).toEqual([]);
});
