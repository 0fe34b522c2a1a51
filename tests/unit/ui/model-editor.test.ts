import { expect, test } from 'vitest';
import { PRESETS, validateConfig } from '../../../src/model/config.ts';
import { matchPreset, placeErrors } from '../../../src/ui/lib/configDraft.ts';
import { ALL_FIELDS, checkboxValue, parseInput } from '../../../src/ui/tabs/model/fields.ts';
import { setPath, type Draft } from '../../../src/ui/stores/config.ts';

const tiny = (): Draft => JSON.parse(JSON.stringify(PRESETS.tiny)) as Draft;
const errorsOf = (d: Draft) => {
  const r = validateConfig(d);
  return r.ok ? [] : r.errors;
};

test('a cross-field error shows under the field just edited, not under one left alone', () => {
  const d = setPath(tiny(), 'model.dModel', 100);
  const errs = errorsOf(d);
  expect(errs.map((e) => e.path)).toEqual(['model.heads']);
  expect(placeErrors(errs, 'model.dModel').map((e) => e.path)).toEqual(['model.dModel']);
  expect(placeErrors(errs, 'model.heads').map((e) => e.path)).toEqual(['model.heads']);
  // An edit elsewhere does not drag an unrelated error along.
  expect(placeErrors(errs, 'train.lr').map((e) => e.path)).toEqual(['model.heads']);
  const w = setPath(tiny(), 'train.steps', 1);
  expect(placeErrors(errorsOf(w), 'train.steps').map((e) => e.path)).toEqual(['train.steps']);
});

test('the preset is recognised by value: putting an edited value back restores its name', () => {
  const d0 = tiny();
  expect(matchPreset(d0)).toBe('tiny');
  const edited = setPath(d0, 'model.dModel', 100);
  expect(matchPreset(edited)).toBe('custom');
  expect(matchPreset(setPath(edited, 'model.dModel', PRESETS.tiny.model.dModel))).toBe('tiny');
  expect(matchPreset(JSON.parse(JSON.stringify(PRESETS.small)))).toBe('small');
});

test('patch positions is a checkbox whose unticked state leaves the preset unchanged', () => {
  const f = ALL_FIELDS.find((x) => x.path === 'model.patchPositions');
  expect(f).toMatchObject({ kind: 'bool', label: 'patch positions', hint: 'learned position embedding per image patch' });
  expect(parseInput('bool', 'true')).toBe(true);
  const on = setPath(tiny(), 'model.patchPositions', checkboxValue(true));
  expect(validateConfig(on).ok).toBe(true);
  expect(matchPreset(on)).toBe('custom');
  const off = setPath(on, 'model.patchPositions', checkboxValue(false));
  expect(validateConfig(off).ok).toBe(true);
  expect(matchPreset(off)).toBe('tiny');
  expect(errorsOf(setPath(tiny(), 'model.patchPositions', 'yes'))[0]).toMatchObject({ path: 'model.patchPositions' });
});
