/**
 * A checkpoint trained by the PyTorch twin opens in the app (issue 12): the app stack's
 * own small "demo" dataset is exported as batch shards with the workbench's batch builder
 * (src/twin/export.ts), the twin pre-trains two steps on them (torch/prts_torch/train.py),
 * and its run directory, zipped as a `.prts.zip`, is imported in the Train tab; the Value
 * tab plots V from it, the Embeddings tab its t-SNE, and the Sim tab takes it as a policy.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startAppStack, writeDataset, type AppStack } from '../../scripts/app-stack.ts';
import { LeRobotReader } from '../../src/data/index.ts';
import { nodeIO } from '../../src/data/io-node.ts';
import { Runtime } from '../../src/engine/runtime.ts';
import { PRESETS } from '../../src/model/config.ts';
import { saveCheckpoint } from '../../src/train/checkpoint.ts';
import { packCheckpoint } from '../../src/train/checkpoint-archive.ts';
import { nodeCheckpointIO } from '../../src/train/checkpoint-node.ts';
import { Pretrainer } from '../../src/train/pretrain.ts';
import { exportShards } from '../../src/twin/export.ts';
import { runTwin } from '../../src/twin/python.ts';
import { fitConfigToDataset } from '../../worker/jobs/pretrain.ts';

let stack: AppStack;
let dir = '';
let archive = '';
const RUN = 'twin-run';

function filesUnder(root: string): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[relative(root, p)] = readFileSync(p);
    }
  };
  walk(root);
  return out;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'prts-e2e-twin-'));
  await writeDataset(dir);
  const reader = await LeRobotReader.open(nodeIO(join(dir, 'demo')));
  const base = fitConfigToDataset(PRESETS.tiny, reader.features);
  const config = { ...base, train: { ...base.train, steps: 2, warmupSteps: 1, batchSize: 4, samplesPerTask: 2 } };
  const rt = await Runtime.create();
  try {
    const trainer = await Pretrainer.create(rt, config, reader);
    try {
      await saveCheckpoint(await nodeCheckpointIO(join(dir, 'shards', 'init')), await trainer.checkpoint());
      await exportShards(trainer, nodeIO(join(dir, 'shards')), { batches: 2 });
    } finally {
      trainer.dispose();
    }
  } finally {
    rt.destroy();
  }
  let err = '';
  const code = await runTwin(['-m', 'prts_torch.train', '--shards', join(dir, 'shards'), '--out', join(dir, RUN), '--threads', '1'], { onStderr: (s) => (err += s) });
  if (code !== 0) throw new Error(`the twin failed:\n${err}`);
  archive = join(dir, `${RUN}.prts.zip`);
  writeFileSync(archive, packCheckpoint(filesUnder(join(dir, RUN))));
  stack = await startAppStack();
}, 300_000);
afterAll(async () => {
  await stack?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a twin-trained checkpoint imports as a run and opens in the Value, Embeddings and Sim tabs', async () => {
  const page = await stack.browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${stack.base}/#/train`, { waitUntil: 'domcontentloaded', timeout: 180_000 });
  await page.waitForSelector('[data-testid="status-gpu"].sb-ready', { timeout: 180_000 });
  await page.setInputFiles('[data-testid="run-import-file"]', archive);
  await page.waitForSelector('[data-testid="run-imported"], [data-testid="run-archive-error"]', { timeout: 60_000 });
  expect(await page.locator('[data-testid="run-archive-error"]').allInnerTexts()).toEqual([]);
  expect(await page.locator('[data-testid="run-imported"]').innerText()).toMatch(/as run "twin-run".*step 2/);

  // Value: V along both demo episodes under the true and a wrong instruction.
  await page.evaluate((r) => (location.hash = `#/value?ckpt=${r}&ds=demo`), RUN);
  await page.waitForFunction((r) => (document.querySelector('[data-testid="value-ckpt"]') as HTMLSelectElement | null)?.value === r, RUN, { timeout: 120_000 });
  await page.click('[data-testid="value-start"]:not([disabled])', { timeout: 60_000 });
  await page.waitForSelector('[data-testid="value-view"], [data-testid="value-job"] .field-error', { timeout: 300_000 });
  expect(await page.locator('[data-testid="value-job"] .field-error').allInnerTexts()).toEqual([]);
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="value-plot"]')?.getAttribute('data-points')) > 0, null, { timeout: 60_000 });

  // Embeddings: phi of the demo episodes through t-SNE.
  await page.evaluate((r) => (location.hash = `#/embeddings?a=${r}&ds=demo`), RUN);
  await page.waitForFunction((r) => (document.querySelector('[data-testid="emb-ckpt-a"]') as HTMLSelectElement | null)?.value === r, RUN, { timeout: 120_000 });
  await page.fill('[data-testid="emb-iters"]', '30');
  await page.click('[data-testid="emb-start"]:not([disabled])', { timeout: 60_000 });
  await page.waitForSelector('[data-testid="emb-view"], [data-testid="emb-job"] .field-error', { timeout: 300_000 });
  expect(await page.locator('[data-testid="emb-job"] .field-error').allInnerTexts()).toEqual([]);
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="emb-plot-0"]')?.getAttribute('data-points')) > 0, null, { timeout: 60_000 });

  // Sim: the run is a selectable policy; its summary is read from the checkpoint.
  await page.evaluate((r) => (location.hash = `#/sim?suite=goal&task=goal/red_on_plate&state=0&policy=${r}`), RUN);
  await page.waitForSelector('[data-testid="sim-policy-info"]', { timeout: 240_000 });
  expect(await page.locator('[data-testid="sim-policy-info"]').innerText()).toMatch(/pretrain checkpoint, step 2/);
  expect(await page.inputValue('[data-testid="sim-policy-mode"]')).toBe('ar');
  expect(errors).toEqual([]);
  await page.close();
}, 900_000);
