/**
 * Token roles of the PRTS layout and the attention rule between them (DESIGN.md 3).
 * The rule is data, not code, so the block-map builder, the GPU kernels (as a bit
 * table in a uniform) and the float64 reference all read the same table and cannot
 * drift apart.
 */

export const Role = {
  VISION_STATE: 0,
  INSTRUCTION: 1,
  AR_ACTION: 2,
  CRL_ACTION: 3,
  CRL_GOAL: 4,
} as const;
export type Role = (typeof Role)[keyof typeof Role];

export const ROLE_COUNT = 5;
export const ROLE_NAMES: readonly string[] = ['VISION_STATE', 'INSTRUCTION', 'AR_ACTION', 'CRL_ACTION', 'CRL_GOAL'];

/** mayAttend[queryRole][keyRole]; the document and causal conditions apply on top. */
export type MaskRule = readonly (readonly boolean[])[];

const V = Role.VISION_STATE;
const I = Role.INSTRUCTION;
const A = Role.AR_ACTION;
const CA = Role.CRL_ACTION;
const CG = Role.CRL_GOAL;

function table(allowed: Record<number, readonly number[]>): MaskRule {
  const t: boolean[][] = [];
  for (let qr = 0; qr < ROLE_COUNT; qr++) {
    t.push(Array.from({ length: ROLE_COUNT }, (_, kr) => (allowed[qr] ?? []).includes(kr)));
  }
  return Object.freeze(t.map((row) => Object.freeze(row)));
}

/** PRTS role-aware rule: the BC roles are plain causal among themselves, CRL_action sees
 * vision/state and itself (never the instruction or the AR action), CRL_goal sees only itself. */
export const PRTS_RULE: MaskRule = table({
  [V]: [V, I, A],
  [I]: [V, I, A],
  [A]: [V, I, A],
  [CA]: [V, CA],
  [CG]: [CG],
});

/** Every role may attend every role: document-packed causal attention (the BC baseline). */
export const CAUSAL_RULE: MaskRule = table({
  [V]: [V, I, A, CA, CG],
  [I]: [V, I, A, CA, CG],
  [A]: [V, I, A, CA, CG],
  [CA]: [V, I, A, CA, CG],
  [CG]: [V, I, A, CA, CG],
});

export function assertRule(rule: MaskRule): void {
  if (rule.length !== ROLE_COUNT || rule.some((r) => r.length !== ROLE_COUNT)) {
    throw new RangeError(`mask rule must be a ${ROLE_COUNT}x${ROLE_COUNT} table of booleans`);
  }
}

/** The rule as 25 bits, bit (qRole * 5 + kRole) set when allowed: one u32 for the kernels. */
export function ruleBits(rule: MaskRule): number {
  assertRule(rule);
  let bits = 0;
  for (let qr = 0; qr < ROLE_COUNT; qr++) {
    for (let kr = 0; kr < ROLE_COUNT; kr++) if (rule[qr][kr]) bits |= 1 << (qr * ROLE_COUNT + kr);
  }
  return bits >>> 0;
}

/** The element rule: query i may attend key j. */
export function mayAttend(
  rule: MaskRule,
  doc: ArrayLike<number>,
  role: ArrayLike<number>,
  i: number,
  j: number,
): boolean {
  return j <= i && doc[i] === doc[j] && rule[role[i]][role[j]];
}
