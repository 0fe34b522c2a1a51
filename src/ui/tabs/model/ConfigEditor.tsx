/** Form over the draft config: inline error per field, presets, import/export JSON. */
import { useState } from 'react';
import { FileButton } from '../../components/FileButton.tsx';
import { PRESET_NAMES, type FieldError, type PresetName } from '../../../model/config.ts';
import { getPath, useConfigStore } from '../../stores/config.ts';
import { checkboxValue, FIELD_GROUPS, formatValue, parseInput, type FieldDef } from './fields.ts';

export function ConfigEditor({ errors, onPreset }: { errors: FieldError[]; onPreset: (p: PresetName) => void }) {
  const draft = useConfigStore((s) => s.draft);
  const preset = useConfigStore((s) => s.preset);
  const setField = useConfigStore((s) => s.setField);
  const importJson = useConfigStore((s) => s.importJson);
  const exportJson = useConfigStore((s) => s.exportJson);
  const [importErrors, setImportErrors] = useState<FieldError[] | null>(null);

  const byPath = new Map<string, string[]>();
  for (const e of errors) byPath.set(e.path, [...(byPath.get(e.path) ?? []), e.message]);
  const known = new Set(FIELD_GROUPS.flatMap((g) => g.fields.map((f) => f.path)));
  // Errors with no input of their own (unknown keys, a missing section) are listed on top.
  const orphan = errors.filter((e) => !known.has(e.path));

  const doImport = async (file: File) => {
    const text = await file.text();
    const errs = importJson(text);
    setImportErrors(errs.length ? errs : null);
  };

  const doExport = () => {
    const text = exportJson();
    const name = typeof draft.name === 'string' && draft.name ? draft.name : 'config';
    const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `${name.replace(/[^A-Za-z0-9_.-]+/g, '_')}.json`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };

  return (
    <div className="panel" data-testid="config-editor">
      <div className="panel-head">
        <h2>Configuration</h2>
        <label>
          preset{' '}
          <select
            value={preset}
            data-testid="preset"
            onChange={(e) => e.target.value !== 'custom' && onPreset(e.target.value as PresetName)}
          >
            {preset === 'custom' && <option value="custom">custom (edited)</option>}
            {PRESET_NAMES.map((p) => (
              <option key={p} value={p}>{p}</option>
            ))}
          </select>
        </label>
        <FileButton label="Import JSON…" accept="application/json,.json" testId="import-file" onFiles={([f]) => void doImport(f)} />
        <button type="button" onClick={doExport} disabled={errors.length > 0} title={errors.length ? 'Fix the errors first' : 'Download as JSON'}>
          Export JSON
        </button>
      </div>
      {errors.length > 0 && (
        <p className="errors-summary" data-testid="error-summary">
          {errors.length} problem{errors.length > 1 ? 's' : ''}: {errors.map((e) => e.path).join(', ')}
        </p>
      )}
      {importErrors && (
        <div className="banner warn">
          Imported with problems (fix them below):
          <ul>{importErrors.map((e, i) => <li key={i}><code>{e.path}</code>: {e.message}</li>)}</ul>
        </div>
      )}
      {orphan.length > 0 && (
        <ul className="field-error" data-testid="orphan-errors">
          {orphan.map((e, i) => <li key={i}><code>{e.path}</code>: {e.message}</li>)}
        </ul>
      )}
      <div className="form">
        {FIELD_GROUPS.map((g) => (
          <FieldRows key={g.title} title={g.title} fields={g.fields} draft={draft} byPath={byPath} setField={setField} />
        ))}
      </div>
    </div>
  );
}

function FieldRows({ title, fields, draft, byPath, setField }: {
  title: string;
  fields: FieldDef[];
  draft: Record<string, unknown>;
  byPath: Map<string, string[]>;
  setField: (path: string, v: unknown) => void;
}) {
  return (
    <>
      <div className="form-section">{title}</div>
      {fields.map((f) => {
        const errs = byPath.get(f.path);
        const id = `cfg-${f.path}`;
        const value = getPath(draft, f.path);
        return (
          <div key={f.path} style={{ display: 'contents' }}>
            <label htmlFor={id}>{f.label}</label>
            <div className="field">
              {f.kind === 'select' ? (
                <select
                  id={id}
                  className={errs ? 'invalid' : ''}
                  value={formatValue(f.kind, value)}
                  data-testid={id}
                  onChange={(e) => setField(f.path, parseInput(f.kind, e.target.value))}
                >
                  {!f.options?.includes(value as number) && <option value={formatValue(f.kind, value)}>{formatValue(f.kind, value) || '—'}</option>}
                  {f.options?.map((o) => <option key={o} value={o}>{o}</option>)}
                </select>
              ) : f.kind === 'bool' ? (
                <input
                  id={id}
                  type="checkbox"
                  className={errs ? 'invalid' : ''}
                  checked={value === true}
                  data-testid={id}
                  onChange={(e) => setField(f.path, checkboxValue(e.target.checked))}
                />
              ) : (
                <TextInput id={id} def={f} value={value} invalid={!!errs} onChange={(v) => setField(f.path, v)} />
              )}
              {errs?.map((m, i) => (
                <span key={i} className="field-error" data-testid={`err-${f.path}`}>{m}</span>
              ))}
              {!errs && f.hint && <span className="hint">{f.hint}</span>}
            </div>
          </div>
        );
      })}
    </>
  );
}

/**
 * Text input that keeps exactly what the user typed while focused ("1e-" on the way
 * to "1e-4", "agentview, " before the next camera) and writes the parsed value through.
 */
function TextInput({ id, def, value, invalid, onChange }: { id: string; def: FieldDef; value: unknown; invalid: boolean; onChange: (v: unknown) => void }) {
  const [local, setLocal] = useState<string | null>(null);
  return (
    <input
      id={id}
      data-testid={id}
      className={invalid ? 'invalid' : ''}
      inputMode={def.kind === 'int' ? 'numeric' : def.kind === 'number' ? 'decimal' : undefined}
      value={local ?? formatValue(def.kind, value)}
      onFocus={() => setLocal(formatValue(def.kind, value))}
      onBlur={() => setLocal(null)}
      onChange={(e) => {
        setLocal(e.target.value);
        onChange(parseInput(def.kind, e.target.value));
      }}
      spellCheck={false}
    />
  );
}
