/**
 * Connection to the workbench server (server/). The app also runs under plain Vite or
 * any static host, where there is no server: then the state is 'offline' and the tabs
 * that need it say so instead of failing.
 */
import { create } from 'zustand';

export type ServerState = 'checking' | 'online' | 'offline';

export interface ServerStatus {
  state: ServerState;
  /** Body of GET /api/health when online. */
  health: Record<string, unknown> | null;
  lastChecked: number | null;
  error: string | null;
}

export const useServerStore = create<ServerStatus>(() => ({ state: 'checking', health: null, lastChecked: null, error: null }));

const POLL_MS = 5_000;
const TIMEOUT_MS = 3_000;

/** One health probe. A static host answers /api/health with index.html, which is not JSON: offline. */
export async function probeServer(fetchFn: typeof fetch = fetch): Promise<Pick<ServerStatus, 'state' | 'health' | 'error'>> {
  const ctl = new AbortController();
  const t = setTimeout(() => ctl.abort(), TIMEOUT_MS);
  try {
    const res = await fetchFn('/api/health', { signal: ctl.signal, headers: { accept: 'application/json' } });
    const type = res.headers.get('content-type') ?? '';
    if (res.status === 404) return { state: 'offline', health: null, error: 'no workbench server at this origin' };
    if (!res.ok) return { state: 'offline', health: null, error: `GET /api/health: HTTP ${res.status}` };
    if (!type.includes('application/json')) return { state: 'offline', health: null, error: 'no workbench server at this origin (static host)' };
    const body = (await res.json()) as Record<string, unknown>;
    return { state: 'online', health: body, error: null };
  } catch (e) {
    return { state: 'offline', health: null, error: ctl.signal.aborted ? 'GET /api/health timed out' : String((e as Error).message ?? e) };
  } finally {
    clearTimeout(t);
  }
}

let timer: ReturnType<typeof setInterval> | null = null;

export function startServerPolling(): () => void {
  const tick = async () => {
    const r = await probeServer();
    useServerStore.setState({ ...r, lastChecked: Date.now() });
  };
  void tick();
  timer ??= setInterval(tick, POLL_MS);
  return () => {
    if (timer) clearInterval(timer);
    timer = null;
  };
}
