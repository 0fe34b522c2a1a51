/**
 * Sim tab: pick suite, task, fixed initial state and perturbation axes (seeded); watch
 * the scripted expert in the three.js viewer with the policy cameras beside it; step
 * and scrub through the recorded episode; generate a dataset in the GPU worker.
 * State lives in the URL: #/sim?suite=&task=&state=&perturb=&seed=.
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import { acquireDevice } from '../../../engine/device.ts';
import { getTask, INIT_STATES_PER_TASK, listSuites, PERTURBATION_KINDS, type PerturbationKind } from '../../../sim/index.ts';
import type { Predicate, TaskSpec } from '../../../sim/tasks/spec.ts';
import { SimViewer } from '../../../sim/view/viewer.ts';
import { useTabParams } from '../../lib/useRoute.ts';
import { GenPanel } from './GenPanel.tsx';
import { IMAGE_SIZE, LiveEpisode, type SimFrame } from './episode.ts';
import { parseSimParams, simParamUpdates, type SimSelection } from './simParams.ts';

function describePredicate(p: Predicate): string {
  return `${p.pred}(${p.args.join(', ')})`;
}

/** One device for the tab's cameras: acquiring one per episode would leak adapters. */
let deviceP: Promise<GPUDevice> | null = null;
function cameraDevice(): Promise<GPUDevice> {
  deviceP ??= acquireDevice().then((a) => a.device).catch((e: unknown) => {
    deviceP = null;
    throw e;
  });
  return deviceP;
}

export default function SimTab() {
  const [params, setParams] = useTabParams();
  const suites = useMemo(() => listSuites(), []);
  const sel = parseSimParams(params, suites);
  const update = (s: Partial<SimSelection>) => setParams(simParamUpdates({ ...sel, ...s }));
  const tasks = suites.find((s) => s.suite === sel.suite)?.tasks ?? [];
  const spec = useMemo(() => (sel.task ? getTask(sel.task) : null), [sel.task]);

  return (
    <div className="cols3" data-testid="sim-tab">
      <div>
        <div className="panel">
          <h2>Scene</h2>
          <div className="form">
            <label htmlFor="sim-suite">suite</label>
            <select id="sim-suite" value={sel.suite} onChange={(e) => update({ suite: e.target.value, task: '' })} data-testid="sim-suite">
              {suites.map((s) => <option key={s.suite} value={s.suite}>{s.suite} ({s.tasks.length})</option>)}
            </select>
            <label htmlFor="sim-task">task</label>
            <select id="sim-task" value={sel.task} onChange={(e) => update({ task: e.target.value })} data-testid="sim-task-select">
              {tasks.map((t) => <option key={t} value={t}>{t}</option>)}
            </select>
            <label htmlFor="sim-state">initial state</label>
            <div className="field">
              <input id="sim-state" type="number" min={0} max={INIT_STATES_PER_TASK - 1} value={sel.state} onChange={(e) => update({ state: Math.max(0, Math.min(INIT_STATES_PER_TASK - 1, Math.round(Number(e.target.value) || 0))) })} data-testid="sim-state" />
              <span className="hint">fixed states 0–{INIT_STATES_PER_TASK - 1}, as in LIBERO</span>
            </div>
            <div className="form-section">perturbations</div>
            {PERTURBATION_KINDS.map((k) => (
              <PerturbToggle key={k} kind={k} on={sel.perturb.includes(k)} onChange={(on) => update({ perturb: on ? [...sel.perturb, k] : sel.perturb.filter((x) => x !== k) })} />
            ))}
            <label htmlFor="sim-seed">seed</label>
            <input id="sim-seed" type="number" min={0} value={sel.seed} disabled={!sel.perturb.length} onChange={(e) => update({ seed: Math.max(0, Math.round(Number(e.target.value) || 0)) })} data-testid="sim-seed" />
          </div>
        </div>
        {spec && <TaskDetails s={spec} />}
      </div>
      <div>
        {sel.task && <Player key={`${sel.task}|${sel.state}|${sel.perturb.join(',')}|${sel.seed}`} sel={sel} />}
        <GenPanel sel={sel} />
      </div>
    </div>
  );
}

function PerturbToggle({ kind, on, onChange }: { kind: PerturbationKind; on: boolean; onChange(on: boolean): void }) {
  return (
    <>
      <label htmlFor={`pt-${kind}`}>{kind.replace(/_/g, ' ')}</label>
      <input id={`pt-${kind}`} type="checkbox" checked={on} onChange={(e) => onChange(e.target.checked)} data-testid={`sim-perturb-${kind}`} style={{ justifySelf: 'start' }} />
    </>
  );
}

const SPEEDS = [1, 2, 4, 8];

