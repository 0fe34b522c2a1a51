/** LeRobot path templates ("data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"). */
import { DatasetError } from './types.ts';

export const INFO_PATH = 'meta/info.json';
export const STATS_PATH = 'meta/stats.json';
export const TASKS_PATH = 'meta/tasks.parquet';
export const DEFAULT_DATA_PATH = 'data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet';
export const DEFAULT_VIDEO_PATH = 'videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4';
export const EPISODES_PATH = 'meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet';

/** Python str.format for the subset LeRobot uses: {name} and {name:0Nd}. */
export function formatPath(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)(?::0(\d+)d)?\}/g, (_, key: string, width?: string) => {
    const v = values[key];
    if (v === undefined) throw new DatasetError(`path template "${template}" needs "${key}"`);
    return width ? String(v).padStart(Number(width), '0') : String(v);
  });
}

/** LeRobot's update_chunk_file_indices: files fill a chunk directory, then the next chunk starts. */
export function nextChunkFile(chunk: number, file: number, chunksSize: number): [number, number] {
  return file === chunksSize - 1 ? [chunk + 1, 0] : [chunk, file + 1];
}
