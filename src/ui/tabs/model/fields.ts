/** What the config editor shows for each field: label, input kind, hint. Order is display order. */
export type FieldKind = 'int' | 'number' | 'select' | 'list' | 'text' | 'bool';

export interface FieldDef {
  path: string;
  label: string;
  kind: FieldKind;
  options?: readonly number[];
  step?: number;
  hint?: string;
  /** Absent from the presets (an optional schema key with a default). */
  optional?: boolean;
}

export interface FieldGroup {
  title: string;
  fields: FieldDef[];
}

export const FIELD_GROUPS: FieldGroup[] = [
  { title: 'General', fields: [{ path: 'name', label: 'name', kind: 'text' }] },
  {
    title: 'Backbone',
    fields: [
      { path: 'model.dModel', label: 'd_model', kind: 'int' },
      { path: 'model.layers', label: 'layers', kind: 'int' },
      { path: 'model.heads', label: 'heads', kind: 'int', hint: 'heads × head_dim = d_model' },
      { path: 'model.headDim', label: 'head_dim', kind: 'select', options: [32, 64] },
      { path: 'model.mlpRatio', label: 'MLP ratio', kind: 'number', step: 0.5 },
      { path: 'model.attnTile', label: 'attention tile', kind: 'select', options: [32, 64], hint: 'Q/K tile of the block-sparse kernels' },
      { path: 'model.textVocab', label: 'text vocab', kind: 'int' },
      { path: 'model.actionVocab', label: 'action vocab (FAST)', kind: 'int' },
    ],
  },
  {
    title: 'Observation',
    fields: [
      { path: 'model.cameras', label: 'cameras', kind: 'list', hint: 'comma-separated names' },
      { path: 'model.imageSize', label: 'image size', kind: 'int' },
      { path: 'model.patchSize', label: 'vision patch', kind: 'int' },
      { path: 'model.patchPositions', label: 'patch positions', kind: 'bool', hint: 'learned position embedding per image patch', optional: true },
      { path: 'model.actionStartGoal', label: 'action start goal', kind: 'bool', hint: 'the first action token also carries the instruction (one-hop lookup of the named object)', optional: true },
      { path: 'model.groundingClasses', label: 'grounding classes', kind: 'int', hint: 'regions the grounding head chooses from (reach: 6 slots); 0 = no head', optional: true },
      { path: 'model.stateDim', label: 'state dim', kind: 'int' },
      { path: 'model.stateDigits', label: 'state digits (10^n bins / value)', kind: 'int' },
      { path: 'model.instructionTokens', label: 'instruction tokens', kind: 'int' },
    ],
  },
  {
    title: 'Action',
    fields: [
      { path: 'model.chunkLength', label: 'chunk length H', kind: 'int' },
      { path: 'model.actionDim', label: 'action dim K', kind: 'int' },
      { path: 'model.fastScale', label: 'FAST scale', kind: 'number' },
      { path: 'model.fastTokens', label: 'FAST tokens / chunk', kind: 'int' },
      { path: 'model.crlHidden', label: 'CRL hidden', kind: 'int' },
      { path: 'model.crlDim', label: 'CRL dim', kind: 'int' },
    ],
  },
  {
    title: 'Training',
    fields: [
      { path: 'train.batchSize', label: 'batch size', kind: 'int' },
      { path: 'train.accumulate', label: 'accumulate', kind: 'int', hint: 'batches per optimizer step, gradients averaged (the reach4 critic needs 4 x 12)', optional: true },
      { path: 'train.lr', label: 'learning rate', kind: 'number', step: 0.0001 },
      { path: 'train.warmupSteps', label: 'warmup steps', kind: 'int' },
      { path: 'train.steps', label: 'steps', kind: 'int' },
      { path: 'train.weightDecay', label: 'weight decay', kind: 'number', step: 0.01 },
      { path: 'train.gradClip', label: 'grad clip', kind: 'number', step: 0.1, hint: '0 disables' },
      { path: 'train.gamma', label: 'gamma', kind: 'number', step: 0.001, hint: 'PRTS code 0.99, paper 0.995' },
      { path: 'train.lambdaCrl', label: 'lambda_crl', kind: 'number', step: 0.01 },
      { path: 'train.lambdaGrounding', label: 'lambda grounding', kind: 'number', step: 0.1, hint: 'weight of the auxiliary loss: which region holds the named object (needs grounding classes)', optional: true },
      { path: 'train.temperatureInit', label: 'temperature init', kind: 'number', step: 0.01 },
      { path: 'train.maxScale', label: 'max logit scale', kind: 'number' },
      { path: 'train.seed', label: 'seed', kind: 'int' },
    ],
  },
];

export const ALL_FIELDS: FieldDef[] = FIELD_GROUPS.flatMap((g) => g.fields);

/**
 * Turns what the user typed into the draft value. Numbers that do not parse are kept
 * as the typed string, so validation reports "<field> must be a number" on that field
 * instead of the input silently snapping back.
 */
export function parseInput(kind: FieldKind, raw: string): unknown {
  switch (kind) {
    case 'int':
    case 'number':
    case 'select': {
      const t = raw.trim();
      if (t === '') return raw;
      const v = Number(t);
      return Number.isFinite(v) ? v : raw;
    }
    case 'list':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
    case 'text':
      return raw;
    case 'bool':
      return checkboxValue(raw === 'true');
  }
}

/**
 * The draft value of a checkbox. Unchecked removes the key rather than writing false:
 * the boolean fields are optional and default off, so a box ticked and unticked again
 * leaves the draft equal to the preset it came from.
 */
export function checkboxValue(checked: boolean): true | undefined {
  return checked ? true : undefined;
}

export function formatValue(kind: FieldKind, v: unknown): string {
  if (v === undefined || v === null) return '';
  if (kind === 'list' && Array.isArray(v)) return v.join(', ');
  return String(v);
}
