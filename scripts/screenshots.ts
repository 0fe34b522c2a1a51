/**
 * Writes a PNG of every tab to docs/screenshots/<tab>.png: serves the app with Vite and
 * drives Debian's Chromium (WebGPU on SwiftShader without a GPU) through the e2e harness.
 * Usage: npm run screenshots [-- --base http://127.0.0.1:8787]  (against a running server,
 * so the Data and Robot tabs show real datasets and a live robot).
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, startE2E } from '../tests/e2e/harness.ts';
import { TAB_SHOTS } from './screenshot-tabs.ts';

const baseArg = process.argv.indexOf('--base');
const base = baseArg >= 0 ? process.argv[baseArg + 1] : null;
const out = resolve('docs/screenshots');
mkdirSync(out, { recursive: true });

const e2e = base ? null : await startE2E();
const browser = e2e?.browser ?? (await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS }));
const origin = base ?? e2e!.baseUrl;
let failed = false;
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 });
  page.on('pageerror', (e) => {
    failed = true;
    console.error(`page error: ${e.message}`);
  });
  for (const shot of TAB_SHOTS) {
    await page.goto(`${origin}/${shot.hash}`);
    await page.waitForSelector(`[data-testid="page-${shot.tab}"]`, { timeout: 60_000 });
    if (shot.waitFor) await page.waitForSelector(shot.waitFor, { timeout: 60_000 }).catch(() => console.warn(`${shot.tab}: ${shot.waitFor} did not appear`));
    await page.waitForSelector('[data-testid="status-gpu"].sb-ready', { timeout: 60_000 }).catch(() => console.warn('GPU adapter not reported'));
    if (shot.act) await shot.act(page);
    await page.waitForTimeout(shot.settleMs ?? 800);
    const file = resolve(out, `${shot.tab}.png`);
    await page.screenshot({ path: file });
    console.log(`wrote ${file}`);
  }
} finally {
  if (e2e) await e2e.close();
  else await browser.close();
}
if (failed) process.exit(1);
