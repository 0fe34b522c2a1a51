/**
 * Runs an npm script that starts a TypeScript entry through scripts/run.mjs, as `npm run
 * <name> -- <args>` would but without npm in between (npm adds its own output and exit
 * codes), so a test checks the script's wiring in package.json as well as the program.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { readFileSync } from 'node:fs';

export const SCRIPTS = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts;

/** The scripts that run a TypeScript entry (CLIs, benchmarks, the server). */
export const TS_ENTRIES = Object.entries(SCRIPTS).filter(([, cmd]) => cmd.startsWith('node scripts/run.mjs '));

export function npmRun(name: string, args: readonly string[]): SpawnSyncReturns<string> {
  const cmd = SCRIPTS[name];
  if (!cmd) throw new Error(`package.json has no script "${name}"`);
  const [node, ...script] = cmd.split(' ');
  if (node !== 'node') throw new Error(`script "${name}" does not start with node: ${cmd}`);
  return spawnSync(process.execPath, [...script, ...args], { encoding: 'utf8' });
}
