#!/usr/bin/env node
// Runs a TypeScript entry point (CLI, benchmark) in Node. The sources import WGSL as
// `?raw` strings, which Vite understands and plain Node does not, so the entry is
// bundled with esbuild first (scripts/bundle.mjs, shared with the GPU bundle).
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { bundleEntry } from './bundle.mjs';

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

await bundleEntry(entry, outfile, process.env.PRTS_BUNDLE_ALL ? { external: [] } : {});
const r = spawnSync(process.execPath, ['--enable-source-maps', outfile, ...args], { stdio: 'inherit' });
// PRTS_BUNDLE_OUT keeps the bundle (e.g. to carry it to a GPU machine); the rest are scratch.
if (!process.env.PRTS_BUNDLE_OUT) rmSync(outfile, { force: true });
process.exit(r.status ?? (r.signal ? 128 : 1));
