import { expect, test } from 'vitest';
import { CHUNKS_LABEL, valueProgressText } from '../../../src/ui/tabs/value/result.ts';

test('the value job\'s progress counts chunks, as the result does', () => {
  // 64 chunks, each scored under the true and the wrong instruction: 128 forward samples.
  expect(valueProgressText(128, 128)).toBe('64/64 chunks (each scored under both instructions)');
  expect(valueProgressText(17, 128)).toMatch(/^8\/64 chunks/);
  expect(CHUNKS_LABEL).toMatch(/^chunks/);
});
