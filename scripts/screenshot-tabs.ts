/** What `npm run screenshots` captures per tab: the URL state, what to wait for, what to do first. */
import type { Page } from 'playwright-core';

export interface TabShot {
  tab: string;
  hash: string;
  waitFor?: string;
  act?: (page: Page) => Promise<void>;
  settleMs?: number;
}

export function tabShots(token: string): TabShot[] {
  return [
    { tab: 'data', hash: '#/data?ds=demo&ep=1&t=10', waitFor: '[data-testid="plot-action"][data-points]', settleMs: 1500 },
    { tab: 'model', hash: '#/model?preset=tiny&docs=3&tile=32', waitFor: '[data-testid="tiles-full"]' },
    {
      tab: 'train',
      hash: '#/train?job=cpu-mlp',
      waitFor: '[data-testid="start-job"]:not([disabled])',
      act: async (page) => {
        await page.click('[data-testid="start-job"]');
        await page.waitForFunction(() => Number(document.querySelector('[data-testid="loss-plot"]')?.getAttribute('data-points') ?? 0) > 60, null, { timeout: 60_000 });
        await page.click('[data-testid="pause"]');
      },
      settleMs: 1500,
    },
    {
      tab: 'sim',
      hash: '#/sim?suite=goal&task=goal/red_on_plate&state=0',
      waitFor: '[data-testid="sim-play"]:not([disabled])',
      act: async (page) => {
        await page.locator('select').filter({ hasText: '8×' }).selectOption('8');
        await page.click('[data-testid="sim-play"]');
        await page.waitForSelector('[data-testid="sim-success"]', { timeout: 240_000 });
      },
      settleMs: 500,
    },
    {
      // A 3-step browser pre-training run on the demo dataset, then its value curves.
      tab: 'value',
      hash: '#/value?ds=demo&ep=1&t=8',
      waitFor: '[data-testid="pt-start"]:not([disabled])',
      act: async (page) => {
        await page.fill('[data-testid="pt-name"]', 'screenshot-run');
        await page.click('[data-testid="pt-start"]');
        await page.waitForSelector('[data-testid="pt-done"]', { timeout: 600_000 });
        await page.selectOption('[data-testid="value-ckpt"]', 'screenshot-run');
        await page.click('[data-testid="value-start"]');
        await page.waitForSelector('[data-testid="value-view"]', { timeout: 600_000 });
      },
      settleMs: 1500,
    },
    {
      // Reuses the run from the value shot (IndexedDB of the same page) in both panels' slot A.
      tab: 'embeddings',
      hash: '#/embeddings?a=screenshot-run&ds=demo&iters=60&perp=5&stride=1',
      waitFor: '[data-testid="emb-start"]:not([disabled])',
      act: async (page) => {
        await page.click('[data-testid="emb-start"]');
        await page.waitForSelector('[data-testid="emb-view"]', { timeout: 600_000 });
      },
      settleMs: 1500,
    },
    {
      tab: 'robot',
      hash: `#/robot?token=${encodeURIComponent(token)}`,
      waitFor: '[data-testid="robot-connect"]',
      act: async (page) => {
        await page.click('[data-testid="robot-connect"]');
        await page.waitForSelector('[data-testid="telemetry"]', { timeout: 30_000 });
        await page.click('[data-testid="lease-request"]');
        await page.waitForFunction(() => document.querySelector('[data-testid="lease-state"]')?.textContent?.includes('you'), null, { timeout: 10_000 });
        await page.locator('body').click({ position: { x: 700, y: 880 } });
        await page.keyboard.down('KeyW');
        await page.keyboard.down('KeyR');
        await page.waitForTimeout(1500);
        await page.keyboard.up('KeyW');
        await page.keyboard.up('KeyR');
      },
      settleMs: 1000,
    },
  ];
}
