/** Model tab: config editor with validation, size estimates, and the mask/block-map visualizer. */
import { useEffect, useMemo } from 'react';
import { isPresetName, sequenceLayout, validateConfig, type PresetName } from '../../../model/config.ts';
import { useConfigStore } from '../../stores/config.ts';
import { placeErrors } from '../../lib/configDraft.ts';
import { useTabParams } from '../../lib/useRoute.ts';
import { ConfigEditor } from './ConfigEditor.tsx';
import { Estimates } from './Estimates.tsx';
import { MaskView } from './MaskView.tsx';
import { runsFromSequence } from './layout.ts';

export default function ModelTab() {
  const [params, setParams] = useTabParams();
  const draft = useConfigStore((s) => s.draft);
  const preset = useConfigStore((s) => s.preset);
  const loadPreset = useConfigStore((s) => s.loadPreset);
  const lastEdited = useConfigStore((s) => s.lastEdited);
  const result = useMemo(() => validateConfig(draft), [draft]);

  // A shared link names a preset: open it (unless the draft already is that preset).
  const urlPreset = params.preset;
  useEffect(() => {
    if (urlPreset && isPresetName(urlPreset) && urlPreset !== preset) loadPreset(urlPreset);
    // Only when the link changes, not when the user edits (which sets preset to custom).
  }, [urlPreset]);

  const onPreset = (p: PresetName) => {
    loadPreset(p);
    setParams({ preset: p });
  };
  // Editing leaves the preset; the URL must not claim a preset the draft no longer is.
  useEffect(() => {
    if (preset === 'custom' && params.preset) setParams({ preset: null });
  }, [preset, params.preset, setParams]);

  const cfg = result.ok ? result.value : null;
  return (
    <div className="cols">
      <ConfigEditor errors={result.ok ? [] : placeErrors(result.errors, lastEdited)} onPreset={onPreset} />
      <div>
        <MaskView configTile={cfg?.model.attnTile ?? 32} configRuns={cfg ? runsFromSequence(sequenceLayout(cfg.model)) : null} />
        {cfg ? (
          <Estimates config={cfg} />
        ) : (
          <div className="panel"><h2>Size</h2><p className="muted">Fix the configuration errors to see the estimates.</p></div>
        )}
      </div>
    </div>
  );
}
