import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LeRobotReader, LeRobotWriter, memoryIO, exactStats, DatasetError } from '../../../src/data/index.ts';
import { nodeIO } from '../../../src/data/io-node.ts';
import { OPTS, episodeLength, makeFrames } from './helpers.ts';

async function writeDataset(io: ReturnType<typeof memoryIO> | ReturnType<typeof nodeIO>, episodes: number, opts = OPTS) {
  const w = await LeRobotWriter.create(io, opts);
  for (let ep = 0; ep < episodes; ep++) {
    for (const f of makeFrames(ep, episodeLength(ep))) w.addFrame(f);
    await w.saveEpisode({ task: `task ${ep % 2}`, meta: { success: ep % 3 !== 0, perturbation: { kind: 'lighting', seed: ep } } });
  }
  await w.finalize();
  return w;
}

describe('LeRobot v3.0 round trip', () => {
  it('reads back every value bit-exactly', async () => {
    const io = nodeIO(mkdtempSync(join(tmpdir(), 'prts-data-')));
    await writeDataset(io, 4);
    const r = await LeRobotReader.open(io);
    expect(r.version).toBe('v3.0');
    expect(r.episodes.length).toBe(4);
    expect(r.tasks).toEqual(['task 0', 'task 1']);
    let index = 0;
    for (let ep = 0; ep < 4; ep++) {
      const len = episodeLength(ep);
      const info = r.episodes[ep];
      expect(info).toMatchObject({ index: ep, length: len, tasks: [`task ${ep % 2}`], from: index, to: index + len });
      expect(info.meta).toEqual({ success: ep % 3 !== 0, perturbation: { kind: 'lighting', seed: ep } });
      const data = await r.readEpisode(ep);
      const frames = makeFrames(ep, len);
      const col = data.columns;
      for (let t = 0; t < len; t++) {
        const f = frames[t];
        expect(Array.from(col['observation.state'].data.slice(t * 8, t * 8 + 8) as Float32Array)).toEqual(Array.from(f['observation.state'] as Float32Array));
        expect(Array.from(col.action.data.slice(t * 7, t * 7 + 7) as Float32Array)).toEqual((f.action as number[]).map(Math.fround));
        expect(col.phase.data[t]).toBe(f.phase);
        expect(col.phase_description.data[t]).toBe(f.phase_description);
        expect(col.success.data[t]).toBe(f.success ? 1 : 0);
        expect(col.timestamp.data[t]).toBe(Math.fround(t / 20));
        expect(col.frame_index.data[t]).toBe(t);
        expect(col.episode_index.data[t]).toBe(ep);
        expect(col.index.data[t]).toBe(index + t);
        expect(col.task_index.data[t]).toBe(ep % 2);
        const img = (col['observation.images.agentview'].data[t] as { decode(): { data: Uint8Array; width: number; height: number } }).decode();
        const want = f['observation.images.agentview'] as { data: Uint8Array };
        expect(img.width).toBe(6);
        expect(img.height).toBe(8);
        expect(Buffer.from(img.data).equals(Buffer.from(want.data))).toBe(true);
      }
      index += len;
    }
    expect(r.totalFrames).toBe(index);
  });

  it('writes LeRobot v3.0 metadata and file layout', async () => {
    const io = memoryIO();
    await writeDataset(io, 3);
    const info = JSON.parse(new TextDecoder().decode(io.files.get('meta/info.json')!));
    expect(info).toMatchObject({
      codebase_version: 'v3.0', robot_type: 'panda', total_episodes: 3, total_tasks: 2, chunks_size: 1000, fps: 20,
      splits: { train: '0:3' }, data_path: 'data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet', video_path: null,
    });
    expect(Object.keys(info.features)).toEqual(expect.arrayContaining(['timestamp', 'frame_index', 'episode_index', 'index', 'task_index', 'action']));
    expect([...io.files.keys()].sort()).toEqual([
      'data/chunk-000/file-000.parquet', 'meta/episodes/chunk-000/file-000.parquet', 'meta/info.json', 'meta/stats.json', 'meta/tasks.parquet',
    ]);
    const stats = JSON.parse(new TextDecoder().decode(io.files.get('meta/stats.json')!));
    expect(Object.keys(stats.action)).toEqual(['min', 'max', 'mean', 'std', 'count', 'q01', 'q10', 'q50', 'q90', 'q99']);
    // Image statistics nest per channel as [C][1][1], like LeRobot's.
    expect(stats['observation.images.agentview'].mean.length).toBe(3);
    expect(stats['observation.images.agentview'].mean[0]).toEqual([[expect.any(Number)]]);
  });

  it('rolls data files at the size limit and reads across them', async () => {
    const io = memoryIO();
    await writeDataset(io, 6, { ...OPTS, dataFilesSizeMb: 0.004 });
    const files = [...io.files.keys()].filter((p) => p.startsWith('data/')).sort();
    expect(files.length).toBeGreaterThan(1);
    const r = await LeRobotReader.open(io);
    for (let ep = 0; ep < 6; ep++) {
      const d = await r.getFrames(ep, 1, 3);
      expect(Array.from(d.columns.index.data as Float64Array)).toEqual([r.episodes[ep].from + 1, r.episodes[ep].from + 2]);
      expect(d.columns.episode_index.data[0]).toBe(ep);
    }
  });

  it('computes per-episode and dataset statistics that match a direct computation', async () => {
    const io = memoryIO();
    await writeDataset(io, 5);
    const r = await LeRobotReader.open(io);
    const all: number[] = [];
    for (let ep = 0; ep < 5; ep++) {
      const d = await r.readEpisode(ep);
      const direct = exactStats(d.columns.action.data as Float32Array, d.length, 7);
      expect(r.episodes[ep].stats!.action).toEqual(direct);
      all.push(...(d.columns.action.data as Float32Array));
    }
    const n = all.length / 7;
    const direct = exactStats(all, n, 7);
    const got = r.stats.action;
    expect(got.count).toEqual([n]);
    for (let d = 0; d < 7; d++) {
      expect(got.min[d]).toBe(direct.min[d]);
      expect(got.max[d]).toBe(direct.max[d]);
      expect(got.mean[d]).toBeCloseTo(direct.mean[d], 10);
      expect(got.std[d]).toBeCloseTo(direct.std[d], 10);
      // Histogram sketch: within a couple of bins of the exact quantile (range / 4096 per bin, plus rebinning).
      const bin = (direct.max[d] - direct.min[d]) / 4096;
      for (const q of ['q01', 'q10', 'q50', 'q90', 'q99'] as const) expect(Math.abs(got[q][d] - direct[q][d])).toBeLessThan(4 * bin);
    }
  });

  it('serves batch accessors: getFrames and padded action chunks', async () => {
    const io = memoryIO();
    await writeDataset(io, 2);
    const r = await LeRobotReader.open(io);
    const len = episodeLength(1);
    expect(r.frameCount(1)).toBe(len);
    const frames = await r.getFrames(1, 2, 4);
    expect(Object.keys(frames.columns)).not.toContain('observation.images.agentview');
    expect(frames.columns['observation.state'].data.length).toBe(16);
    const ep = await r.readEpisode(1);
    const act = ep.columns.action.data as Float32Array;
    const chunk = await r.actionChunk(1, len - 2, 4);
    expect(Array.from(chunk.valid)).toEqual([1, 1, 0, 0]);
    expect(Array.from(chunk.actions.slice(0, 7))).toEqual(Array.from(act.slice((len - 2) * 7, (len - 1) * 7)));
    for (const h of [1, 2, 3]) expect(Array.from(chunk.actions.slice(h * 7, h * 7 + 7))).toEqual(Array.from(act.slice((len - 1) * 7)));
    await expect(r.actionChunk(1, len, 4)).rejects.toThrow(/outside the episode/);
    await expect(r.getFrames(1, 0, len + 1)).rejects.toThrow(DatasetError);
  });
});
