/**
 * Runs the PyTorch twin (torch/prts_torch) from Node. The interpreter is $PRTS_PYTHON, or
 * Debian's /usr/bin/python3 (where apt's python3-torch lives) when it exists, else
 * python3 on the PATH. Node-only.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** torch/ of the repository: $PRTS_TWIN_ROOT, else the first torch/prts_torch above this module (bundled CLIs run from node_modules/.cache) or the working directory. */
function findTwinRoot(): string {
  if (process.env.PRTS_TWIN_ROOT) return resolve(process.env.PRTS_TWIN_ROOT);
  for (let d = dirname(fileURLToPath(import.meta.url)); ; d = dirname(d)) {
    if (existsSync(join(d, 'torch', 'prts_torch', '__init__.py'))) return join(d, 'torch');
    if (dirname(d) === d) break;
  }
  return resolve('torch');
}

export const TWIN_ROOT = findTwinRoot();

let chosen: string | null = null;

/**
 * $PRTS_PYTHON; else the first of /usr/bin/python3 (Debian's python3-torch) and python3 on
 * the PATH (a GPU machine's own torch) that imports torch; else /usr/bin/python3 or
 * python3, so the error names a real interpreter.
 */
export function pythonExecutable(): string {
  if (process.env.PRTS_PYTHON) return process.env.PRTS_PYTHON;
  if (chosen) return chosen;
  const candidates = [...(existsSync('/usr/bin/python3') ? ['/usr/bin/python3'] : []), 'python3'];
  chosen = candidates.find((p) => spawnSync(p, ['-c', 'import torch, numpy'], { stdio: 'ignore' }).status === 0) ?? candidates[0];
  return chosen;
}

/** Whether the interpreter imports torch; the reason when it does not. */
export function twinAvailable(): { ok: true; torch: string } | { ok: false; reason: string } {
  const r = spawnSync(pythonExecutable(), ['-c', 'import torch, numpy; print(torch.__version__)'], { encoding: 'utf8' });
  if (r.status === 0) return { ok: true, torch: r.stdout.trim() };
  return { ok: false, reason: `${pythonExecutable()} cannot import torch and numpy (install python3-torch, or set PRTS_PYTHON): ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}` };
}

function env(): NodeJS.ProcessEnv {
  const path = process.env.PYTHONPATH ? `${TWIN_ROOT}:${process.env.PYTHONPATH}` : TWIN_ROOT;
  return { ...process.env, PYTHONPATH: path };
}

/** Runs `python <args>` with torch/ on PYTHONPATH; resolves to its exit code (output inherited or collected). */
export function runTwin(args: string[], opts: { inherit?: boolean; onStdout?: (s: string) => void; onStderr?: (s: string) => void } = {}): Promise<number> {
  return new Promise((res, rej) => {
    const p = spawn(pythonExecutable(), args, { env: env(), cwd: join(TWIN_ROOT, '..'), stdio: opts.inherit ? 'inherit' : 'pipe' });
    p.stdout?.on('data', (d: Buffer) => opts.onStdout?.(d.toString()));
    p.stderr?.on('data', (d: Buffer) => opts.onStderr?.(d.toString()));
    p.on('error', rej);
    p.on('close', (c) => res(c ?? 1));
  });
}
