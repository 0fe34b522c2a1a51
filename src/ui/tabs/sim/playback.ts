/** What the Sim tab's player says about playback: the speed it reaches, and its end badge. */

/** Playback speed as a multiple of real time: control steps per second over the control rate. */
export function achievedSpeed(steps: number, ms: number, hz: number): number | null {
  // Under a second the rate is mostly the first frame's start-up cost.
  if (ms < 1000 || steps < 0) return null;
  return steps / (ms / 1000) / hz;
}

/** Share of the chosen speed below which the player says it is slower. */
const SLOW = 0.85;

export function formatSpeed(x: number): string {
  if (Number.isInteger(x)) return `${x}×`;
  return `${x >= 10 ? x.toFixed(0) : x.toFixed(x >= 1 ? 1 : 2)}×`;
}

/**
 * The line next to the speed control. The expert runs the physics and renders both
 * policy cameras every step, which on a software GPU is slower than 8× or even 1× real
 * time; without this line the chosen speed simply did not happen, unannounced.
 */
export function speedNote(achieved: number | null, chosen: number, live: boolean): { text: string; slow: boolean } | null {
  if (achieved === null) return null;
  const slow = achieved < SLOW * chosen;
  const text = `playing at ${formatSpeed(achieved)} real time`;
  if (!slow) return { text, slow };
  const why = live ? 'each expert step runs the physics and renders both policy cameras' : 'drawing the frames takes longer than the chosen pace';
  return { text: `${text}, below the chosen ${formatSpeed(chosen)}: ${why}`, slow };
}

/**
 * The per-frame badges in the player's head. A rollout's outcome tag already says that it
 * failed; the generic "ended without success" beside it said the same thing twice.
 */
export function frameBadges(o: { hasOutcome: boolean; success: boolean; done: boolean; atEnd: boolean }): { success: boolean; failed: boolean } {
  return { success: o.success, failed: o.done && o.atEnd && !o.success && !o.hasOutcome };
}
