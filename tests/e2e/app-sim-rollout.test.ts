/**
 * PRTS checkpoints rolled out in the Sim tab end to end (scripts/app-stack.ts: real
 * server, Vite, Chromium with WebGPU on SwiftShader). The checkpoints are built in Node
 * (tests/unit/train/rollout.helpers.ts: sim-shaped, 1 pre-training step; and one more
 * post-trained 1 step with a DiT) and put into the page's IndexedDB with the app's own
 * putRun. The pre-trained run offers only 'ar' (and says why not 'dit'), runs 6 control
 * steps in the GPU worker and plays the recording with scrub and a definite outcome; a
 * long rollout can be cancelled. The post-trained run samples real (non-zero) actions
 * with its DiT: the same seed gives the same rollout, another seed another one. A
 * checkpoint of another embodiment is refused with the reason.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startAppStack, type AppStack } from '../../scripts/app-stack.ts';
import { distinctColours } from './harness.ts';
import { Runtime } from '../../src/engine/runtime.ts';
import { bytesToBase64 } from '../../src/train/rollout-record.ts';
import { tinySimCheckpoint } from '../unit/train/rollout.helpers.ts';

let stack: AppStack;
let files: Record<string, Uint8Array>;
let ditFiles: Record<string, Uint8Array>;
beforeAll(async () => {
  const rt = await Runtime.create();
  try {
    files = (await tinySimCheckpoint(rt, { steps: 1 })).files;
    ditFiles = (await tinySimCheckpoint(rt, { steps: 1, dit: true })).files;
  } finally {
    rt.destroy();
  }
  stack = await startAppStack();
}, 240_000);
afterAll(async () => {
  await stack?.close();
});

/** Writes a browser run through the app's own runs module (served by Vite). */
async function putRun(page: Page, name: string, runFiles: Record<string, Uint8Array>): Promise<void> {
  const encoded = Object.fromEntries(Object.entries(runFiles).map(([k, v]) => [k, bytesToBase64(v)]));
  await page.evaluate(
    async ({ name, encoded }) => {
      // Built at run time: vitest would rewrite an import() written here for Node.
      const load = new Function('p', 'return import(p)') as (p: string) => Promise<{ putRun(rec: Record<string, unknown>): Promise<unknown> }>;
      const runs = await load('/worker/jobs/runs.ts');
      const decode = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
      const files = Object.fromEntries(Object.entries(encoded).map(([k, v]) => [k, decode(v)]));
      await runs.putRun({ name, createdAt: Date.now(), dataset: 'node-synthetic', kind: 'pretrain', steps: 1, withCrl: true, lambdaCrl: 1, files });
    },
    { name, encoded },
  );
}

async function rollOut(page: Page): Promise<{ summary: string; outcome: string; success: string; n: number }> {
  await page.click('[data-testid="sim-rollout-start"]');
  // Starting clears the previous result, so the player goes until the new one is back.
  await page.waitForSelector('[data-testid="sim-rollout-wait"]', { timeout: 60_000 });
  await page.waitForSelector('[data-testid="sim-player"][data-kind="rollout"], [data-testid="sim-rollout-job"] .field-error, [data-testid="sim-error"]', { timeout: 600_000 });
  const err = page.locator('[data-testid="sim-rollout-job"] .field-error, [data-testid="sim-error"]');
  if (await err.count()) throw new Error(`rollout failed: ${await err.first().innerText()}`);
  await page.waitForSelector('[data-testid="sim-play"]:not([disabled])', { timeout: 120_000 });
  const count = await page.locator('[data-testid="sim-step-count"]').innerText();
  return {
    summary: await page.locator('[data-testid="sim-rollout-summary"]').innerText(),
    outcome: await page.locator('[data-testid="sim-outcome"]').innerText(),
    success: (await page.locator('[data-testid="sim-outcome"]').getAttribute('data-success'))!,
    n: Number(/step 0\/(\d+)/.exec(count)![1]),
  };
}

