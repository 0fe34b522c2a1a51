// esbuild settings shared by scripts/run.mjs (run a TypeScript entry in Node) and
// scripts/gpu/pack.mjs (the GPU bundle): the sources import WGSL as `?raw` strings and
// assets as `?url`, which Vite understands and plain Node does not.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

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

/**
 * Bundles one entry into one ESM file for Node 20.
 * external: 'packages' leaves every npm package to node_modules (local runs); an array
 * bundles all packages but those (the GPU bundle keeps only the native/wasm ones out).
 */
export async function bundleEntry(entry, outfile, { external = 'packages', sourcemap = 'inline' } = {}) {
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    sourcemap,
    logLevel: 'warning',
    ...(external === 'packages' ? { packages: 'external' } : { external }),
    plugins: [rawPlugin],
    // Bundled CommonJS packages call require(); ESM output has none of its own.
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
}
