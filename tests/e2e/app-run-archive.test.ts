/**
 * Browser runs out to Node and back as `<run>.prts.zip` (scripts/app-stack.ts: real
 * server, Vite, Chromium). No training in the page: a tiny post-trained checkpoint is
 * built in Node (tests/unit/train/rollout.helpers.ts) and put into IndexedDB with the
 * app's own putRun, as a post-training job would save it. The Train tab's Download gives
 * one archive that the Node loader (the CLIs' nodeCheckpointIO) opens to the same
 * tensors, config and tokenizers; importing it makes a new run whose Download has the
 * same checkpoint files; a non-checkpoint zip is refused with the reason; the Value tab
 * opens the archive as a dropped checkpoint; the Sim tab checks the run from its summary,
 * and takes the archive dropped on its policy panel as the selected policy; the Train tab
 * opens on PRTS pre-training.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startAppStack, type AppStack } from '../../scripts/app-stack.ts';
import { Runtime } from '../../src/engine/runtime.ts';
import { loadCheckpoint, type CheckpointData } from '../../src/train/checkpoint.ts';
import { RUN_INFO_FILE, unpackCheckpoint } from '../../src/train/checkpoint-archive.ts';
import { nodeCheckpointIO } from '../../src/train/checkpoint-node.ts';
import { bytesToBase64 } from '../../src/train/rollout-record.ts';
import { tinySimCheckpoint } from '../unit/train/rollout.helpers.ts';

let stack: AppStack;
let files: Record<string, Uint8Array>;
let data: CheckpointData;
let dir = '';
beforeAll(async () => {
  const rt = await Runtime.create();
  try {
    ({ files, data } = await tinySimCheckpoint(rt, { steps: 1, dit: true }));
  } finally {
    rt.destroy();
  }
  dir = mkdtempSync(join(tmpdir(), 'prts-e2e-archive-'));
  stack = await startAppStack();
}, 240_000);
afterAll(async () => {
  await stack?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Saves a post-training run through the app's own runs module (served by Vite), summary as the job writes it. */
async function putRun(page: Page, name: string): Promise<void> {
  const encoded = Object.fromEntries(Object.entries(files).map(([k, v]) => [k, bytesToBase64(v)]));
  const summary = { name, createdAt: 1000, updatedAt: 2000, dataset: 'demo7', kind: 'posttrain', steps: data.trainer.step, totalSteps: data.trainer.steps, withCrl: true, lambdaCrl: data.config.train.lambdaCrl, source: 'e2e-pre', freezeBackbone: false, config: data.config };
  await page.evaluate(
    async ({ summary, encoded }) => {
      // Built at run time: vitest would rewrite an import() written here for Node.
      const load = new Function('p', 'return import(p)') as (p: string) => Promise<{ putRun(rec: Record<string, unknown>): Promise<unknown> }>;
      const runs = await load('/worker/jobs/runs.ts');
      const decode = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
      await runs.putRun({ ...summary, files: Object.fromEntries(Object.entries(encoded).map(([k, v]) => [k, decode(v)])) });
    },
    { summary, encoded },
  );
}

async function download(page: Page, run: string): Promise<{ path: string; name: string }> {
  const [dl] = await Promise.all([
    page.waitForEvent('download', { timeout: 60_000 }).catch(async (e: Error) => {
      const shown = await page.locator('[data-testid="run-archive-error"]').innerText().catch(() => '(no error shown)');
      throw new Error(`${e.message}; the panel says: ${shown}`);
    }),
    page.click(`[data-testid="run-download-${run}"]`),
  ]);
  // Under the name the browser suggests (the Value tab labels an archive by its file name).
  const path = join(mkdtempSync(join(dir, 'dl-')), dl.suggestedFilename());
  await dl.saveAs(path);
  return { path, name: dl.suggestedFilename() };
}

function expectSameCheckpoint(a: CheckpointData, b: CheckpointData): void {
  expect(a.config).toEqual(b.config);
  expect(a.tokenizers).toEqual(b.tokenizers);
  expect(a.trainer).toEqual(b.trainer);
  expect(a.dit).toEqual(b.dit);
  expect(a.params.map((t) => t.name)).toEqual(b.params.map((t) => t.name));
  a.params.forEach((t, i) => expect(t.data).toEqual(b.params[i].data));
}

