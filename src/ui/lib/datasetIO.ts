/**
 * The app's reader access to a server dataset: the data layer's httpIO with one request
 * per file where it used to make two or three. The reader asks whether a file exists,
 * then reads it. A parquet file's check is httpIO's sizing GET, whose bytes also serve
 * the footer read (src/data/io.ts); here the HEAD of a JSON file becomes the GET its read
 * then takes, and repeated HEADs of other files share one answer.
 */
import { httpIO, type DatasetIO } from '../../data/index.ts';

type Fetch = Parameters<typeof httpIO>[1] & {};

/** Files small enough that answering "does it exist" with the whole file costs nothing. */
const WHOLE = /\.json$/;

/**
 * Wraps `fetchFn`: repeated HEADs of one URL share the first answer (a HEAD has no body
 * to consume), and the HEAD of a JSON file is a GET whose response the next GET of that
 * URL takes, so the existence check and the read are one request. Failures are not kept.
 */
export function datasetFetch(fetchFn: Fetch): Fetch {
  const heads = new Map<string, ReturnType<Fetch>>();
  const bodies = new Map<string, ReturnType<Fetch>>();
  return (input, init) => {
    const method = init?.method ?? 'GET';
    // Range reads bypass the HTTP cache: over a partly cached entry Chromium answers a
    // suffix range (httpIO's size read, `bytes=-N`) with 416 itself. The server sends
    // no-cache anyway, so every read was revalidated and the cache saved nothing.
    if (init?.headers?.Range) return fetchFn(input, { ...init, cache: 'no-store' } as typeof init);
    if (method === 'GET' && !init?.headers) {
      const kept = bodies.get(input);
      if (kept) {
        bodies.delete(input);
        heads.delete(input);
        return kept;
      }
      return fetchFn(input, init);
    }
    if (method !== 'HEAD') return fetchFn(input, init);
    let p = heads.get(input);
    if (!p) {
      p = WHOLE.test(input) ? fetchFn(input) : fetchFn(input, init);
      heads.set(input, p);
      if (WHOLE.test(input)) bodies.set(input, p);
      const forget = () => (heads.delete(input), bodies.delete(input));
      p.then((r) => r.ok || forget(), forget);
    }
    return p;
  };
}

export function serverDatasetIO(ds: string, fetchFn: Fetch = globalThis.fetch as unknown as Fetch): DatasetIO {
  return httpIO(`/api/datasets/${encodeURIComponent(ds)}/files/`, datasetFetch(fetchFn));
}
