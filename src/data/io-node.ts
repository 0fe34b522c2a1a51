/**
 * Local-disk DatasetIO for Node (CLI, server, tests). Import this file only from Node
 * code: it pulls in node:fs, which the browser bundle must never see.
 */
import { promises as fs, constants as fsConstants } from 'node:fs';
import * as nodePath from 'node:path';
import { checkRelativePath, TEMP_SUFFIX, type WritableDatasetIO } from './io.ts';

export function nodeIO(rootDir: string): WritableDatasetIO & { root: string } {
  const root = nodePath.resolve(rootDir);
  const abs = (p: string) => nodePath.join(root, ...checkRelativePath(p).split('/'));
  let tempCounter = 0;

  async function fsyncDir(dir: string) {
    // Without this the rename itself may not survive a power cut, even though the
    // file contents were fsynced.
    const h = await fs.open(dir, fsConstants.O_RDONLY);
    try { await h.sync(); } finally { await h.close(); }
  }

  return {
    root,
    async readFile(p) {
      return new Uint8Array(await fs.readFile(abs(p)));
    },
    async readRange(p, start, end) {
      const h = await fs.open(abs(p), 'r');
      try {
        const out = new Uint8Array(Math.max(0, end - start));
        let off = 0;
        while (off < out.length) {
          const { bytesRead } = await h.read(out, off, out.length - off, start + off);
          if (bytesRead === 0) throw new Error(`${p}: range ${start}-${end} is past the end of the file`);
          off += bytesRead;
        }
        return out;
      } finally {
        await h.close();
      }
    },
    async size(p) {
      return (await fs.stat(abs(p))).size;
    },
    async exists(p) {
      try { await fs.access(abs(p)); return true; } catch { return false; }
    },
    async writeFileAtomic(p, bytes) {
      const target = abs(p);
      const dir = nodePath.dirname(target);
      await fs.mkdir(dir, { recursive: true });
      const tmp = `${target}.${process.pid}.${tempCounter++}${TEMP_SUFFIX}`;
      const h = await fs.open(tmp, 'w');
      try {
        let off = 0;
        while (off < bytes.length) off += (await h.write(bytes, off, bytes.length - off)).bytesWritten;
        await h.sync();
      } finally {
        await h.close();
      }
      await fs.rename(tmp, target);
      await fsyncDir(dir);
    },
    async mkdirp(d) {
      await fs.mkdir(abs(d), { recursive: true });
    },
    async remove(p) {
      await fs.rm(abs(p), { force: true });
    },
    async list(d) {
      try { return (await fs.readdir(abs(d))).sort(); } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw e;
      }
    },
  };
}
