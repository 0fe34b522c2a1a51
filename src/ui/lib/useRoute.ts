import { useCallback, useSyncExternalStore } from 'react';
import { formatHash, parseHash, withParams, type Route } from './route';

export const DEFAULT_TAB = 'data';

function subscribe(cb: () => void): () => void {
  window.addEventListener('hashchange', cb);
  return () => window.removeEventListener('hashchange', cb);
}

const getHash = () => window.location.hash;

export function currentRoute(): Route {
  return parseHash(window.location.hash, DEFAULT_TAB);
}

/** Navigates to another tab (a new history entry, so Back returns to the previous tab). */
export function navigate(route: Route): void {
  const next = formatHash(route);
  if (next !== window.location.hash) window.location.hash = next;
}

/**
 * Updates the current tab's parameters in place. replaceState keeps slider drags from
 * flooding the history; it does not fire hashchange, so listeners are told by hand.
 */
export function replaceParams(updates: Record<string, string | number | boolean | null | undefined>): void {
  const next = formatHash(withParams(currentRoute(), updates));
  if (next === window.location.hash) return;
  history.replaceState(history.state, '', next);
  window.dispatchEvent(new HashChangeEvent('hashchange'));
}

export function useRoute(): Route {
  const hash = useSyncExternalStore(subscribe, getHash, getHash);
  return parseHash(hash, DEFAULT_TAB);
}

/** The current tab's URL parameters and a setter that writes them back to the URL. */
export function useTabParams(): [Record<string, string>, typeof replaceParams] {
  const route = useRoute();
  const set = useCallback(replaceParams, []);
  return [route.params, set];
}
