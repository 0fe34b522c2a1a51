/**
 * src/data: LeRobotDataset v3.0 writer and reader (v2.1 read), statistics, batch helpers.
 * Runs in the browser and in Node; host file access goes through DatasetIO.
 *
 * Node (CLI, server):
 *   import { nodeIO } from '../data/io-node.ts';          // Node only
 *   const w = await LeRobotWriter.openOrCreate(nodeIO('data/spatial'), {
 *     repoId: 'prts/spatial', fps: 20, robotType: 'panda',
 *     features: {
 *       'observation.state': { dtype: 'float32', shape: [8], names: [...] },
 *       'observation.images.agentview': { dtype: 'image', shape: [64, 64, 3], names: ['height', 'width', 'channels'] },
 *       action: { dtype: 'float32', shape: [7], names: [...] },
 *       phase: { dtype: 'int64', shape: [1] },
 *       phase_description: { dtype: 'string', shape: [1] },
 *     },
 *   });
 *   for (each step) w.addFrame({ 'observation.state': s, 'observation.images.agentview': img, action: a, phase: 2, phase_description: 'lift the red block' });
 *   await w.saveEpisode({ task: 'put the red block on the plate', meta: { success: true, perturbation: {...} } });
 *   // or w.discardEpisode();
 *   await w.finalize();
 *
 * Browser:
 *   const r = await LeRobotReader.open(httpIO('/api/datasets/spatial/files/'));
 *   r.episodes[0].meta; await r.getFrames(0, 0, 16); await r.actionChunk(0, t, 50);
 *
 * Guarantees: every file is replaced atomically (temp, fsync, rename) and meta/info.json
 * is written last, so a reader only ever sees episodes that were completely written.
 * openForAppend / openOrCreate sweep temp files and resume after the last complete episode.
 */
export * from './types.ts';
export { httpIO, memoryIO, joinPath, TEMP_SUFFIX, type DatasetIO, type WritableDatasetIO } from './io.ts';
export { LeRobotWriter, aggregateStats, type AppendOptions } from './writer.ts';
export { LeRobotReader, type DatasetInfo } from './reader.ts';
export { actionChunkFrom, type ActionChunk } from './batch.ts';
export { exactStats, NumericAccumulator, ImageAccumulator, SKETCH_BINS } from './stats.ts';
export { encodePng, decodePng } from './png.ts';
export { DEFAULT_FEATURES } from './features.ts';
