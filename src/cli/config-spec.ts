/**
 * `--config <file|preset>` for the CLIs: a preset name (tiny, small, base, cpu) or a JSON
 * file, validated; a bad file is reported with every invalid field. Node-only.
 */
import { readFileSync } from 'node:fs';
import { isPresetName, parseConfigJson, PRESETS, type WorkbenchConfig } from '../model/config.ts';

export function readConfigSpec(spec: string, fail: (message: string) => never, option = '--config'): WorkbenchConfig {
  if (isPresetName(spec)) return PRESETS[spec];
  let text: string;
  try {
    text = readFileSync(spec, 'utf8');
  } catch (e) {
    fail(`cannot read ${option} ${spec}: ${(e as Error).message}`);
  }
  const r = parseConfigJson(text);
  if (!r.ok) fail(`${option} ${spec} is invalid:\n${r.errors.map((e) => `  ${e.path}: ${e.message}`).join('\n')}`);
  return r.value;
}
