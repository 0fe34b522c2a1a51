/**
 * The model + training config being edited. The draft is kept as the user typed it,
 * invalid values included, and persisted in localStorage on every change, so a reload
 * or a crash never loses an edit; validation runs on the draft (validateConfig).
 */
import { create } from 'zustand';
import { createJSONStorage, persist } from 'zustand/middleware';
import { configToJson, parseConfigJson, PRESETS, type FieldError, type PresetName } from '../../model/config.ts';
import { matchPreset } from '../lib/configDraft.ts';

export type Draft = Record<string, unknown>;

export interface ConfigState {
  draft: Draft;
  /** The preset the draft started from (shown in the editor, written to the URL). */
  preset: PresetName | 'custom';
  /** The field edited last, so a cross-field error can be shown under it (not persisted). */
  lastEdited: string | null;
  setField(path: string, value: unknown): void;
  loadPreset(name: PresetName): void;
  /** Replaces the draft with imported JSON; returns the errors (the draft is kept as imported when only fields fail). */
  importJson(text: string): FieldError[];
  exportJson(): string;
}

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** Sets `obj.a.b.c = value` on a copy, creating objects along the way. */
export function setPath(obj: Draft, path: string, value: unknown): Draft {
  const keys = path.split('.');
  const out = clone(obj);
  let cur: Record<string, unknown> = out;
  for (const k of keys.slice(0, -1)) {
    if (typeof cur[k] !== 'object' || cur[k] === null || Array.isArray(cur[k])) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[keys[keys.length - 1]] = value;
  return out;
}

export function getPath(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const k of path.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

export const useConfigStore = create<ConfigState>()(
  persist(
    (set, get) => ({
      draft: clone(PRESETS.tiny) as unknown as Draft,
      preset: 'tiny',
      lastEdited: null,
      setField(path, value) {
        const draft = setPath(get().draft, path, value);
        set({ draft, preset: matchPreset(draft, get().preset), lastEdited: path });
      },
      loadPreset(name) {
        set({ draft: clone(PRESETS[name]) as unknown as Draft, preset: name, lastEdited: null });
      },
      importJson(text) {
        const r = parseConfigJson(text);
        if (r.ok) {
          set({ draft: r.value as unknown as Draft, preset: matchPreset(r.value), lastEdited: null });
          return [];
        }
        // Keep a structurally usable import (an object) so the user can fix fields in the form.
        try {
          const raw = JSON.parse(text) as unknown;
          if (raw && typeof raw === 'object' && !Array.isArray(raw)) set({ draft: raw as Draft, preset: 'custom', lastEdited: null });
        } catch {
          // JSON syntax error: the draft stays as it was; the error is returned.
        }
        return r.errors;
      },
      exportJson() {
        return configToJson(get().draft as never);
      },
    }),
    {
      name: 'prts.config.v1',
      storage: createJSONStorage(() => localStorage),
      partialize: (s) => ({ draft: s.draft, preset: s.preset }),
    },
  ),
);
