import { expect, test } from 'vitest';
import { serverDatasetIO } from '../../../src/ui/lib/datasetIO.ts';

function fakeServer(status = 200) {
  const calls: string[] = [];
  const fetchFn = async (input: string, init?: { method?: string; headers?: Record<string, string> }) => {
    calls.push(`${init?.method ?? 'GET'} ${input.replace('/api/datasets/demo/files/', '')}${init?.headers?.Range ? ` ${init.headers.Range}` : ''}`);
    // A 1234-byte parquet file, answered to a suffix range as the workbench server does.
    if (status === 200 && init?.headers?.Range?.startsWith('bytes=-')) {
      const headers = { get: (h: string) => (h === 'content-range' ? 'bytes 0-1233/1234' : h === 'content-length' ? '1234' : null) };
      return { ok: true, status: 206, statusText: '', headers, arrayBuffer: async () => new ArrayBuffer(1234) };
    }
    const body = new TextEncoder().encode('{"a":1}');
    return { ok: status === 200, status, statusText: '', headers: { get: (h: string) => (h === 'content-length' ? '1234' : null) }, arrayBuffer: async () => body.buffer as ArrayBuffer };
  };
  return { calls, fetchFn };
}

test('exists-then-read of a JSON file is one GET; exists-then-size of a parquet file is one suffix GET, which also serves the footer read', async () => {
  const { calls, fetchFn } = fakeServer();
  const io = serverDatasetIO('demo', fetchFn);
  expect(await io.exists('meta/episodes/chunk-000/file-000.parquet')).toBe(true);
  expect(await io.size('meta/episodes/chunk-000/file-000.parquet')).toBe(1234);
  await io.readRange('meta/episodes/chunk-000/file-000.parquet', 0, 4);
  expect(await io.exists('meta/info.json')).toBe(true);
  expect(new TextDecoder().decode(await io.readFile('meta/info.json'))).toBe('{"a":1}');
  // A later read is a fresh request: the kept response served one read only.
  await io.readFile('meta/info.json');
  expect(calls).toEqual([
    'GET meta/episodes/chunk-000/file-000.parquet bytes=-65536',
    'GET meta/info.json',
    'GET meta/info.json',
  ]);
});

test('a failed check is asked again next time', async () => {
  const { calls, fetchFn } = fakeServer(404);
  const io = serverDatasetIO('demo', fetchFn);
  expect(await io.exists('meta/stats.json')).toBe(false);
  expect(await io.exists('meta/stats.json')).toBe(false);
  expect(await io.exists('data/file.parquet')).toBe(false);
  expect(await io.exists('data/file.parquet')).toBe(false);
  expect(calls).toHaveLength(4);
});

test('a parquet existence check is the sizing GET: 404 is "no", another failure is an error naming the file', async () => {
  const missing = fakeServer(404);
  expect(await serverDatasetIO('demo', missing.fetchFn).exists('data/chunk-000/file-000.parquet')).toBe(false);
  expect(missing.calls).toEqual(['GET data/chunk-000/file-000.parquet bytes=-65536']);
  const broken = fakeServer(500);
  await expect(serverDatasetIO('demo', broken.fetchFn).exists('data/chunk-000/file-000.parquet')).rejects.toThrow(/file-000\.parquet failed: HTTP 500/);
});

test("range reads bypass the browser's HTTP cache (Chromium answers a suffix range over a partly cached entry with 416)", async () => {
  const seen: Array<string | undefined> = [];
  const fetchFn = async (_input: string, init?: { method?: string; headers?: Record<string, string>; cache?: string }) => {
    seen.push(init?.cache);
    const headers = { get: (h: string) => (h === 'content-range' ? 'bytes 0-9/10' : null) };
    return { ok: true, status: 206, statusText: '', headers, arrayBuffer: async () => new ArrayBuffer(10) };
  };
  const io = serverDatasetIO('demo', fetchFn as never);
  await io.size('data/chunk-000/file-000.parquet');
  expect(seen).toEqual(['no-store']);
});
