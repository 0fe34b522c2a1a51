/**
 * Pure helpers for the config draft the Model tab edits: which preset it equals, and
 * which input a cross-field error belongs under.
 */
import { PRESET_NAMES, PRESETS, type FieldError, type PresetName } from '../../model/config.ts';

/** JSON form with sorted keys, so key order and undefined-valued keys do not count as edits. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (!x || typeof x !== 'object' || Array.isArray(x)) return x;
    const o = x as Record<string, unknown>;
    return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
  });
}

/**
 * The preset the draft equals by value, else 'custom'. Comparing values rather than
 * remembering that an edit happened means putting a value back restores the preset name.
 * `prefer` wins when two presets are equal.
 */
export function matchPreset(draft: unknown, prefer?: PresetName | 'custom'): PresetName | 'custom' {
  const c = canonical(draft);
  const order = prefer && prefer !== 'custom' ? [prefer, ...PRESET_NAMES.filter((p) => p !== prefer)] : PRESET_NAMES;
  return order.find((p) => canonical(PRESETS[p]) === c) ?? 'custom';
}

/**
 * Errors the schema raises about a relation between fields, filed under one of them by
 * the schema. `fields` are all the inputs the relation reads.
 */
const RELATIONS: { path: string; message: RegExp; fields: string[] }[] = [
  { path: 'model.heads', message: /^heads x head_dim must equal d_model/, fields: ['model.heads', 'model.headDim', 'model.dModel'] },
  { path: 'model.patchSize', message: /^patch size must divide image size/, fields: ['model.patchSize', 'model.imageSize'] },
  { path: 'model.executeSteps', message: /cannot exceed the chunk length/, fields: ['model.executeSteps', 'model.chunkLength'] },
  { path: 'train.samplesPerTask', message: /must divide batch size/, fields: ['train.samplesPerTask', 'train.batchSize'] },
  { path: 'train.warmupSteps', message: /exceed total steps/, fields: ['train.warmupSteps', 'train.steps'] },
  { path: 'train.temperatureInit', message: /exceeds max scale/, fields: ['train.temperatureInit', 'train.maxScale'] },
];

/**
 * Moves a cross-field error under the input the user just edited when that input is
 * part of the relation: the message then appears where the user is looking, not under
 * a field they did not touch.
 */
export function placeErrors(errors: readonly FieldError[], lastEdited: string | null): FieldError[] {
  if (!lastEdited) return [...errors];
  return errors.map((e) => {
    const rel = RELATIONS.find((r) => r.path === e.path && r.message.test(e.message));
    return rel && rel.fields.includes(lastEdited) ? { ...e, path: lastEdited } : e;
  });
}
