/**
 * Teleop recording contract used by the bridge. The implementation that writes LeRobot
 * v3 episodes lives in server/robot/lerobot-recorder.ts.
 */
import type { CameraFrame, RobotState } from '../drivers/types.ts';

export interface RecordingStatus {
  dataset: string;
  task: string;
  frames: number;
}

export interface SavedEpisode {
  dataset: string;
  episodeIndex: number;
  frames: number;
  task: string;
}

export interface TeleopRecorder {
  readonly active: boolean;
  status(): RecordingStatus | null;
  start(dataset: string, task: string): Promise<void>;
  /** Called once per control step while active: observation after the step and the action that produced it. */
  addFrame(state: RobotState, action: number[], image: CameraFrame | null): void;
  /** Writes the episode atomically; it appears in the dataset only once complete. */
  stop(): Promise<SavedEpisode>;
  /** Drops the episode; nothing of it remains on disk. */
  discard(): Promise<void>;
  close(): Promise<void>;
}
