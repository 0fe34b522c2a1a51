/**
 * Child process for the crash tests: writes (or resumes) a dataset and SIGKILLs itself
 * at the killAt-th atomic file write, either with a torn temp file left behind ("mid")
 * or right after the rename ("after"). killAt 0 runs to completion.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LeRobotWriter, TEMP_SUFFIX, type WritableDatasetIO } from '../../../src/data/index.ts';
import { nodeIO } from '../../../src/data/io-node.ts';
import { OPTS, episodeLength, makeFrames } from './helpers.ts';

const [dir, totalArg, killAtArg, phase] = process.argv.slice(2);
const total = Number(totalArg);
const killAt = Number(killAtArg);
const base = nodeIO(dir);
let writes = 0;
const io: WritableDatasetIO = {
  ...base,
  async writeFileAtomic(path, bytes) {
    writes++;
    if (writes === killAt) {
      if (phase === 'mid') {
        const tmp = join(base.root, path) + `.${process.pid}.0${TEMP_SUFFIX}`;
        mkdirSync(dirname(tmp), { recursive: true });
        writeFileSync(tmp, bytes.subarray(0, bytes.length >> 1));
      } else {
        await base.writeFileAtomic(path, bytes);
      }
      process.kill(process.pid, 'SIGKILL');
    }
    return base.writeFileAtomic(path, bytes);
  },
};

const w = await LeRobotWriter.openOrCreate(io, OPTS);
for (let ep = w.totalEpisodes; ep < total; ep++) {
  for (const f of makeFrames(ep, episodeLength(ep))) w.addFrame(f);
  await w.saveEpisode({ task: `task ${ep % 2}`, meta: { success: ep % 3 !== 0, perturbation: { kind: 'lighting', seed: ep } } });
}
await w.finalize();
process.stdout.write(`writes=${writes}\n`);