test('a browser run downloads as one .prts.zip that Node loads, imports back, and opens in the Value and Sim tabs', async () => {
  const page = await stack.browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${stack.base}/#/train`, { waitUntil: 'domcontentloaded', timeout: 180_000 });
  // With a WebGPU adapter the tab opens on PRTS pre-training (not the CPU MLP).
  await page.waitForSelector('[data-testid="status-gpu"].sb-ready', { timeout: 180_000 });
  expect(await page.inputValue('[data-testid="job-kind"]')).toBe('pretrain');
  expect(await page.locator('[data-testid="prts-dataset"]').count()).toBe(1);

  // The runs list hears the save on its BroadcastChannel.
  await putRun(page, 'e2e-node');
  await page.waitForSelector('[data-testid="run-download-e2e-node"]', { timeout: 60_000 });

  // Download -> Node: the same checkpoint through the CLIs' loader.
  const out = await download(page, 'e2e-node');
  expect(out.name).toBe('e2e-node.prts.zip');
  const fromZip = await loadCheckpoint(await nodeCheckpointIO(out.path));
  expectSameCheckpoint(fromZip, data);
  const inside = await unpackCheckpoint(readFileSync(out.path), out.name);
  for (const [p, b] of Object.entries(files)) expect(Buffer.from(inside.get(p)!).equals(Buffer.from(b)), p).toBe(true);
  expect([...inside.keys()].sort()).toEqual([...Object.keys(files), RUN_INFO_FILE].sort());
  expect(JSON.parse(new TextDecoder().decode(inside.get(RUN_INFO_FILE)))).toMatchObject({ type: 'prts-browser-run', name: 'e2e-node', dataset: 'demo7', source: 'e2e-pre', createdAt: 1000 });

  // Import it back: a new run under a free name, with the summary's fields restored.
  await page.setInputFiles('[data-testid="run-import-file"]', out.path);
  await page.waitForSelector('[data-testid="run-imported"]', { timeout: 60_000 });
  expect(await page.locator('[data-testid="run-imported"]').innerText()).toMatch(/as run "e2e-node-2" \(post-trained, DiT, step 1\)/);
  await page.waitForSelector('[data-testid="run-e2e-node-2"]');
  expect(await page.locator('[data-testid="run-kind-e2e-node-2"]').innerText()).toBe('post (DiT)');
  // The runs table fits its panel: every row's buttons in view, no sideways scrolling.
  const fit = await page.evaluate(() => {
    const table = document.querySelector('[data-testid="run-list"]') as HTMLElement;
    const panel = document.querySelector('[data-testid="runs"]') as HTMLElement;
    return { table: table.scrollWidth, box: table.parentElement!.clientWidth, panel: panel.getBoundingClientRect().right, right: table.getBoundingClientRect().right };
  });
  expect(fit.table).toBeLessThanOrEqual(fit.box);
  expect(fit.right).toBeLessThanOrEqual(fit.panel);
  await page.locator('[data-testid="runs"]').screenshot({ path: 'test-results/app-run-archive-runs.png' });
  expect(await page.locator('[data-testid="run-e2e-node-2"] td').nth(2).innerText()).toBe('demo7');
  const again = await download(page, 'e2e-node-2');
  const back = await unpackCheckpoint(readFileSync(again.path), again.name);
  for (const [p, b] of Object.entries(files)) expect(Buffer.from(back.get(p)!).equals(Buffer.from(b)), p).toBe(true);

  // Not a checkpoint: refused, naming what is missing.
  const junk = join(dir, 'notes.zip');
  writeFileSync(junk, zipSync({ 'notes.txt': new TextEncoder().encode('hello') }));
  await page.setInputFiles('[data-testid="run-import-file"]', junk);
  await page.waitForSelector('[data-testid="run-archive-error"]', { timeout: 30_000 });
  expect(await page.locator('[data-testid="run-archive-error"]').innerText()).toMatch(/notes\.zip holds no latest\.json or trainer\.json, so it is not a checkpoint \(it has: notes\.txt\)/);

  // The Value tab opens the archive as a dropped checkpoint.
  await page.evaluate(() => (location.hash = '#/value'));
  await page.waitForSelector('[data-testid="ckpt-archive-file"]', { state: 'attached', timeout: 60_000 });
  await page.setInputFiles('[data-testid="ckpt-archive-file"]', out.path);
  await page.waitForSelector('[data-testid="value-ckpt"] option[value="dropped:e2e-node"], [data-testid="ckpt-drop-error"]', { state: 'attached', timeout: 30_000 });
  expect(await page.locator('[data-testid="ckpt-drop-error"]').allInnerTexts()).toEqual([]);
  expect(await page.locator('[data-testid="value-ckpt"] option[value="dropped:e2e-node"]').count()).toBe(1);

  // The Sim tab checks the run from its summary: kind, step, DiT, cameras.
  await page.evaluate(() => (location.hash = '#/sim?suite=goal&task=goal/red_on_plate&state=0&policy=e2e-node'));
  await page.waitForSelector('[data-testid="sim-policy-info"]', { timeout: 240_000 });
  expect(await page.locator('[data-testid="sim-policy-info"]').innerText()).toMatch(/posttrain checkpoint, step 1: cameras agentview, 8px, chunk 4/);
  expect(await page.inputValue('[data-testid="sim-policy-mode"]')).toBe('dit');

  // Dropped on the Sim tab's policy panel, the archive joins the list (a second copy beside
  // the Value tab's) and is selected, read from its own files.
  await page.evaluate(async (b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], 'e2e-node.prts.zip'));
    document.querySelector('[data-testid="sim-ckpt-dropzone"]')!.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, readFileSync(out.path).toString('base64'));
  await page.waitForFunction(() => (document.querySelector('[data-testid="sim-policy-select"]') as HTMLSelectElement | null)?.value === 'dropped:e2e-node-2' || !!document.querySelector('[data-testid="sim-ckpt-drop-error"]'), null, { timeout: 60_000 });
  expect(await page.locator('[data-testid="sim-ckpt-drop-error"]').allInnerTexts()).toEqual([]);
  await page.waitForFunction(() => /policy=dropped%3Ae2e-node-2|policy=dropped:e2e-node-2/.test(location.hash), null, { timeout: 30_000 });
  await page.waitForSelector('[data-testid="sim-policy-info"]', { timeout: 60_000 });
  expect(await page.locator('[data-testid="sim-policy-info"]').innerText()).toMatch(/posttrain checkpoint, step 1: cameras agentview, 8px, chunk 4/);
  expect(errors).toEqual([]);
  await page.close();
}, 600_000);
