/**
 * Checkpoint directories on the local disk (CLI, tests): the src/data Node IO (atomic
 * temp + fsync + rename writes) plus recursive removal of pruned step directories.
 * A checkpoint archive (`<run>.prts.zip`, checkpoint-archive.ts) opens in place of a
 * directory, read-only, so every CLI that reads a checkpoint takes either.
 * Node-only: never import this from code the browser bundles.
 */
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { checkRelativePath, memoryIO, TEMP_SUFFIX, type WritableDatasetIO } from '../data/io.ts';
import { nodeIO } from '../data/io-node.ts';
import { CheckpointError, type CheckpointIO } from './checkpoint.ts';
import { unpackCheckpoint } from './checkpoint-archive.ts';

export type NodeCheckpointIO = CheckpointIO & {
  root: string;
  /** Set when `root` is a checkpoint archive: the IO is then read-only. */
  archive?: true;
};

/**
 * A run directory to read and write, created when missing; or, when `path` is a file, the
 * checkpoint archive it holds (read into memory; writing to it throws). With
 * `create: false` (uses that only read, e.g. --checkpoint) a missing path throws instead,
 * so that a typo does not leave an empty directory behind.
 */
export async function nodeCheckpointIO(path: string, opts: { create?: boolean } = {}): Promise<NodeCheckpointIO> {
  const st = await fs.stat(path).catch(() => null);
  if (st?.isFile()) return archiveCheckpointIO(path);
  if (!st && opts.create === false) throw new CheckpointError('no such directory or checkpoint archive');
  await fs.mkdir(path, { recursive: true });
  const io = nodeIO(path);
  return {
    ...io,
    async removeDir(d: string) {
      await fs.rm(nodePath.join(io.root, ...checkRelativePath(d).split('/')), { recursive: true, force: true });
    },
  };
}

/**
 * A checkpoint archive on disk as a read-only checkpoint IO. The archive is read and
 * checked on first use, so a corrupt one fails inside loadCheckpoint, whose callers
 * (every CLI) already report its errors; the errors name the file.
 */
export function archiveCheckpointIO(file: string): NodeCheckpointIO {
  const root = nodePath.resolve(file);
  let opened: Promise<WritableDatasetIO> | null = null;
  const io = () => (opened ??= fs.readFile(root).then((b) => unpackCheckpoint(new Uint8Array(b), root)).then((files) => memoryIO(files)));
  const readOnly = async (): Promise<never> => {
    throw new CheckpointError(`${root} is a checkpoint archive, which is read-only: write runs to a directory (unzip the archive to continue training from it)`);
  };
  return {
    root,
    archive: true,
    readFile: async (p) => (await io()).readFile(p),
    readRange: async (p, start, end) => (await io()).readRange(p, start, end),
    size: async (p) => (await io()).size(p),
    exists: async (p) => (await io()).exists(p),
    list: async (d) => (await io()).list(d),
    writeFileAtomic: readOnly,
    mkdirp: readOnly,
    remove: readOnly,
    removeDir: readOnly,
  };
}

/** Every file of a checkpoint directory on disk, by relative path (temp files of an interrupted write left out). */
export async function readCheckpointDir(dir: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  const walk = async (rel: string): Promise<void> => {
    for (const e of await fs.readdir(nodePath.join(dir, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && !e.name.endsWith(TEMP_SUFFIX)) out.set(p, new Uint8Array(await fs.readFile(nodePath.join(dir, p))));
    }
  };
  await walk('');
  return out;
}
