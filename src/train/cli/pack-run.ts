/**
 * npm run pack-run -- --run <run or step dir> --out <file.prts.zip> [--force]
 *
 * Packs a checkpoint directory written by `npm run train` / `post-train` into the
 * `<run>.prts.zip` archive the browser imports (Train tab "Import .prts.zip…", the Value,
 * Embeddings and Sim pickers; docs/file-formats.md, "Checkpoint archives"). The archive is
 * the one the Train tab's Download writes, less run.json (a Node run records no browser
 * dataset). The run is loaded before packing, so a damaged one is refused here; the archive
 * is written atomically (temp file, fsync, rename). The last stdout line is a JSON summary.
 */
import { promises as fs } from 'node:fs';
import { basename, dirname, isAbsolute, relative, resolve } from 'node:path';
import { defineCli } from '../../cli/args.ts';
import { nodeIO } from '../../data/io-node.ts';
import { loadCheckpoint } from '../checkpoint.ts';
import { checkpointRoot, packCheckpoint } from '../checkpoint-archive.ts';
import { readCheckpointDir } from '../checkpoint-node.ts';

const cli = defineCli({
  name: 'pack-run',
  command: 'npm run pack-run --',
  description: "Packs a Node checkpoint run (or one step directory) into the .prts.zip archive the browser's Train tab imports (docs/file-formats.md). The run is loaded first, so a damaged one is refused; the last line is a JSON summary.",
  options: {
    run: { type: 'string', required: true, metavar: 'run or step dir', help: 'checkpoint directory of npm run train / post-train (--out of those)' },
    out: { type: 'string', required: true, metavar: 'file.prts.zip', help: 'the archive to write (its folder is created when missing)' },
    force: { type: 'boolean', help: 'replace --out when it exists' },
  },
});
const args = cli.parse();
// Annotated so that TypeScript knows a call does not return.
const fail: (message: string) => never = cli.fail;

const runDir = resolve(args.run);
const outPath = resolve(args.out);

const st = await fs.stat(runDir).catch(() => null);
if (!st) fail(`--run ${args.run}: no such directory`);
if (!st.isDirectory()) fail(`--run ${args.run}: is a file, not a checkpoint directory${/\.zip$/i.test(runDir) ? ' (it is already an archive)' : ''}`);
const rel = relative(runDir, outPath);
// An archive inside the run would be packed into the next archive of that run.
if (!rel.startsWith('..') && !isAbsolute(rel)) fail(`--out ${args.out}: must not be inside --run ${args.run}`);
const outSt = await fs.stat(outPath).catch(() => null);
if (outSt?.isDirectory()) fail(`--out ${args.out}: is a directory; give the archive's file name`);
if (outSt && !args.force) fail(`--out ${args.out}: exists (give --force to replace it)`);

const files = await readCheckpointDir(runDir);
const paths = [...files.keys()];
// The marker must be at the top: a folder holding runs (runs/ with runs/a/latest.json) is not one run.
const root = checkpointRoot(paths);
if (root !== '') {
  const found = root === null ? `it has ${paths.slice(0, 5).join(', ') || 'no files'}${paths.length > 5 ? `, ... (${paths.length} files)` : ''}` : `one is in ${root}; give that folder`;
  fail(`--run ${args.run}: not a checkpoint run or step directory (no latest.json or trainer.json at its top; ${found})`);
}

// Loaded as an import would load it, so a damaged run (sizes or hashes that disagree with
// trainer.json, files missing) is refused here rather than in the browser.
const ckpt = await loadCheckpoint(nodeIO(runDir)).catch((e: Error) => fail(`--run ${args.run}: ${e.message}`));
// Entry dates are the run's last save, as in the browser's Download.
const marker = files.has('latest.json') ? 'latest.json' : 'trainer.json';
const zip = packCheckpoint(files, (await fs.stat(resolve(runDir, marker))).mtime);
await nodeIO(dirname(outPath)).writeFileAtomic(basename(outPath), zip);
const bytes = [...files.values()].reduce((s, b) => s + b.length, 0);
process.stderr.write(`packed ${files.size} files (${(bytes / 1e6).toFixed(1)} MB) of ${runDir}, step ${ckpt.trainer.step}, into ${outPath}\n`);
console.log(JSON.stringify({ run: runDir, out: outPath, files: files.size, bytes: zip.length, step: ckpt.trainer.step, dit: !!ckpt.dit }));
