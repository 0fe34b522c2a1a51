/**
 * Writes a PNG of every tab to docs/screenshots/<tab>.png. By default it starts the full
 * stack (scripts/app-stack.ts: a real server with the kinematic robot and a small
 * generated dataset, Vite for the app, Debian's Chromium with WebGPU on SwiftShader), so
 * the Data and Robot tabs show live content.
 * Usage: npm run screenshots [-- --base http://127.0.0.1:8787 --token T]  (shoot a running server instead).
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { defineCli } from '../src/cli/args.ts';
import { CHROMIUM, CHROMIUM_ARGS } from '../tests/e2e/harness.ts';
import { startAppStack, TOKEN } from './app-stack.ts';
import { tabShots } from './screenshot-tabs.ts';

const args = defineCli({
  name: 'screenshots',
  command: 'npm run screenshots --',
  description: 'Writes a PNG of every tab to docs/screenshots/, from the full app stack it starts or from a running server (--base).',
  options: {
    base: { type: 'string', metavar: 'url', help: 'shoot this running server instead of starting the stack, e.g. http://127.0.0.1:8787' },
    token: { type: 'string', metavar: 'T', help: "the running server's token (with --base)" },
  },
}).parse();
const baseArg = args.base;
const out = resolve('docs/screenshots');
mkdirSync(out, { recursive: true });

const stack = baseArg ? null : await startAppStack();
const browser = stack?.browser ?? (await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS }));
const origin = baseArg ?? stack!.base;
const token = args.token ?? TOKEN;
let failed = false;
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 });
  page.on('pageerror', (e) => {
    failed = true;
    console.error(`page error: ${e.message}`);
  });
  for (const shot of tabShots(token)) {
    await page.goto(`${origin}/${shot.hash}`);
    await page.waitForSelector(`[data-testid="page-${shot.tab}"]`, { timeout: 60_000 });
    await page.waitForSelector('[data-testid="status-gpu"].sb-ready', { timeout: 60_000 }).catch(() => console.warn('GPU adapter not reported'));
    if (shot.waitFor) await page.waitForSelector(shot.waitFor, { timeout: 60_000 }).catch(() => console.warn(`${shot.tab}: ${shot.waitFor} did not appear`));
    if (shot.act) await shot.act(page);
    await page.waitForTimeout(shot.settleMs ?? 800);
    const file = resolve(out, `${shot.tab}.png`);
    await page.screenshot({ path: file });
    console.log(`wrote ${file}`);
  }
} finally {
  if (stack) await stack.close();
  else await browser.close();
}
if (failed) process.exit(1);