function Player({ sel }: { sel: SimSelection }) {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const imagesRef = useRef<HTMLDivElement>(null);
  const viewerRef = useRef<SimViewer | null>(null);
  const epRef = useRef<LiveEpisode | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [ready, setReady] = useState(false);
  const [playing, setPlaying] = useState(false);
  const [cursor, setCursor] = useState(0);
  const [length, setLength] = useState(0);
  const [done, setDone] = useState(false);
  const [speed, setSpeed] = useState(2);
  const [instruction, setInstruction] = useState('');

  useEffect(() => {
    let live = true;
    let ep: LiveEpisode | null = null;
    let viewer: SimViewer | null = null;
    (async () => {
      const device = await cameraDevice();
      ep = await LiveEpisode.create({ task: sel.task, state: sel.state, perturb: sel.perturb, seed: sel.seed }, device);
      if (!live) return ep.dispose();
      viewer = new SimViewer(canvasRef.current!, { imagePanel: imagesRef.current! });
      viewer.setWorld(ep.env.world);
      viewerRef.current = viewer;
      epRef.current = ep;
      setInstruction(ep.instruction);
      show(0);
      setReady(true);
    })().catch((e: unknown) => live && setError(e instanceof Error ? e.message : String(e)));
    return () => {
      live = false;
      viewer?.dispose();
      ep?.dispose();
      viewerRef.current = null;
      epRef.current = null;
    };
    // The key on <Player> remounts it for a new selection; nothing else changes the episode.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const show = (i: number) => {
    const ep = epRef.current;
    const viewer = viewerRef.current;
    if (!ep || !viewer) return;
    const f = ep.showFrame(i);
    viewer.showImages([f.agentview, f.wrist], IMAGE_SIZE, IMAGE_SIZE);
    viewer.render();
    setCursor(f.step);
    setLength(ep.frames.length);
    setDone(ep.done);
  };

  const advanceOnce = async (): Promise<boolean> => {
    const ep = epRef.current;
    if (!ep) return false;
    const more = await ep.advance();
    show(ep.frames.length - 1);
    return more;
  };

  const play = async () => {
    const viewer = viewerRef.current;
    const ep = epRef.current;
    if (!viewer || !ep || ep.done) return;
    setPlaying(true);
    try {
      await viewer.play(advanceOnce, speed);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setPlaying(false);
      if (epRef.current) show(epRef.current.frames.length - 1);
    }
  };

  const pause = () => {
    viewerRef.current?.stop();
    setPlaying(false);
  };

  const step = async (delta: number) => {
    const ep = epRef.current;
    if (!ep || playing) return;
    const target = cursor + delta;
    // Past the newest recorded frame a step runs the expert live.
    if (target >= ep.frames.length) await advanceOnce().catch((e: unknown) => setError(String(e)));
    else show(target);
  };

  const frame: SimFrame | undefined = epRef.current?.frames[cursor];
  const success = frame?.success ?? false;
  return (
    <div className="panel" data-testid="sim-player">
      <div className="panel-head">
        <h2 data-testid="sim-instruction">{instruction || sel.task}</h2>
        {success && <span className="tag ok" data-testid="sim-success">✓ success: goal holds</span>}
        {done && !success && <span className="tag err" data-testid="sim-failed">✗ ended without success</span>}
      </div>
      {error && <p className="field-error" role="alert" data-testid="sim-error">{error}</p>}
      <div className="row" style={{ alignItems: 'flex-start' }}>
        <canvas ref={canvasRef} width={560} height={400} style={{ width: 560, height: 400, background: '#8c9eb3', borderRadius: 4 }} data-testid="sim-canvas" />
        <div>
          <div className="hint">agent view · wrist ({IMAGE_SIZE}×{IMAGE_SIZE})</div>
          <div ref={imagesRef} style={{ display: 'flex', flexDirection: 'column', gap: 4 }} data-testid="sim-images" />
        </div>
      </div>
      <div className="row" style={{ marginTop: 8 }}>
        {playing ? (
          <button type="button" onClick={pause} data-testid="sim-pause">Pause</button>
        ) : (
          <button type="button" onClick={() => void play()} disabled={!ready || done} data-testid="sim-play">Play expert</button>
        )}
        <button type="button" onClick={() => void step(-1)} disabled={!ready || playing || cursor === 0} title="previous recorded step">◀</button>
        <button type="button" onClick={() => void step(1)} disabled={!ready || playing || (done && cursor >= length - 1)} title="next step (runs the expert past the end of the recording)" data-testid="sim-step">▶</button>
        <label>
          speed{' '}
          <select value={speed} onChange={(e) => setSpeed(Number(e.target.value))} disabled={playing}>
            {SPEEDS.map((s) => <option key={s} value={s}>{s}×</option>)}
          </select>
        </label>
        <input type="range" className="grow" min={0} max={Math.max(0, length - 1)} value={cursor} disabled={playing || length < 2} onChange={(e) => show(Number(e.target.value))} data-testid="sim-scrub" />
        <span className="mono" data-testid="sim-step-count">step {cursor}/{Math.max(0, length - 1)}</span>
      </div>
      <p data-testid="sim-phase" style={{ margin: '6px 0 0' }}>
        {frame?.phase ? <><span className="tag">{frame.phase}</span> {frame.description}</> : <span className="muted">initial state: press Play to run the scripted expert</span>}
      </p>
      {epRef.current?.perturbation && <p className="hint mono" data-testid="sim-perturbation">perturbation: {JSON.stringify(epRef.current.perturbation).slice(0, 300)}</p>}
    </div>
  );
}

function TaskDetails({ s }: { s: TaskSpec }) {
  return (
    <div className="panel" data-testid="sim-task">
      <h2>{s.instruction}</h2>
      <table className="kv">
        <tbody>
          <tr><th>id</th><td>{s.id}</td></tr>
          <tr><th>suite</th><td>{s.suite}</td></tr>
          <tr><th>step limit</th><td>{s.maxSteps} ({(s.maxSteps / 20).toFixed(0)} s at 20 Hz)</td></tr>
          <tr><th>objects</th><td>{s.objects.map((o) => o.name).join(', ')}</td></tr>
          <tr><th>fixtures</th><td>{s.fixtures.map((f) => f.name).join(', ') || '—'}</td></tr>
          <tr><th>goal</th><td>{s.goal.map(describePredicate).join(' ∧ ')}</td></tr>
        </tbody>
      </table>
    </div>
  );
}
