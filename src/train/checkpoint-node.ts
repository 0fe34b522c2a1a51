/**
 * Checkpoint directories on the local disk (CLI, tests): the src/data Node IO (atomic
 * temp + fsync + rename writes) plus recursive removal of pruned step directories.
 * Node-only: never import this from code the browser bundles.
 */
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { checkRelativePath } from '../data/io.ts';
import { nodeIO } from '../data/io-node.ts';
import type { CheckpointIO } from './checkpoint.ts';

export async function nodeCheckpointIO(dir: string): Promise<CheckpointIO & { root: string }> {
  await fs.mkdir(dir, { recursive: true });
  const io = nodeIO(dir);
  return {
    ...io,
    async removeDir(d: string) {
      await fs.rm(nodePath.join(io.root, ...checkRelativePath(d).split('/')), { recursive: true, force: true });
    },
  };
}
