/**
 * model.actionStartGoal: <|action_start|> enters the backbone as its own embedding plus
 * the mean embedding of its document's instruction tokens.
 *
 * Why: vision and state come before the instruction (DESIGN.md 3, so that phi never sees
 * it), hence no image token can know which object the instruction names. The first action
 * token is read at <|action_start|>, whose embedding is the same for every instruction: to
 * find the named object it must first fetch the instruction (one attention hop) and then
 * look the object up among the patches (a second hop, whose query depends on the first).
 * Trained from scratch, a small model sits on a plateau there: a probe of the cpu preset's
 * size read two tokens after the colour stayed at chance for 2000 steps in all three runs
 * without this, and left the plateau within 2000 steps in four of five runs with the
 * instruction's mean in the read token (docs/results.md round 8). With it the lookup is
 * one hop. Only the AR span gets it: the CRL_action copy starts after <|action_start|> and
 * never attends to it, so phi stays blind to the instruction and psi reads it alone.
 */
import { embedding, gatherRows } from '../engine/ops/embedding';
import { matmul } from '../engine/ops/matmul';
import { Role } from '../engine/roles';
import { fromArray, type Tensor } from '../engine/tensor';
import { SPECIAL } from './tokenizers/vocab';

export interface ActionStartGoalPlan {
  /** Ids of the pooled instruction tokens (m of them, in packed order). */
  instructionIds: Int32Array;
  /** Documents that hold an <|action_start|> (S). */
  starts: number;
  /** [(S + 1) x m] row-major: row s averages the instruction tokens of start s's document; row S is zero. */
  pool: Float32Array;
  /** [n]: the pool row each packed token adds (its own start's row, else the zero row S). */
  rowOf: Int32Array;
}

/**
 * The pooling of one packed batch, from its ids, roles and documents; null when no
 * document has both an <|action_start|> and instruction tokens (nothing to add).
 */
export function planActionStartGoal(ids: Int32Array, roles: Uint8Array, docs: Int32Array): ActionStartGoalPlan | null {
  const n = ids.length;
  if (roles.length !== n || docs.length !== n) throw new RangeError(`planActionStartGoal: ids, roles and docs must have one entry per token, got ${n}, ${roles.length}, ${docs.length}`);
  const instr: number[] = [];
  const startOfDoc = new Map<number, number>();
  const startRows: number[] = [];
  for (let i = 0; i < n; i++) {
    if (roles[i] === Role.INSTRUCTION) instr.push(i);
    else if (roles[i] === Role.AR_ACTION && ids[i] === SPECIAL.actionStart && !startOfDoc.has(docs[i])) {
      startOfDoc.set(docs[i], startRows.length);
      startRows.push(i);
    }
  }
  const S = startRows.length;
  const m = instr.length;
  if (S === 0 || m === 0) return null;
  const count = new Float64Array(S);
  for (const i of instr) {
    const s = startOfDoc.get(docs[i]);
    if (s !== undefined) count[s]++;
  }
  const pool = new Float32Array((S + 1) * m);
  instr.forEach((i, j) => {
    const s = startOfDoc.get(docs[i]);
    if (s !== undefined) pool[s * m + j] = 1 / count[s];
  });
  const rowOf = new Int32Array(n).fill(S);
  startRows.forEach((r, s) => (rowOf[r] = count[s] > 0 ? s : S));
  return { instructionIds: Int32Array.from(instr, (i) => ids[i]), starts: S, pool, rowOf };
}

/**
 * [n, D]: at each planned <|action_start|> the mean of its document's instruction rows of
 * `table` [V, D] (the token embeddings), zero elsewhere; differentiable in `table`.
 */
export function instructionMeans(table: Tensor, plan: ActionStartGoalPlan): Tensor {
  const words = embedding(table, plan.instructionIds);
  const means = matmul(fromArray(table.rt, plan.pool, [plan.starts + 1, plan.instructionIds.length]), words);
  return gatherRows(means, plan.rowOf);
}