test('browser checkpoints roll out in the Sim tab: modes, progress, replay with scrub and outcome, reproducible, cancellable, mismatches refused', async () => {
  const page = await stack.browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${stack.base}/#/data`, { waitUntil: 'domcontentloaded', timeout: 180_000 });
  await putRun(page, 'node-tiny', files);
  await putRun(page, 'node-dit', ditFiles);
  // A checkpoint of another embodiment: only its config says so, which is what the tab reads first.
  const cfg = JSON.parse(new TextDecoder().decode(files['step-00000001/config.json']));
  cfg.model.cameras = ['front'];
  await putRun(page, 'other-robot', { ...files, 'step-00000001/config.json': new TextEncoder().encode(JSON.stringify(cfg)) });

  await page.evaluate(() => (location.hash = '#/sim?suite=goal&task=goal/red_on_plate&state=0&policy=node-tiny&steps=6'));
  await page.waitForSelector('[data-testid="sim-policy-info"]', { timeout: 240_000 });
  expect(await page.locator('[data-testid="sim-policy-info"]').innerText()).toMatch(/pretrain checkpoint, step 1: cameras agentview, 8px, chunk 4/);
  // No DiT: 'dit' is disabled with the reason, 'ar' is the mode.
  expect(await page.inputValue('[data-testid="sim-policy-mode"]')).toBe('ar');
  expect(await page.locator('[data-testid="sim-policy-mode"] option[value="dit"]').isDisabled()).toBe(true);
  expect(await page.locator('[data-testid="sim-policy-dit-reason"]').innerText()).toMatch(/no DiT action expert/);

  const a = await rollOut(page);
  expect(a.n).toBeGreaterThanOrEqual(1);
  expect(a.n).toBeLessThanOrEqual(6);
  // A definite outcome: success at some step, or a failure at the 6-step limit.
  if (a.success === 'true') expect(a.outcome).toBe(`policy succeeded at step ${a.n}`);
  else expect([a.success, a.n, a.outcome]).toEqual(['false', 6, 'policy failed: no success in 6 steps (step limit)']);
  expect(await page.locator('[data-testid="sim-rollout-job"]').getAttribute('data-state')).toBe('done');
  expect(await distinctColours(page, 'sim-canvas')).toBeGreaterThan(30);
  expect(await page.locator('[data-testid="sim-images"] canvas').count()).toBe(2);
  expect(await page.locator('[data-testid="sim-phase"]').innerText()).toMatch(/press Play to replay/);

  // Scrub and step through the recording.
  await page.locator('[data-testid="sim-scrub"]').fill('3');
  expect(await page.locator('[data-testid="sim-step-count"]').innerText()).toBe(`step 3/${a.n}`);
  expect(await page.locator('[data-testid="sim-phase"]').innerText()).toMatch(/^action \[/);
  await page.click('[data-testid="sim-step"]');
  expect(await page.locator('[data-testid="sim-step-count"]').innerText()).toBe(`step 4/${a.n}`);
  // Play runs to the end, where the per-frame badge agrees with the outcome; a failure
  // is said once, by the outcome tag.
  await page.click('[data-testid="sim-play"]');
  await page.waitForFunction((n) => document.querySelector('[data-testid="sim-step-count"]')?.textContent === `step ${n}/${n}`, a.n, { timeout: 60_000 });
  if (a.success === 'true') await page.waitForSelector('[data-testid="sim-success"]', { timeout: 30_000 });
  expect(await page.locator('[data-testid="sim-failed"]').count()).toBe(0);
  await page.screenshot({ path: 'test-results/app-sim-rollout.png' });

  // A long rollout can be cancelled from its progress bar.
  await page.fill('[data-testid="sim-policy-steps"]', '0');
  await page.click('[data-testid="sim-rollout-start"]');
  await page.waitForFunction(() => /\d+\/\d+ control steps/.test(document.querySelector('[data-testid="sim-rollout-job"]')?.textContent ?? ''), null, { timeout: 300_000 });
  await page.click('[data-testid="sim-rollout-job-cancel"]');
  await page.waitForSelector('[data-testid="sim-rollout-job"][data-state="cancelled"]', { timeout: 120_000 });

  // The post-trained run: dit by default; its sampled actions move the arm. Same seed,
  // same rollout (the final physics state hash included); another seed, another one.
  await page.fill('[data-testid="sim-policy-steps"]', '6');
  await page.selectOption('[data-testid="sim-policy-select"]', 'node-dit');
  await page.waitForSelector('[data-testid="sim-policy-info"] >> text=posttrain checkpoint', { timeout: 60_000 });
  expect(await page.inputValue('[data-testid="sim-policy-mode"]')).toBe('dit');
  expect(await page.locator('[data-testid="sim-policy-dit-reason"]').count()).toBe(0);
  const d1 = await rollOut(page);
  expect(d1.summary).toMatch(/^prts-dit\(posttrain step 1\): 2 chunks of 4 \(execute 4\), seed 0, final state \w+/);
  await page.locator('[data-testid="sim-scrub"]').fill('1');
  const action = await page.locator('[data-testid="sim-phase"]').innerText();
  expect(action).toMatch(/^action \[/);
  expect(action).not.toMatch(/^action \[0\.00, 0\.00, 0\.00, 0\.00, 0\.00, 0\.00, 0\.00\]/);
  const d2 = await rollOut(page);
  expect(d2).toEqual(d1);
  await page.fill('[data-testid="sim-policy-seed"]', '1');
  const d3 = await rollOut(page);
  expect(d3.summary).toMatch(/seed 1, final state/);
  expect(d3.summary.split('final state ')[1]).not.toBe(d1.summary.split('final state ')[1]);

  // Another embodiment's checkpoint is refused before any job, with the reason.
  await page.selectOption('[data-testid="sim-policy-select"]', 'other-robot');
  await page.waitForSelector('[data-testid="sim-policy-problem"]', { timeout: 60_000 });
  expect(await page.locator('[data-testid="sim-policy-problem"]').innerText()).toMatch(/"front", which the simulation does not render/);
  expect(await page.locator('[data-testid="sim-rollout-start"]').isDisabled()).toBe(true);

  // Back to the expert: the live player returns.
  await page.selectOption('[data-testid="sim-policy-select"]', '');
  await page.waitForSelector('[data-testid="sim-player"][data-kind="expert"] [data-testid="sim-play"]:not([disabled])', { timeout: 120_000 });
  expect(errors).toEqual([]);
}, 1_200_000);
