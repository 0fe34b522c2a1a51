/**
 * Teleop episodes as LeRobotDataset v3.0, through src/data's LeRobotWriter (the same
 * writer the simulation's dataset generator uses). The writer keeps an episode's frames
 * in memory until saveEpisode, then writes data, episode metadata and finally
 * meta/info.json, each file atomically (temp, fsync, rename). So:
 * - a discarded episode never touches the disk;
 * - a process killed mid-save leaves at most temp files and files that info.json does
 *   not count, which the reader ignores and the next open sweeps: the episode never
 *   appears complete.
 *
 * Features: observation.state = joints + gripper, observation.ee_pose = position +
 * quaternion (w, x, y, z), action = the clamped 7-D EE delta that was applied, and the
 * camera image when the driver can render one every control step.
 */
import { join } from 'node:path';
import { LeRobotWriter, type Features, type WritableDatasetIO } from '../../src/data/index.ts';
import { nodeIO } from '../../src/data/io-node.ts';
import type { CameraFrame, RobotInfo, RobotState } from '../drivers/types.ts';
import type { RecordingStatus, SavedEpisode, TeleopRecorder } from './recorder.ts';

export interface LeRobotRecorderOptions {
  /** Dataset IO factory (tests inject failing IO to simulate a crash mid-write). */
  io?: (dir: string) => WritableDatasetIO;
  /** Longest episode in frames; a runaway recording stops growing memory here. */
  maxFrames?: number;
  /** Why recording into a dataset is refused (a built-in one), or null when it may be written. */
  refuse?: (dataset: string) => Promise<string | null>;
}

export class LeRobotRecorder implements TeleopRecorder {
  private readonly writers = new Map<string, LeRobotWriter>();
  private current: { dataset: string; task: string; writer: LeRobotWriter; frames: number; error: Error | null } | null = null;
  private readonly features: Features;
  private readonly cameraKey: string | null;

  constructor(private readonly dataDir: string, private readonly info: RobotInfo, private readonly opts: LeRobotRecorderOptions = {}) {
    const cam = info.cameras[0];
    this.cameraKey = cam?.everyStep ? `observation.images.${cam.name}` : null;
    this.features = {
      'observation.state': { dtype: 'float32', shape: [info.jointNames.length + 1], names: [...info.jointNames, 'gripper'] },
      'observation.ee_pose': { dtype: 'float32', shape: [7], names: ['x', 'y', 'z', 'qw', 'qx', 'qy', 'qz'] },
      action: { dtype: 'float32', shape: [7], names: info.eeActionNames },
      ...(cam && this.cameraKey ? { [this.cameraKey]: { dtype: 'image', shape: [cam.height, cam.width, 3], names: ['height', 'width', 'channels'] } } : {}),
    } as Features;
  }

  get active(): boolean {
    return this.current !== null;
  }

  status(): RecordingStatus | null {
    return this.current ? { dataset: this.current.dataset, task: this.current.task, frames: this.current.frames } : null;
  }

  private async writer(dataset: string): Promise<LeRobotWriter> {
    let w = this.writers.get(dataset);
    if (!w) {
      const io = (this.opts.io ?? nodeIO)(join(this.dataDir, dataset));
      await io.mkdirp('');
      w = await LeRobotWriter.openOrCreate(io, { repoId: `local/${dataset}`, fps: this.info.controlHz, robotType: this.info.name, features: this.features });
      this.writers.set(dataset, w);
    }
    return w;
  }

  async start(dataset: string, task: string): Promise<void> {
    if (this.current) throw new Error('a recording is already running');
    const refused = await this.opts.refuse?.(dataset);
    if (refused) throw new Error(refused);
    const writer = await this.writer(dataset);
    if (writer.pendingFrames > 0) writer.discardEpisode();
    this.current = { dataset, task, writer, frames: 0, error: null };
  }

  addFrame(state: RobotState, action: number[], image: CameraFrame | null): void {
    const c = this.current;
    if (!c || c.error) return;
    if (c.frames >= (this.opts.maxFrames ?? 20 * 60 * 10)) {
      c.error = new Error(`episode longer than ${this.opts.maxFrames ?? 12000} frames; stop or discard it`);
      return;
    }
    const frame: Record<string, unknown> = {
      'observation.state': [...state.q, state.gripper],
      'observation.ee_pose': [...state.eePos, ...state.eeQuat],
      action,
    };
    if (this.cameraKey) {
      if (!image) {
        c.error = new Error('the camera produced no image for a frame');
        return;
      }
      frame[this.cameraKey] = { width: image.width, height: image.height, channels: 3, data: image.rgb };
    }
    try {
      c.writer.addFrame(frame as never);
      c.frames++;
    } catch (e) {
      // Remember the first problem; stop() reports it instead of saving a damaged episode.
      c.error = e as Error;
    }
  }

  async stop(): Promise<SavedEpisode> {
    const c = this.current;
    if (!c) throw new Error('no recording is running');
    this.current = null;
    if (c.error) {
      c.writer.discardEpisode();
      throw new Error(`episode discarded: ${c.error.message}`);
    }
    if (c.frames === 0) {
      c.writer.discardEpisode();
      throw new Error('episode discarded: no frames were recorded (is the robot stepping?)');
    }
    try {
      const ep = await c.writer.saveEpisode({ task: c.task, meta: { source: 'teleop', robot: this.info.name, driver: this.info.driver } });
      return { dataset: c.dataset, episodeIndex: ep.index, frames: ep.length, task: c.task };
    } catch (e) {
      // A failed write leaves the writer unusable; the next recording reopens the dataset,
      // which sweeps what this one left behind.
      this.writers.delete(c.dataset);
      throw e;
    }
  }

  async discard(): Promise<void> {
    const c = this.current;
    this.current = null;
    c?.writer.discardEpisode();
  }

  async close(): Promise<void> {
    await this.discard();
    for (const w of this.writers.values()) await w.finalize().catch(() => undefined);
    this.writers.clear();
  }
}
