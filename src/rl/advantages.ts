/**
 * Group-relative advantages (SRPO Eq. 6, GRPO): A_i = (g_i - mean_g) / std_g over the
 * rollouts of one group (same task, initial state and perturbation). GRPO's g is the 0/1
 * outcome; SRPO's is 1 on success, else alpha x the progress reward
 * (src/analysis/progress.ts, srpoGroupRewards).
 *
 * A group whose rewards are all equal (every rollout succeeded, or all failed with the
 * outcome reward) carries no signal: its advantages are 0 and it is listed in
 * `degenerate`, so a caller can log and plot it instead of training on noise divided by
 * a zero std.
 */

export interface GroupAdvantages {
  advantages: Float64Array;
  /** Group ids whose rewards had (numerically) no spread; their advantages are 0. */
  degenerate: number[];
  /** Per group id: [mean, std] of its rewards. */
  stats: Map<number, [number, number]>;
}

/**
 * `rewards[i]` of rollout i, `groupOf[i]` its group id. std is the population std of the
 * group (the group is all there is), as SRPO's Eq. 6 and GRPO use it.
 */
export function groupAdvantages(rewards: ArrayLike<number>, groupOf: ArrayLike<number>, minStd = 1e-6): GroupAdvantages {
  if (rewards.length !== groupOf.length) throw new RangeError(`groupAdvantages: ${rewards.length} rewards but ${groupOf.length} group ids`);
  if (!(minStd > 0)) throw new RangeError(`groupAdvantages: minStd must be positive, got ${minStd}`);
  const members = new Map<number, number[]>();
  for (let i = 0; i < rewards.length; i++) {
    const r = rewards[i];
    if (!Number.isFinite(r)) throw new RangeError(`groupAdvantages: reward ${i} is ${r}`);
    const g = groupOf[i];
    if (!Number.isInteger(g)) throw new RangeError(`groupAdvantages: group id ${i} is ${g}, not an integer`);
    const list = members.get(g) ?? [];
    list.push(i);
    members.set(g, list);
  }
  const advantages = new Float64Array(rewards.length);
  const degenerate: number[] = [];
  const stats = new Map<number, [number, number]>();
  for (const [g, idx] of members) {
    const mean = idx.reduce((s, i) => s + rewards[i], 0) / idx.length;
    const std = Math.sqrt(idx.reduce((s, i) => s + (rewards[i] - mean) ** 2, 0) / idx.length);
    stats.set(g, [mean, std]);
    if (std < minStd) {
      degenerate.push(g);
      continue;
    }
    for (const i of idx) advantages[i] = (rewards[i] - mean) / std;
  }
  degenerate.sort((a, b) => a - b);
  return { advantages, degenerate, stats };
}
