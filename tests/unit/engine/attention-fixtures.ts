/**
 * Random packed PRTS layouts for the attention and block-map tests: documents made of
 * role runs in the PRTS order, CRL_action as long as the AR action span plus its end
 * token, CRL_goal as long as the instruction plus its end token.
 */
import { afterAll, beforeAll } from 'vitest';
import { attentionKernels } from '../../../src/engine/ops/attention';
import { Rng } from '../../../src/engine/random';
import { Role } from '../../../src/engine/roles';

/** Both kernel families; every GPU attention test runs under each (describe.each). */
export const ATTENTION_FAMILIES = ['tiled', 'direct'] as const;

/** Forces the attention kernel family for the enclosing describe block (the default picks
 * by adapter, so this is how each family gets tested on every adapter). */
export function forceAttentionKernels(variant: (typeof ATTENTION_FAMILIES)[number]): void {
  beforeAll(() => {
    attentionKernels.variant = variant;
  });
  afterAll(() => {
    attentionKernels.variant = 'auto';
  });
}

export interface Layout {
  doc: Int32Array;
  role: Uint8Array;
}

export interface DocSpec {
  vision: number;
  instruction: number;
  action: number;
  /** Append the CRL blocks (CRL_action = action + 1 tokens, CRL_goal = instruction + 1). */
  crl: boolean;
}

export function layoutOf(docs: readonly DocSpec[]): Layout {
  const doc: number[] = [];
  const role: number[] = [];
  docs.forEach((d, id) => {
    const push = (r: number, len: number) => {
      for (let i = 0; i < len; i++) {
        doc.push(id);
        role.push(r);
      }
    };
    push(Role.VISION_STATE, d.vision);
    push(Role.INSTRUCTION, d.instruction);
    push(Role.AR_ACTION, d.action);
    if (d.crl) {
      push(Role.CRL_ACTION, d.action + 1);
      push(Role.CRL_GOAL, d.instruction + 1);
    }
  });
  return { doc: Int32Array.from(doc), role: Uint8Array.from(role) };
}

/** 1..maxDocs documents with random run lengths; most carry the CRL blocks. */
export function randomDocs(rng: Rng, maxDocs: number, scale = 1): DocSpec[] {
  const count = 1 + rng.int(maxDocs);
  return Array.from({ length: count }, () => ({
    vision: 1 + rng.int(Math.max(1, Math.round(60 * scale))),
    instruction: 1 + rng.int(Math.max(1, Math.round(16 * scale))),
    action: 1 + rng.int(Math.max(1, Math.round(16 * scale))),
    crl: rng.next() < 0.85,
  }));
}

/** Query/key/value-like data [n, heads, d]. */
export function randomQkv(rng: Rng, n: number, heads: number, d: number): Float32Array[] {
  return [0, 1, 2].map(() => {
    const a = new Float32Array(n * heads * d);
    for (let i = 0; i < a.length; i++) a[i] = rng.normal();
    return a;
  });
}
