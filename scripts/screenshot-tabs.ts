/** What `npm run screenshots` captures per tab: the URL state and what to wait for. */
import type { Page } from 'playwright-core';

export interface TabShot {
  tab: string;
  hash: string;
  waitFor?: string;
  act?: (page: Page) => Promise<void>;
  settleMs?: number;
}

export const TAB_SHOTS: TabShot[] = [
  { tab: 'data', hash: '#/data', waitFor: '[data-testid="dataset-list"]' },
  { tab: 'model', hash: '#/model?preset=tiny&docs=3&tile=32', waitFor: '[data-testid="tiles-full"]' },
  {
    tab: 'train',
    hash: '#/train?job=cpu-mlp',
    waitFor: '[data-testid="start-job"]:not([disabled])',
    act: async (page) => {
      await page.click('[data-testid="start-job"]');
      await page.waitForFunction(() => Number(document.querySelector('[data-testid="loss-plot"]')?.getAttribute('data-points') ?? 0) > 20, null, { timeout: 60_000 });
      await page.click('[data-testid="pause"]');
    },
    settleMs: 1500,
  },
  { tab: 'sim', hash: '#/sim', waitFor: '[data-testid="sim-tab"]' },
  { tab: 'robot', hash: '#/robot', waitFor: '[data-testid="estop"]' },
];
