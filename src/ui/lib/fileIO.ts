/**
 * DatasetIO over files the user dropped on the page (a LeRobot dataset folder), so the
 * Data tab reads local datasets with the same reader it uses for the server. Paths are
 * relative to the dataset root, found as the folder that holds meta/info.json.
 */
import type { DatasetIO } from '../../data/index.ts';

export function filesIO(files: Map<string, File>): DatasetIO {
  const get = (path: string) => {
    const f = files.get(path);
    if (!f) throw new Error(`${path}: not among the dropped files`);
    return f;
  };
  return {
    async readFile(path) {
      return new Uint8Array(await get(path).arrayBuffer());
    },
    async readRange(path, start, end) {
      return new Uint8Array(await get(path).slice(start, end).arrayBuffer());
    },
    async size(path) {
      return get(path).size;
    },
    async exists(path) {
      return files.has(path);
    },
  };
}

/** Reads every file under the dropped directories (File System Entries API). */
export async function collectDropped(items: DataTransferItemList): Promise<Map<string, File>> {
  const out = new Map<string, File>();
  const walk = async (entry: FileSystemEntry, prefix: string): Promise<void> => {
    if (entry.isFile) {
      const file = await new Promise<File>((res, rej) => (entry as FileSystemFileEntry).file(res, rej));
      out.set(prefix + entry.name, file);
    } else if (entry.isDirectory) {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      // readEntries returns at most ~100 entries per call; loop until it returns none.
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
        if (!batch.length) break;
        for (const e of batch) await walk(e, `${prefix}${entry.name}/`);
      }
    }
  };
  // Both taken now: the items are readable only until the drop handler's first await.
  const taken = [...items].map((i) => ({ entry: i.webkitGetAsEntry(), file: i.kind === 'file' ? i.getAsFile() : null }));
  for (const { entry, file } of taken) {
    if (entry) await walk(entry, '');
    // A file with no file-system entry (a drop built by a script, some apps' drags) still has its bytes.
    else if (file) out.set(file.name, file);
  }
  return out;
}

/** Splits dropped files into datasets: each folder holding meta/info.json is one root. */
export function datasetRoots(files: Map<string, File>): { name: string; files: Map<string, File> }[] {
  const roots = [...files.keys()].filter((p) => p === 'meta/info.json' || p.endsWith('/meta/info.json')).map((p) => p.slice(0, -'meta/info.json'.length));
  return roots.map((root) => {
    const sub = new Map<string, File>();
    for (const [p, f] of files) if (p.startsWith(root)) sub.set(p.slice(root.length), f);
    const name = root.replace(/\/$/, '').split('/').pop() || 'dropped dataset';
    return { name, files: sub };
  });
}
