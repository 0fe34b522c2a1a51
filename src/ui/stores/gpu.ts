/** GPU worker state as the UI sees it: adapter info, worker health, crash history. Not persisted. */
import { create } from 'zustand';
import type { DeviceInfo } from '../../engine/device.ts';

export type GpuStatus = 'starting' | 'ready' | 'unavailable' | 'error' | 'restarting';

export interface CrashRecord {
  at: number;
  message: string;
}

export interface GpuState {
  status: GpuStatus;
  info: DeviceInfo | null;
  error: string | null;
  restarts: number;
  crashes: CrashRecord[];
}

export const useGpuStore = create<GpuState>(() => ({
  status: 'starting',
  info: null,
  error: null,
  restarts: 0,
  crashes: [],
}));
