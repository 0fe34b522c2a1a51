/** Job parameters of the Train tab, persisted so a reload keeps what was set up. */
import { create } from 'zustand';
import { createJSONStorage, persist } from 'zustand/middleware';
import type { JobParams } from '../../../worker/protocol.ts';
import { DEFAULT_PRTS, type PosttrainSettings, type PretrainSettings, type PrtsSettings } from '../tabs/train/prtsJobs.ts';

export type CpuMlpSettings = Omit<JobParams['cpu-mlp'], 'init'>;

export const DEFAULT_CPU_MLP: CpuMlpSettings = { hidden: 64, steps: 20000, batchSize: 64, lr: 0.005, seed: 1, checkpointEvery: 5000 };

export interface TrainSettings {
  cpuMlp: CpuMlpSettings;
  tinycheckCheckpointEvery: number;
  /** The PRTS pre-/post-training forms (src/ui/tabs/train/prtsJobs.ts). */
  prts: PrtsSettings;
  setCpuMlp(p: Partial<CpuMlpSettings>): void;
  setTinycheckCheckpointEvery(n: number): void;
  setPretrain(p: Partial<PretrainSettings>): void;
  setPosttrain(p: Partial<PosttrainSettings>): void;
  setRunCheckpointEvery(n: number): void;
}

export const useTrainSettings = create<TrainSettings>()(
  persist(
    (set, get) => ({
      cpuMlp: DEFAULT_CPU_MLP,
      tinycheckCheckpointEvery: 50,
      setCpuMlp: (p) => set({ cpuMlp: { ...get().cpuMlp, ...p } }),
      setTinycheckCheckpointEvery: (n) => set({ tinycheckCheckpointEvery: n }),
      prts: DEFAULT_PRTS,
      setPretrain: (p) => set({ prts: { ...get().prts, pretrain: { ...get().prts.pretrain, ...p } } }),
      setPosttrain: (p) => set({ prts: { ...get().prts, posttrain: { ...get().prts.posttrain, ...p } } }),
      setRunCheckpointEvery: (n) => set({ prts: { ...get().prts, checkpointEvery: n } }),
    }),
    {
      name: 'prts.train-settings.v1',
      storage: createJSONStorage(() => localStorage),
      partialize: (s) => ({ cpuMlp: s.cpuMlp, tinycheckCheckpointEvery: s.tinycheckCheckpointEvery, prts: s.prts }),
      // Settings saved before a field existed keep the field's default.
      merge: (saved, current) => {
        const p = (saved ?? {}) as Partial<TrainSettings>;
        const prts = p.prts ? { ...DEFAULT_PRTS, ...p.prts, pretrain: { ...DEFAULT_PRTS.pretrain, ...p.prts.pretrain }, posttrain: { ...DEFAULT_PRTS.posttrain, ...p.prts.posttrain } } : current.prts;
        return { ...current, ...p, prts };
      },
    },
  ),
);

/** Validation of the CPU MLP form; messages name the field. */
export function cpuMlpErrors(p: CpuMlpSettings): Partial<Record<keyof CpuMlpSettings, string>> {
  const e: Partial<Record<keyof CpuMlpSettings, string>> = {};
  const int = (k: keyof CpuMlpSettings, lo: number, hi: number) => {
    const v = p[k];
    if (!Number.isInteger(v) || v < lo || v > hi) e[k] = `${k} must be a whole number in [${lo}, ${hi}]`;
  };
  int('hidden', 1, 1024);
  int('steps', 1, 1_000_000);
  int('batchSize', 1, 4096);
  int('seed', 0, 0xffffffff);
  int('checkpointEvery', 0, 1_000_000);
  if (!(Number.isFinite(p.lr) && p.lr > 0 && p.lr <= 1)) e.lr = 'lr must be in (0, 1]';
  return e;
}
