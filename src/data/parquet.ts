/** Thin layer over hyparquet / hyparquet-writer: parquet files read through DatasetIO, columns out. */
import { cachedAsyncBuffer, parquetMetadataAsync, parquetRead, type AsyncBuffer, type FileMetaData, type SchemaElement } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { CompressionCodec } from 'hyparquet';
import { HTTP_TAIL_BYTES, type DatasetIO } from './io.ts';
import { DatasetError } from './types.ts';

export interface ParquetFile {
  path: string;
  file: AsyncBuffer;
  metadata: FileMetaData;
  numRows: number;
  columnNames: string[];
}

export async function openParquet(io: DatasetIO, path: string): Promise<ParquetFile> {
  let byteLength: number;
  try {
    byteLength = await io.size(path);
  } catch (e) {
    throw new DatasetError(`cannot open ${path}: ${(e as Error).message}`);
  }
  // hyparquet reads the last 512 KB by default to find the footer; over HTTP that is a
  // large share of an image file when one episode is all we want. Our footers are a few
  // KB per episode; a larger one costs one more request. Over httpIO the size request
  // already fetched this tail, so the footer read itself is free.
  const initialFetchSize = HTTP_TAIL_BYTES;
  const file = cachedAsyncBuffer({
    byteLength,
    slice: async (start, end) => {
      const bytes = await io.readRange(path, start, end ?? byteLength);
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    },
  }, { minSize: initialFetchSize });
  let metadata: FileMetaData;
  try {
    metadata = await parquetMetadataAsync(file, { initialFetchSize });
  } catch (e) {
    throw new DatasetError(`${path} is not a readable parquet file: ${(e as Error).message}`);
  }
  const columnNames = topLevelNames(metadata.schema);
  return { path, file, metadata, numRows: Number(metadata.num_rows), columnNames };
}

function topLevelNames(schema: SchemaElement[]): string[] {
  const names: string[] = [];
  let i = 1;
  const skip = (idx: number): number => {
    let next = idx + 1;
    for (let c = 0; c < (schema[idx].num_children ?? 0); c++) next = skip(next);
    return next;
  };
  while (i < schema.length) { names.push(schema[i].name); i = skip(i); }
  return names;
}

/** Columns `names` for rows [rowStart, rowEnd), each as hyparquet decodes it (typed arrays for flat numeric columns). */
export async function readColumns(pf: ParquetFile, names: string[], rowStart = 0, rowEnd = pf.numRows): Promise<Record<string, ArrayLike<unknown>>> {
  for (const n of names) if (!pf.columnNames.includes(n)) throw new DatasetError(`${pf.path} has no column "${n}"`, n);
  const out: Record<string, ArrayLike<unknown>> = {};
  if (rowEnd <= rowStart || names.length === 0) {
    for (const n of names) out[n] = [];
    return out;
  }
  const parts: Record<string, { start: number; data: ArrayLike<unknown> }[]> = {};
  for (const n of names) parts[n] = [];
  await parquetRead({
    file: pf.file,
    metadata: pf.metadata,
    columns: names,
    rowStart,
    rowEnd,
    utf8: false,
    onChunk: (c) => { parts[c.columnName]?.push({ start: c.rowStart, data: c.columnData }); },
  });
  for (const n of names) {
    const len = rowEnd - rowStart;
    const chunks = parts[n].sort((a, b) => a.start - b.start);
    // Chunks may extend beyond the requested range (whole row groups), so cut them.
    const pieces: ArrayLike<unknown>[] = [];
    for (const { start, data } of chunks) {
      const a = Math.max(rowStart, start) - start;
      const b = Math.min(rowEnd, start + data.length) - start;
      if (b > a) pieces.push(sliceLike(data, a, b));
    }
    out[n] = pieces.length === 1 ? pieces[0] : concatLike(pieces);
    if (out[n].length !== len) throw new DatasetError(`${pf.path}: column "${n}" returned ${out[n].length} rows, expected ${len}`, n);
  }
  return out;
}

function sliceLike(data: ArrayLike<unknown>, a: number, b: number): ArrayLike<unknown> {
  return (data as unknown[]).slice(a, b);
}

function concatLike(pieces: ArrayLike<unknown>[]): ArrayLike<unknown> {
  const first = pieces[0] as unknown;
  if (ArrayBuffer.isView(first)) {
    const total = pieces.reduce((s, p) => s + p.length, 0);
    const Ctor = (first as unknown as { constructor: new (n: number) => { set(a: ArrayLike<unknown>, o: number): void } }).constructor;
    const out = new Ctor(total);
    let off = 0;
    for (const p of pieces) { out.set(p, off); off += p.length; }
    return out as unknown as ArrayLike<unknown>;
  }
  return pieces.flatMap((p) => Array.from(p));
}

export interface WriteColumn {
  name: string;
  data: unknown[] | ArrayLike<unknown>;
  schema: SchemaElement[];
  codec?: CompressionCodec;
}

export function writeParquet(columns: WriteColumn[], opts: { rowGroupSize?: number[]; kv?: Record<string, string> } = {}): Uint8Array {
  const schema: SchemaElement[] = [{ name: 'schema', num_children: columns.length }, ...columns.flatMap((c) => c.schema)];
  const buf = parquetWriteBuffer({
    columnData: columns.map((c) => ({ name: c.name, data: c.data as never, codec: c.codec })),
    schema,
    rowGroupSize: opts.rowGroupSize && opts.rowGroupSize.length > 0 ? opts.rowGroupSize : undefined,
    kvMetadata: Object.entries(opts.kv ?? {}).map(([key, value]) => ({ key, value })),
    createdBy: 'prts-workbench',
  });
  return new Uint8Array(buf);
}
