/** Server datasets for the Value and Embeddings tabs (read-only: they only pick one). */
import { useEffect, useState } from 'react';
import { useServerStore } from '../../stores/server.ts';

export function useServerDatasets(): { ids: string[]; error: string | null } {
  const state = useServerStore((s) => s.state);
  const [ids, setIds] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (state === 'offline') setError('The server is offline: these tabs read datasets from it (start it with npm start).');
    if (state !== 'online') return;
    let live = true;
    fetch('/api/datasets')
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`GET /api/datasets: HTTP ${r.status}`))))
      .then((b: { datasets: { id: string }[] }) => live && (setIds(b.datasets.map((d) => d.id)), setError(null)))
      .catch((e: Error) => live && setError(e.message));
    return () => {
      live = false;
    };
  }, [state]);
  return { ids, error };
}
