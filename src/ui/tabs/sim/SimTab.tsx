/**
 * Sim tab: pick suite, task, fixed initial state and perturbation axes (seeded); watch
 * the scripted expert, or a PRTS checkpoint's rollout (run in the GPU worker, then
 * replayed), in the three.js viewer with the policy cameras beside it; step and scrub
 * through the recorded episode; generate a dataset in the GPU worker.
 * State lives in the URL: #/sim?suite=&task=&state=&perturb=&seed= and, for a
 * checkpoint, &policy=&mode=&steps=&pseed=&exec= (policyParams.ts).
 */
import { useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { acquireDevice } from '../../../engine/device.ts';
import { CONTROL_HZ, getTask, INIT_STATES_PER_TASK, listSuites, MAX_INIT_STATES_PER_TASK, PERTURBATION_KINDS, type PerturbationKind } from '../../../sim/index.ts';
import type { Predicate, TaskSpec } from '../../../sim/tasks/spec.ts';
import { SimViewer } from '../../../sim/view/viewer.ts';
import { useDemoDefaults } from '../../lib/demoRun.ts';
import { useTabParams } from '../../lib/useRoute.ts';
import { decodeRollout, type RolloutResult } from '../../../train/rollout-record.ts';
import { GenPanel } from './GenPanel.tsx';
import { LiveEpisode, ReplayEpisode, type PlayableEpisode, type SimFrame } from './episode.ts';
import { PolicyPanel } from './PolicyPanel.tsx';
import { demoSimParams, parsePolicyParams, policyParamUpdates, rolloutMatches, type PolicySelection } from './policyParams.ts';
import { parseSimParams, simParamUpdates, type SimSelection } from './simParams.ts';
import { fitCamera, scenePoints } from './framing.ts';
import { achievedSpeed, frameBadges, speedNote } from './playback.ts';
import { useServiceJob, type ServiceJob } from './useJob.ts';

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
  // Entered with no choices: the shipped demo run on an episode it succeeded on.
  useDemoDefaults(params, demoSimParams);
  const suites = useMemo(() => listSuites(), []);
  const sel = parseSimParams(params, suites);
  const update = (s: Partial<SimSelection>) => setParams(simParamUpdates({ ...sel, ...s }));
  const tasks = suites.find((s) => s.suite === sel.suite)?.tasks ?? [];
  const spec = useMemo(() => (sel.task ? getTask(sel.task) : null), [sel.task]);
  const pol = parsePolicyParams(params);
  const setPol = (p: Partial<PolicySelection>) => setParams(policyParamUpdates({ ...pol, ...p }));
  // The rollout job lives here, not in PolicyPanel: the player below shows its result.
  const rollout = useServiceJob();

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
              <input id="sim-state" type="number" min={0} max={MAX_INIT_STATES_PER_TASK - 1} value={sel.state} onChange={(e) => update({ state: Math.max(0, Math.min(MAX_INIT_STATES_PER_TASK - 1, Math.round(Number(e.target.value) || 0))) })} data-testid="sim-state" />
              <span className="hint">{sel.state < INIT_STATES_PER_TASK ? `benchmark states 0–${INIT_STATES_PER_TASK - 1}, as in LIBERO` : `training-only state (${INIT_STATES_PER_TASK}–${MAX_INIT_STATES_PER_TASK - 1}), as npm run gen --first-state writes them`}</span>
            </div>
            <div className="form-section">perturbations</div>
            {PERTURBATION_KINDS.map((k) => (
              <PerturbToggle key={k} kind={k} on={sel.perturb.includes(k)} onChange={(on) => update({ perturb: on ? [...sel.perturb, k] : sel.perturb.filter((x) => x !== k) })} />
            ))}
            <label htmlFor="sim-seed">seed</label>
            <input id="sim-seed" type="number" min={0} value={sel.seed} disabled={!sel.perturb.length} onChange={(e) => update({ seed: Math.max(0, Math.round(Number(e.target.value) || 0)) })} data-testid="sim-seed" />
          </div>
        </div>
        <PolicyPanel sel={sel} pol={pol} setPol={setPol} job={rollout} />
        {spec && <TaskDetails s={spec} />}
      </div>
      <div>
        {sel.task && !pol.policy && (
          <Player
            key={`${sel.task}|${sel.state}|${sel.perturb.join(',')}|${sel.seed}`}
            title={sel.task}
            open={async () => LiveEpisode.create({ task: sel.task, state: sel.state, perturb: sel.perturb, seed: sel.seed }, await cameraDevice())}
          />
        )}
        {sel.task && pol.policy && <RolloutView job={rollout.job} sel={sel} pol={pol} />}
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

/** The last rollout's result, decoded, or why it cannot be shown. */
function RolloutView({ job, sel, pol }: { job: ServiceJob; sel: SimSelection; pol: PolicySelection }) {
  const decoded = useMemo((): { r: RolloutResult; error: null } | { r: null; error: string } | null => {
    if (job.state !== 'done' || job.result === null) return null;
    try {
      return { r: decodeRollout(job.result), error: null };
    } catch (e) {
      return { r: null, error: (e as Error).message };
    }
  }, [job.state, job.result]);
  if (decoded?.error) return <div className="panel"><p className="field-error" role="alert" data-testid="sim-error">{decoded.error}</p></div>;
  const r = decoded?.r;
  if (r && rolloutMatches(r, sel, pol)) {
    const outcome = (
      <span className={`tag ${r.success ? 'ok' : 'err'}`} data-testid="sim-outcome" data-success={String(r.success)}>
        {r.success ? `policy succeeded at step ${r.successStep}` : `policy failed: no success in ${r.steps} steps${r.steps >= r.maxSteps ? ' (step limit)' : ''}`}
      </span>
    );
    return (
      <Player key={job.id ?? 'rollout'} title={`${r.checkpoint} (${r.spec.mode})`} open={() => ReplayEpisode.create(r)} outcome={outcome}>
        <p className="hint mono" data-testid="sim-rollout-summary">
          {r.policy}: {r.actCalls} chunks of {r.chunkSize} (execute {r.executeSteps}){(r.spec.candidates ?? 1) > 1 && (r.spec.selectCalls === 0 ? `, the greedy first chunk, then the most coherent of ${r.spec.candidates} proposals (no critic)` : `, best of ${r.spec.candidates} by ${r.spec.critic ? `${r.spec.critic}'s` : 'its'} CRL value ${r.spec.selectCalls ? `on the first ${r.spec.selectCalls} re-plan(s)${r.spec.coherent ? ', then the most coherent proposal' : ''}` : 'at every re-plan'}`)}, seed {r.spec.seed}, final state {r.finalStateHash}
          {r.arFailures > 0 && <> · <span className="field-error">{r.arFailures} AR chunk(s) did not decode and ran as zero actions ({r.lastArFailure})</span></>}
        </p>
      </Player>
    );
  }
  return (
    <div className="panel" data-testid="sim-rollout-wait">
      <h2>{pol.policy}</h2>
      <p className="muted">
        {job.state === 'running' || job.state === 'starting' || job.state === 'paused'
          ? 'Rolling out in the GPU worker (progress in the Policy panel); the episode plays here when it is done.'
          : r ? 'The last rollout was of another checkpoint, scene or settings: roll out again to watch this one.'
          : 'Press "Roll out" in the Policy panel: the checkpoint runs in the GPU worker and the recorded episode plays here.'}
      </p>
    </div>
  );
}

const SPEEDS = [1, 2, 4, 8];

/**
 * The viewer, the policy camera images and the transport for one episode. A live
 * episode (the expert) grows as it plays; a recorded one (a rollout) has every frame
 * from the start and playing walks the cursor through them.
 */
function Player({ title, open, outcome, children }: { title: string; open(): Promise<PlayableEpisode>; outcome?: ReactNode; children?: ReactNode }) {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const imagesRef = useRef<HTMLDivElement>(null);
  const viewerRef = useRef<SimViewer | null>(null);
  const epRef = useRef<PlayableEpisode | null>(null);
  const cursorRef = useRef(0);
  const [error, setError] = useState<string | null>(null);
  const [ready, setReady] = useState(false);
  const [playing, setPlaying] = useState(false);
  const [cursor, setCursor] = useState(0);
  const [length, setLength] = useState(0);
  const [done, setDone] = useState(false);
  const [speed, setSpeed] = useState(2);
  const [instruction, setInstruction] = useState('');
  const [achieved, setAchieved] = useState<number | null>(null);

  useEffect(() => {
    let live = true;
    let ep: PlayableEpisode | null = null;
    let viewer: SimViewer | null = null;
    (async () => {
      ep = await open();
      if (!live) return ep.dispose();
      viewer = new SimViewer(canvasRef.current!, { imagePanel: imagesRef.current! });
      viewer.setWorld(ep.world);
      frameScene(viewer, ep);
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
    // The parent's key remounts the Player for a new episode; nothing else changes it.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const show = (i: number) => {
    const ep = epRef.current;
    const viewer = viewerRef.current;
    if (!ep || !viewer) return;
    const f = ep.showFrame(i);
    viewer.showImages([f.agentview, f.wrist], ep.imageSize, ep.imageSize);
    viewer.render();
    cursorRef.current = f.step;
    setCursor(f.step);
    setLength(ep.frames.length);
    setDone(ep.done);
  };

  /** One frame on: a live episode runs a control step, a recording moves the cursor. */
  const advanceOnce = async (): Promise<boolean> => {
    const ep = epRef.current;
    if (!ep) return false;
    if (!ep.live) {
      const next = Math.min(cursorRef.current + 1, ep.frames.length - 1);
      show(next);
      return next < ep.frames.length - 1;
    }
    const more = await ep.advance();
    show(ep.frames.length - 1);
    return more;
  };

  const play = async () => {
    const viewer = viewerRef.current;
    const ep = epRef.current;
    if (!viewer || !ep) return;
    if (ep.live && ep.done) return;
    // A recording played from its end starts over.
    if (!ep.live && cursorRef.current >= ep.frames.length - 1) show(0);
    setPlaying(true);
    setAchieved(null);
    const from = { at: performance.now(), step: cursorRef.current };
    const meter = setInterval(() => setAchieved(achievedSpeed(cursorRef.current - from.step, performance.now() - from.at, CONTROL_HZ)), 500);
    try {
      await viewer.play(advanceOnce, speed);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      clearInterval(meter);
      setPlaying(false);
      if (epRef.current?.live) show(epRef.current.frames.length - 1);
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
    if (target >= ep.frames.length && ep.live) await advanceOnce().catch((e: unknown) => setError(String(e)));
    else show(target);
  };

  const live = epRef.current?.live ?? true;
  const frame: SimFrame | undefined = epRef.current?.frames[cursor];
  const success = frame?.success ?? false;
  const atEnd = length > 0 && cursor >= length - 1;
  const size = epRef.current?.imageSize;
  const badges = frameBadges({ hasOutcome: !!outcome, success, done, atEnd });
  const note = speedNote(achieved, speed, live);
  return (
    <div className="panel" data-testid="sim-player" data-kind={live ? 'expert' : 'rollout'}>
      <div className="panel-head">
        <h2 data-testid="sim-instruction">{instruction || title}</h2>
        {outcome}
        {badges.success && <span className="tag ok" data-testid="sim-success">✓ success: goal holds</span>}
        {badges.failed && <span className="tag err" data-testid="sim-failed">✗ ended without success</span>}
      </div>
      {error && <p className="field-error" role="alert" data-testid="sim-error">{error}</p>}
      <div className="row" style={{ alignItems: 'flex-start' }}>
        <canvas ref={canvasRef} width={560} height={400} style={{ width: 560, height: 400, background: '#8c9eb3', borderRadius: 4 }} data-testid="sim-canvas" />
        <div>
          <div className="hint">{live ? 'agent view · wrist' : 'what the policy saw when it last planned: agent view · wrist'}{size ? ` (${size}×${size})` : ''}</div>
          <div ref={imagesRef} style={{ display: 'flex', flexDirection: 'column', gap: 4 }} data-testid="sim-images" />
        </div>
      </div>
      <div className="row" style={{ marginTop: 8 }}>
        {playing ? (
          <button type="button" onClick={pause} data-testid="sim-pause">Pause</button>
        ) : (
          <button type="button" onClick={() => void play()} disabled={!ready || (live ? done : length < 2)} data-testid="sim-play">{live ? 'Play expert' : 'Play rollout'}</button>
        )}
        <button type="button" onClick={() => void step(-1)} disabled={!ready || playing || cursor === 0} title="previous recorded step">◀</button>
        <button type="button" onClick={() => void step(1)} disabled={!ready || playing || (done && atEnd)} title={live ? 'next step (runs the expert past the end of the recording)' : 'next recorded step'} data-testid="sim-step">▶</button>
        <label>
          speed{' '}
          <select value={speed} onChange={(e) => setSpeed(Number(e.target.value))} disabled={playing}>
            {SPEEDS.map((s) => <option key={s} value={s}>{s}×</option>)}
          </select>
        </label>
        <input type="range" className="grow" min={0} max={Math.max(0, length - 1)} value={cursor} disabled={playing || length < 2} onChange={(e) => show(Number(e.target.value))} data-testid="sim-scrub" />
        <span className="mono" data-testid="sim-step-count">step {cursor}/{Math.max(0, length - 1)}</span>
      </div>
      {note && <p className={note.slow ? 'hint sim-slow' : 'hint'} style={note.slow ? { color: 'var(--warn)' } : undefined} data-testid="sim-speed">{note.text}</p>}
      <p data-testid="sim-phase" style={{ margin: '6px 0 0' }}>
        {frame?.phase ? <><span className="tag">{frame.phase}</span> {frame.description}</>
          : frame?.description ? <span className="mono">{frame.description}</span>
          : <span className="muted">{live ? 'initial state: press Play to run the scripted expert' : 'initial state: press Play to replay the rollout'}</span>}
      </p>
      {epRef.current?.perturbation && <p className="hint mono" data-testid="sim-perturbation">perturbation: {JSON.stringify(epRef.current.perturbation).slice(0, 300)}</p>}
      {children}
    </div>
  );
}

/** Points the viewer at the whole scene, keeping its default viewing direction. */
function frameScene(viewer: SimViewer, ep: PlayableEpisode): void {
  const cam = viewer.camera;
  const t = viewer.controls.target;
  const back: [number, number, number] = [cam.position.x - t.x, cam.position.y - t.y, cam.position.z - t.z];
  const fit = fitCamera(scenePoints(ep.world), back, cam.fov, cam.aspect);
  if (!fit) return;
  cam.position.set(...fit.position);
  viewer.controls.target.set(...fit.target);
  viewer.controls.update();
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
