/**
 * A checkpoint directory as one file: `<run>.prts.zip`, a plain ZIP of the directory's
 * files under their relative paths (latest.json, step-XXXXXXXX/model.safetensors, ...),
 * so a browser run (worker/jobs/runs.ts) can be taken to Node and back. Shared by the
 * Train tab's Download / import, the dropped-checkpoint pickers and the Node CLIs
 * (checkpoint-node.ts); host-neutral (fflate, no Node modules).
 *
 * Safetensors are stored (their f32 bytes barely deflate, and packing runs on the UI
 * thread); the small JSON files are deflated. Reading checks the ZIP structure and every
 * entry's CRC-32, and that the archive holds a checkpoint (its latest.json, or a step
 * directory's trainer.json, and the files loadCheckpoint needs); loadCheckpoint then
 * checks sizes and hashes against trainer.json as it does for a folder.
 */
import { unzipSync, zipSync, type Zippable } from 'fflate';
import { checkRelativePath, joinPath, memoryIO } from '../data/io.ts';
import { CHECKPOINT_FILES, CheckpointError, resolveCheckpointDir } from './checkpoint.ts';

export const ARCHIVE_SUFFIX = '.prts.zip';

/**
 * Written by the browser beside the checkpoint files: what the run's summary knows and
 * the checkpoint does not (its dataset, the run it was post-trained from), so an import
 * restores them. Node ignores it.
 */
export const RUN_INFO_FILE = 'run.json';

/** `<run>.prts.zip`, with characters that file systems dislike replaced. */
export function archiveFileName(run: string): string {
  return `${run.replace(/[^\w.-]+/g, '_') || 'checkpoint'}${ARCHIVE_SUFFIX}`;
}

/** The run name an archive's file name suggests ("a/b/run.prts.zip" -> "run"). */
export function runNameFromArchive(fileName: string): string {
  return (fileName.split(/[\\/]/).pop() ?? '').replace(/(\.prts)?\.zip$/i, '');
}

/** Whether the bytes start like a ZIP archive (a local file header, or the end record of an empty one). */
export function isZipBytes(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && ((b[2] === 3 && b[3] === 4) || (b[2] === 5 && b[3] === 6));
}

/**
 * The root of a checkpoint among relative paths: the folder holding latest.json (a run)
 * or trainer.json (one step directory); null when there is neither. The shallowest
 * marker wins, since a run folder holds step folders that each have trainer.json.
 */
export function checkpointRoot(paths: readonly string[]): string | null {
  const marks = paths.filter((p) => /(^|\/)(latest|trainer)\.json$/.test(p));
  if (!marks.length) return null;
  marks.sort((a, b) => a.split('/').length - b.split('/').length);
  return marks[0].replace(/(latest|trainer)\.json$/, '');
}

/** Packs a checkpoint directory's files (relative paths) into one ZIP, dated `mtime` (now when ZIP cannot hold that date). */
export function packCheckpoint(files: Record<string, Uint8Array> | Map<string, Uint8Array>, mtime: Date | number = Date.now()): Uint8Array {
  // ZIP's DOS dates cover 1980-2099 (local time), and fflate throws outside them.
  const year = new Date(mtime).getFullYear();
  if (!(year >= 1981 && year <= 2098)) mtime = Date.now();
  const entries = files instanceof Map ? [...files] : Object.entries(files);
  if (!entries.some(([p]) => /(^|\/)(latest|trainer)\.json$/.test(p))) throw new CheckpointError('checkpoint archive: the files hold no latest.json or trainer.json; this is not a checkpoint directory');
  const zippable: Zippable = {};
  for (const [path, bytes] of entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    checkRelativePath(path);
    zippable[path] = [bytes, { level: path.endsWith('.safetensors') ? 0 : 6, mtime }];
  }
  return zipSync(zippable);
}

let crcTable: Uint32Array | null = null;
function crc32(b: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = crcTable[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * Every entry's CRC-32 from the ZIP central directory. fflate does not check CRCs when
 * it unzips, and a stored (uncompressed) entry would otherwise pass a flipped byte on.
 */
function centralCrcs(zip: Uint8Array, label: string): Map<string, number> {
  const dv = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (dv.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new CheckpointError(`checkpoint archive ${label}: no ZIP end record (truncated, or not a ZIP archive)`);
  const count = dv.getUint16(eocd + 10, true);
  let p = dv.getUint32(eocd + 16, true);
  const out = new Map<string, number>();
  const dec = new TextDecoder();
  for (let k = 0; k < count; k++) {
    if (p + 46 > zip.length || dv.getUint32(p, true) !== 0x02014b50) throw new CheckpointError(`checkpoint archive ${label}: the ZIP central directory is damaged at entry ${k + 1} of ${count}`);
    const nameLen = dv.getUint16(p + 28, true);
    out.set(dec.decode(zip.subarray(p + 46, p + 46 + nameLen)), dv.getUint32(p + 16, true));
    p += 46 + nameLen + dv.getUint16(p + 30, true) + dv.getUint16(p + 32, true);
  }
  return out;
}

/**
 * The checkpoint directory's files from an archive, relative to its checkpoint root (an
 * archive of a folder that holds the run folder works too; files outside the root, such
 * as __MACOSX/, are left out). Throws a CheckpointError naming the problem: not a ZIP,
 * truncated or corrupted (which entry), unsafe paths, no latest.json / trainer.json, or
 * the step directory's files that are missing.
 */
export async function unpackCheckpoint(zip: Uint8Array, label = 'archive'): Promise<Map<string, Uint8Array>> {
  if (!isZipBytes(zip)) throw new CheckpointError(`checkpoint archive ${label} is not a ZIP archive (a checkpoint archive is a ${ARCHIVE_SUFFIX} from the Train tab's Download)`);
  const crcs = centralCrcs(zip, label);
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(zip);
  } catch (e) {
    throw new CheckpointError(`checkpoint archive ${label} is corrupted or truncated (${(e as Error).message})`);
  }
  const paths: string[] = [];
  for (const [path, bytes] of Object.entries(entries)) {
    if (path.endsWith('/')) continue;
    if (crcs.get(path) !== crc32(bytes)) throw new CheckpointError(`checkpoint archive ${label}: "${path}" is corrupted (its CRC-32 does not match)`);
    try {
      checkRelativePath(path);
    } catch {
      throw new CheckpointError(`checkpoint archive ${label}: entry "${path}" is not a relative path inside the archive`);
    }
    paths.push(path);
  }
  const root = checkpointRoot(paths);
  if (root === null) {
    const some = paths.slice(0, 6).join(', ') + (paths.length > 6 ? `, ... (${paths.length} files)` : '');
    throw new CheckpointError(`checkpoint archive ${label} holds no latest.json or trainer.json, so it is not a checkpoint (it has: ${some || 'no files'})`);
  }
  const files = new Map<string, Uint8Array>();
  for (const p of paths) if (p.startsWith(root)) files.set(p.slice(root.length), entries[p]);
  const dir = await resolveCheckpointDir(memoryIO(files)).catch((e: Error) => {
    throw new CheckpointError(`checkpoint archive ${label}: ${e.message.replace(/^checkpoint: /, '')}`);
  });
  const missing = ['trainer.json', ...CHECKPOINT_FILES].filter((f) => !files.has(joinPath(dir, f)));
  if (missing.length) throw new CheckpointError(`checkpoint archive ${label}: ${dir ? `${dir}/` : 'the step directory'} lacks ${missing.join(', ')}`);
  return files;
}
