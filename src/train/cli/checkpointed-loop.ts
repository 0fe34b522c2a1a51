/**
 * The step loop both training CLIs share (npm run train, npm run post-train): step until
 * done, log every `logEvery` steps, save every `checkpointEvery`, and on Ctrl-C finish
 * the current step and save (a second Ctrl-C quits at once). Whatever ends the loop
 * (completion, Ctrl-C, a failed step), the last completed step is on disk.
 */
import { saveCheckpoint, type CheckpointData, type CheckpointIO } from '../checkpoint.ts';

export interface SteppedRun<M extends { step: number }> {
  readonly done: boolean;
  readonly completedSteps: number;
  step(): Promise<M>;
  checkpoint(): Promise<CheckpointData>;
}

export interface LoopOptions<M> {
  /** Prefix of the failure message, e.g. "train". */
  name: string;
  out: CheckpointIO & { root: string };
  logEvery: number;
  /** 0: only at the end. */
  checkpointEvery: number;
  format(m: M): string;
}

/** Runs the loop; returns whether Ctrl-C stopped it and the exit code (1 after a failed step). */
export async function runCheckpointedLoop<M extends { step: number }>(run: SteppedRun<M>, o: LoopOptions<M>): Promise<{ interrupted: boolean; exitCode: number }> {
  let stopping = false;
  const onSigint = () => {
    if (stopping) {
      console.error('second Ctrl-C: exiting without a checkpoint');
      process.exit(130);
    }
    stopping = true;
    console.error('Ctrl-C: finishing the current step, then saving a checkpoint (Ctrl-C again to quit now)');
  };
  process.on('SIGINT', onSigint);
  let lastSaved = run.completedSteps;
  const save = async () => {
    const dir = await saveCheckpoint(o.out, await run.checkpoint());
    lastSaved = run.completedSteps;
    console.error(`checkpoint ${o.out.root}/${dir}`);
  };
  let exitCode = 0;
  try {
    while (!run.done && !stopping) {
      const m = await run.step();
      if (m.step % o.logEvery === 0 || run.done) console.error(o.format(m));
      if (o.checkpointEvery > 0 && run.completedSteps % o.checkpointEvery === 0 && !run.done) await save();
    }
  } catch (e) {
    console.error(`${o.name}: step ${run.completedSteps} failed: ${(e as Error).message}`);
    exitCode = 1;
  }
  if (run.completedSteps > lastSaved || run.completedSteps === 0) await save();
  process.off('SIGINT', onSigint);
  return { interrupted: stopping, exitCode };
}
