/**
 * What the Robot tab shows from the server's messages: the Events list, the error banner
 * and the hint before connecting. Pure functions, so they are unit-tested without a socket.
 */
export interface Notice {
  at: number;
  level: 'info' | 'warn' | 'error';
  text: string;
  /** How many identical notices in a row this entry stands for (absent: 1). */
  count?: number;
}

const MAX_NOTICES = 50;
/** How long an error stays in the banner after it arrived. */
export const ERROR_BANNER_MS = 10_000;

/**
 * Appends a notice; one identical to the last entry bumps that entry's count and time
 * instead, so a burst of the same refusal reads as one line rather than filling the list.
 */
export function appendNotice(list: readonly Notice[], n: Notice): Notice[] {
  const last = list[list.length - 1];
  if (last && last.level === n.level && last.text === n.text) {
    return [...list.slice(0, -1), { ...last, at: n.at, count: (last.count ?? 1) + 1 }];
  }
  return [...list, n].slice(-MAX_NOTICES);
}

export function noticeLine(n: Notice): string {
  return (n.count ?? 1) > 1 ? `${n.text} (×${n.count})` : n.text;
}

/** Server error codes that only mean "the e-stop is latched": stale once it is reset. */
const ESTOP_CODES = ['estopped'];

/**
 * The error for the banner: the latest recent one, but not one that the present state has
 * answered. An e-stop refusal is moot once the e-stop is reset, and no error from before
 * the last reset (or scene reset) should outlive it.
 */
export function bannerError(notices: readonly Notice[], now: number, estopped: boolean): Notice | null {
  for (let i = notices.length - 1; i >= 0; i--) {
    const n = notices[i];
    if (now - n.at >= ERROR_BANNER_MS) return null;
    if (isReset(n)) return null;
    if (n.level !== 'error') continue;
    if (!estopped && ESTOP_CODES.some((c) => n.text.startsWith(`${c} `) || n.text.startsWith(`${c}:`))) continue;
    return n;
  }
  return null;
}

function isReset(n: Notice): boolean {
  return n.text.startsWith('safety: estop_reset') || n.text.startsWith('scene reset');
}

/** The line under Telemetry while no session is open. */
export function disconnectedHint(server: 'checking' | 'online' | 'offline'): string {
  if (server === 'online') return 'Not connected. Enter the token printed by npm start and press Connect.';
  if (server === 'checking') return 'Not connected. Checking for the workbench server…';
  return 'Not connected. The robot bridge needs the workbench server (npm start), which this page cannot reach.';
}
