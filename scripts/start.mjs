#!/usr/bin/env node
// `npm start`: one command after install. Builds the app, generates a small default
// dataset on first start (when the project has a generator, `npm run gen`), then starts
// the server with the sim robot; the server prints the URL (token in the fragment) and
// the tokens. Extra arguments go to the server: `npm start -- --port 9000`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const args = process.argv.slice(2);
const dataDirArg = args.indexOf('--data-dir');
const dataDir = resolve(dataDirArg >= 0 ? args[dataDirArg + 1] : 'data');
const scripts = JSON.parse(readFileSync('package.json', 'utf8')).scripts ?? {};
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function step(title, cmd, cmdArgs) {
  process.stdout.write(`\n== ${title}\n`);
  const t0 = Date.now();
  const r = spawnSync(cmd, cmdArgs, { stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`\n${title} failed (exit ${r.status ?? r.signal}). Nothing was started.\n`);
    process.exit(r.status ?? 1);
  }
  process.stdout.write(`== ${title}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
}

function hasDataset(dir) {
  if (!existsSync(dir)) return false;
  return readdirSync(dir, { withFileTypes: true }).some((e) => e.isDirectory() && existsSync(join(dir, e.name, 'meta', 'info.json')));
}

step('building the app (vite build -> dist/)', npm, ['run', '--silent', 'build']);

if (hasDataset(dataDir)) {
  process.stdout.write(`\n== datasets found in ${dataDir}: skipping generation\n`);
} else if (scripts.gen) {
  // Small on purpose: 2 demonstrations of each spatial task, so a first start takes a
  // minute or two even where the cameras render on the CPU. `npm run gen` makes more.
  const demo = join(dataDir, 'demo-spatial');
  step(`first start: generating the default dataset into ${demo}`, npm, [
    'run', '--silent', 'gen', '--', '--suite', 'spatial', '--episodes', '2', '--size', '64', '--out', demo,
  ]);
} else {
  process.stdout.write(
    `\n== no dataset in ${dataDir} and no generator in this build (npm run gen); ` +
      'the Data tab lists datasets once you record one in the Robot tab or copy a LeRobot dataset there.\n',
  );
}

process.stdout.write('\n== starting the server (Ctrl-C to stop)\n');
const server = spawn(npm, ['run', '--silent', 'serve', '--', ...args], { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.kill(sig));
server.on('exit', (code, signal) => process.exit(code ?? (signal ? 0 : 1)));
