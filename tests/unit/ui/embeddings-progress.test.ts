import { expect, test } from 'vitest';
import { NO_PACE, trackTsnePace, tsneEta, tsneProgressText, type TsnePace } from '../../../src/ui/tabs/embeddings/embeddings.ts';
import { scatterLayout, viewPlaceholder } from '../../../src/ui/tabs/embeddings/view.ts';

test('progress reads in the setting\'s iterations, per panel, not the job\'s 620 units', () => {
  // Two checkpoints at 300 iterations: the job's total is 2 x (300 + 10) = 620.
  expect(tsneProgressText(5, 300, 2)).toBe('panel 1 of 2: embedding chunks');
  expect(tsneProgressText(160, 300, 2)).toBe('panel 1 of 2: iteration 150 / 300');
  expect(tsneProgressText(620, 300, 2)).toBe('panel 2 of 2: iteration 300 / 300');
  expect(tsneProgressText(110, 100, 1)).toBe('iteration 100 / 100');
});

test('the ETA comes from the t-SNE pace and matches the real remaining time', () => {
  // Simulated job: embedding a panel takes 20 s, each iteration 0.1 s; 2 panels of 300.
  const iterations = 300;
  const timeline: { step: number; elapsedSeconds: number }[] = [];
  for (let u = 0; u <= 10; u++) timeline.push({ step: u, elapsedSeconds: 2 * u });
  for (let i = 5; i <= 300; i += 5) timeline.push({ step: 10 + i, elapsedSeconds: 20 + 0.1 * i });
  const total = 2 * (20 + 30);
  let pace: TsnePace = NO_PACE;
  const etas: (number | null)[] = [];
  for (const p of timeline) {
    pace = trackTsnePace(pace, p, iterations);
    etas.push(tsneEta(pace, p.step, iterations, 2));
  }
  // No ETA while only the slow embedding units have been timed.
  expect(etas.slice(0, 12).every((e) => e === null)).toBe(true);
  const first = etas.findIndex((e) => e !== null);
  const at = timeline[first];
  const real = total - at.elapsedSeconds;
  expect(etas[first]!).toBeGreaterThan(0.85 * real);
  expect(etas[first]!).toBeLessThan(1.15 * real);
});

test('the scatter has no plotly legend over its points; the placeholder gives way to a running job', () => {
  expect(scatterLayout().showlegend).toBe(false);
  expect(viewPlaceholder('running')).toMatch(/Computing/);
  expect(viewPlaceholder('running')).not.toMatch(/Choose one or two/);
  expect(viewPlaceholder('idle')).toMatch(/Choose one or two/);
});
