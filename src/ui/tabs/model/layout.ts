/**
 * Example token layouts for the mask visualizer: `docs` packed documents, each made of
 * the five PRTS role runs (DESIGN.md 3) with the given lengths. The arrays go to the
 * engine's real block-map builder; nothing here decides what may attend what.
 */
import { ROLE_COUNT } from '../../../engine/roles.ts';
import type { SequenceLayout } from '../../../model/config.ts';

/** Run length per role, in Role order: VISION_STATE, INSTRUCTION, AR_ACTION, CRL_ACTION, CRL_GOAL. */
export type RoleRuns = [number, number, number, number, number];

export const ROLE_LABELS = ['vision+state', 'instruction', 'AR action', 'CRL action', 'CRL goal'] as const;
export const ROLE_PARAM_KEYS = ['v', 'i', 'a', 'ca', 'cg'] as const;
export const ROLE_COLORS: readonly [number, number, number][] = [
  [76, 139, 245],
  [45, 164, 78],
  [191, 135, 0],
  [207, 79, 154],
  [130, 80, 223],
];
export const DEFAULT_RUNS: RoleRuns = [40, 12, 14, 13, 13];
export const MAX_RUN = 256;
export const MAX_DOCS = 8;

export function exampleLayout(docs: number, runs: RoleRuns): { doc: Int32Array; role: Uint8Array } {
  if (!Number.isInteger(docs) || docs < 1) throw new RangeError(`docs must be a positive integer (got ${docs})`);
  const perDoc = runs.reduce((a, b) => a + b, 0);
  const n = docs * perDoc;
  const doc = new Int32Array(n);
  const role = new Uint8Array(n);
  let t = 0;
  for (let d = 0; d < docs; d++) {
    for (let r = 0; r < ROLE_COUNT; r++) {
      for (let k = 0; k < runs[r]; k++, t++) {
        doc[t] = d;
        role[t] = r;
      }
    }
  }
  return { doc, role };
}

/** Role run lengths of one document of a config (for "use the config's layout"). */
export function runsFromSequence(s: SequenceLayout): RoleRuns {
  return [s.visionTokens + s.stateTokens, s.instructionTokens, s.arActionTokens, s.crlActionTokens, s.crlGoalTokens];
}
