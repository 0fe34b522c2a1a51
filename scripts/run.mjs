#!/usr/bin/env node
// Runs a TypeScript entry point (CLI, benchmark) in Node. The sources import WGSL as
// `?raw` strings, which Vite understands and plain Node does not, so the entry is
// bundled with esbuild first. The same bundle is what travels to a GPU machine.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  console.error('usage: node scripts/run.mjs <entry.ts> [args...]');
  process.exit(2);
}
const outDir = resolve('node_modules/.cache/prts-run');
mkdirSync(outDir, { recursive: true });
// One bundle per entry path and process: bench/train.ts and src/train/cli/train.ts must not
// share a file, and two concurrent runs must not overwrite each other's bundle.
const key = relative(process.cwd(), resolve(entry)).replace(/\.tsx?$/, '').replace(/[^A-Za-z0-9_-]+/g, '_');
const outfile = process.env.PRTS_BUNDLE_OUT ? resolve(process.env.PRTS_BUNDLE_OUT) : resolve(outDir, `${key}.${process.pid}.mjs`);

const rawPlugin = {
  name: 'raw',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (a) => ({ path: resolve(a.resolveDir, a.path.slice(0, -4)), namespace: 'raw' }));
    b.onLoad({ filter: /.*/, namespace: 'raw' }, (a) => ({ contents: readFileSync(a.path, 'utf8'), loader: 'text' }));
    // Vite's `?url` asset imports: in Node they become the file's file:// URL.
    b.onResolve({ filter: /\?url$/ }, async (a) => {
      const r = await b.resolve(a.path.slice(0, -4), { resolveDir: a.resolveDir, kind: a.kind });
      if (r.errors.length) return { errors: r.errors };
      return { path: r.path, namespace: 'asset-url' };
    });
    b.onLoad({ filter: /.*/, namespace: 'asset-url' }, (a) => ({
      contents: `export default ${JSON.stringify(pathToFileURL(a.path).href)};`,
      loader: 'js',
    }));
  },
};

await build({
  entryPoints: [entry],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outfile,
  sourcemap: 'inline',
  logLevel: 'warning',
  packages: process.env.PRTS_BUNDLE_ALL ? undefined : 'external',
  plugins: [rawPlugin],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});
const r = spawnSync(process.execPath, ['--enable-source-maps', outfile, ...args], { stdio: 'inherit' });
// PRTS_BUNDLE_OUT keeps the bundle (e.g. to carry it to a GPU machine); the rest are scratch.
if (!process.env.PRTS_BUNDLE_OUT) rmSync(outfile, { force: true });
process.exit(r.status ?? (r.signal ? 128 : 1));
