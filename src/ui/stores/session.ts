/**
 * The operator token for the robot bridge. The server prints links as `/#token=<token>`
 * (a fragment is never sent to servers or written to proxy logs); the app moves it here
 * at start-up and rewrites the URL to a normal route, so the token does not linger in
 * the address bar. Kept in sessionStorage: it survives reloads of this tab only.
 */
import { create } from 'zustand';
import { createJSONStorage, persist } from 'zustand/middleware';

export const useSessionStore = create<{ token: string; setToken(t: string): void }>()(
  persist((set) => ({ token: '', setToken: (token) => set({ token }) }), {
    name: 'prts.session.v1',
    storage: createJSONStorage(() => sessionStorage),
    partialize: (s) => ({ token: s.token }),
  }),
);

/** Takes `#token=...` (the server's link form) into the session store; returns the hash to continue with. */
export function adoptTokenFromHash(hash: string): string | null {
  const m = /^#token=([^&]*)(?:&|$)/.exec(hash);
  if (!m) return null;
  let token = m[1];
  try {
    token = decodeURIComponent(token);
  } catch {
    // Keep the raw text: a malformed escape is still what the user was given.
  }
  useSessionStore.getState().setToken(token);
  return '#/data';
}
