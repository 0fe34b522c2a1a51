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
    { tab: 'sim', hash: '#/sim', waitFor: '[data-testid="sim-tab"]' },
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
