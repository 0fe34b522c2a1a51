/**
 * Robot tab: connect to the server's bridge with the token (URL `token` or the field),
 * take the lease, drive with keyboard or gamepad, e-stop (button, Space, Esc), watch
 * telemetry and the camera, see clamps and safety events, record episodes.
 */
import { useEffect, useRef, useState } from 'react';
import { useTabParams } from '../../lib/useRoute.ts';
import { formatNumber } from '../../lib/format.ts';
import { useSessionStore } from '../../stores/session.ts';
import { robotClient, useRobotStore } from './robotClient.ts';
import { deltaFromAxes, GRIPPER_CLOSE, GRIPPER_OPEN, teleopAxes, teleopTick } from './teleop.ts';
import { bannerError, disconnectedHint, noticeLine } from './notices.ts';
import { useServerStore } from '../../stores/server.ts';

export default function RobotTab() {
  const [params, setParams] = useTabParams();
  const session = useSessionStore();
  const [token, setToken] = useState(params.token ?? session.token);
  const st = useRobotStore();
  const [speed, setSpeed] = useState(0.5);
  const [task, setTask] = useState('pick up the red block');
  const held = useRef(new Set<string>());
  const gripper = useRef<number | null>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const [padName, setPadName] = useState<string | null>(null);

  const me = st.hello?.connectionId;
  const holder = st.telemetry?.lease.holder ?? st.hello?.controller ?? null;
  const isController = !!me && holder === me;
  const estopped = st.telemetry?.safety.estop ?? false;

  useEffect(() => () => robotClient.disconnect(), []);

  // E-stop keys work anywhere on the tab; motion keys only when no text field has focus.
  useEffect(() => {
    const down = (e: KeyboardEvent) => {
      const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement;
      if (e.code === 'Escape' || (e.code === 'Space' && !typing)) {
        e.preventDefault();
        robotClient.estop(`operator key ${e.code}`);
        return;
      }
      if (!typing) held.current.add(e.code);
    };
    const up = (e: KeyboardEvent) => held.current.delete(e.code);
    const blur = () => held.current.clear();
    window.addEventListener('keydown', down);
    window.addEventListener('keyup', up);
    window.addEventListener('blur', blur);
    return () => {
      window.removeEventListener('keydown', down);
      window.removeEventListener('keyup', up);
      window.removeEventListener('blur', blur);
    };
  }, []);

  // Control loop at the robot's rate while we hold the lease.
  useEffect(() => {
    if (!isController || !st.hello) return;
    const hz = st.hello.robot.controlHz || 20;
    const high = st.hello.actionSpace.ee_delta.high;
    const [gLo, gHi] = st.hello.robot.gripperRange;
    const id = setInterval(() => {
      const pads = navigator.getGamepads?.() ?? [];
      const pad = pads.find((p) => p && p.connected) ?? null;
      setPadName(pad ? pad.id : null);
      const axes = teleopAxes(held.current, pad);
      const tel = useRobotStore.getState().telemetry;
      gripper.current ??= tel?.gripper ?? gLo;
      const next = teleopTick({
        axes,
        gripper: gripper.current,
        closing: held.current.has(GRIPPER_CLOSE) || (pad?.buttons[7]?.pressed ?? false),
        opening: held.current.has(GRIPPER_OPEN) || (pad?.buttons[6]?.pressed ?? false),
        gripperRange: [gLo, gHi],
        hz,
        estopped: tel?.safety.estop ?? false,
      });
      gripper.current = next.gripper;
      if (next.send) robotClient.eeDelta(deltaFromAxes(axes, high, speed, next.gripper));
    }, 1000 / hz);
    return () => clearInterval(id);
  }, [isController, st.hello, speed]);

  useEffect(() => {
    const f = st.frame;
    const c = canvas.current;
    if (!f || !c) return;
    c.width = f.width;
    c.height = f.height;
    c.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(f.rgba), f.width, f.height), 0, 0);
  }, [st.frame]);

  const connect = () => {
    // A token from a link stays in the link (it was shared that way); a typed one goes to
    // the session only, so it does not end up in the address bar or history.
    if (params.token !== undefined) setParams({ token: token || null });
    session.setToken(token);
    robotClient.connect(token);
  };
  const tel = st.telemetry;
  const lastError = bannerError(st.notices, Date.now(), estopped);
  const serverState = useServerStore((s) => s.state);

  return (
    <div className="cols3">
      <div>
        <div className="panel">
          <h2>Connection</h2>
          <div className="row">
            <input type="password" placeholder="token (printed by npm start)" value={token} onChange={(e) => setToken(e.target.value)} data-testid="robot-token" className="grow" />
            {st.conn === 'connected' ? (
              <button type="button" onClick={() => robotClient.disconnect()}>Disconnect</button>
            ) : (
              <button type="button" className="primary" onClick={connect} data-testid="robot-connect" disabled={st.conn === 'connecting'}>Connect</button>
            )}
          </div>
          <p data-testid="robot-conn">
            <span className={`tag ${st.conn === 'connected' ? 'ok' : st.conn === 'closed' ? 'err' : ''}`}>{st.conn}</span>{' '}
            {st.conn === 'closed' && st.closeReason}
            {st.hello && <> {st.hello.robot.name} ({st.hello.robot.driver}) as {st.hello.role}</>}
          </p>
          {st.hello && (
            <div className="row">
              <span data-testid="lease-state">lease: {holder ? (isController ? <b>you</b> : holder) : 'free'}</span>
              <button type="button" onClick={() => robotClient.requestLease()} disabled={isController} data-testid="lease-request">Take lease</button>
              <button type="button" onClick={() => robotClient.requestLease(true)} disabled={isController || !holder}>Take over</button>
              <button type="button" onClick={() => robotClient.releaseLease()} disabled={!isController}>Release</button>
            </div>
          )}
        </div>
        <div className="panel" style={{ textAlign: 'center' }}>
          <button type="button" className={`estop ${estopped ? 'latched' : ''}`} onClick={() => robotClient.estop('operator button')} disabled={st.conn !== 'connected'} data-testid="estop">
            {estopped ? 'E-STOPPED' : 'STOP'}
          </button>
          <p className="hint">Space or Esc also stops. The stop latches on the server until reset.</p>
          <button type="button" disabled={!estopped || !isController} onClick={() => robotClient.send({ op: 'reset_estop' })} data-testid="estop-reset">Reset e-stop</button>
        </div>
        <div className="panel">
          <h2>Teleop</h2>
          <p className="hint">W/S x, A/D y, R/F z, J/L roll, I/K pitch, Q/E yaw, G close / H open gripper. Gamepad: sticks move, triggers grip.{padName ? ` Gamepad: ${padName}` : ''}</p>
          <label>speed <input type="range" min={0.05} max={1} step={0.05} value={speed} onChange={(e) => setSpeed(Number(e.target.value))} /> {(speed * 100).toFixed(0)}% of the per-step limit</label>
          {!isController && st.conn === 'connected' && <p className="muted">Take the lease to drive.</p>}
          <div className="row" style={{ marginTop: 6 }}>
            <button type="button" disabled={!isController} onClick={() => robotClient.send({ op: 'reset_scene' })}>Reset scene</button>
          </div>
          <h3>Record</h3>
          <div className="row">
            <input value={task} onChange={(e) => setTask(e.target.value)} className="grow" placeholder="task instruction" />
            {st.recording === null ? (
              <button type="button" disabled={!isController || !task.trim()} onClick={() => robotClient.send({ op: 'record_start', task: task.trim() })} data-testid="record-start">Record</button>
            ) : (
              <>
                <button type="button" className="primary" onClick={() => robotClient.send({ op: 'record_stop' })} data-testid="record-save">Save</button>
                <button type="button" onClick={() => robotClient.send({ op: 'record_discard' })}>Discard</button>
              </>
            )}
          </div>
          {tel?.recording && <p className="mono">recording "{tel.recording.task}" — {tel.recording.frames ?? 0} frames</p>}
        </div>
      </div>
      <div>
        {estopped && <div className="banner err" data-testid="estop-banner">E-STOP LATCHED{tel?.safety.estopBy ? ` by ${tel.safety.estopBy}` : ''}. The robot is held; reset the e-stop to move again.</div>}
        {tel?.safety.holding && !estopped && tel.safety.holdReason && <div className="banner warn">Robot holding: {tel.safety.holdReason}</div>}
        {lastError && <div className="banner err" data-testid="robot-error">{noticeLine(lastError)}</div>}
        {st.lastClamp && <div className="banner warn" data-testid="clamp">Clamped by the server: {st.lastClamp}</div>}
        <div className="panel">
          <h2>Telemetry</h2>
          {tel ? (
            <div className="row" style={{ alignItems: 'flex-start' }}>
              <table className="kv" data-testid="telemetry">
                <tbody>
                  <tr><th>ee position</th><td>{tel.ee ? tel.ee.pos.map((v) => formatNumber(v, 4)).join(', ') : '—'}</td></tr>
                  <tr><th>gripper</th><td>{formatNumber(tel.gripper ?? undefined, 3)}</td></tr>
                  <tr><th>moving</th><td>{String(tel.moving)}</td></tr>
                  <tr><th>joints</th><td>{tel.q?.map((v) => v.toFixed(3)).join(', ') ?? '—'}</td></tr>
                  <tr><th>driver</th><td>{tel.safety.driverAvailable ? 'available' : 'unavailable'}</td></tr>
                  <tr><th>clients</th><td>{tel.clients}</td></tr>
                  <tr><th>seq / t</th><td>{tel.seq} / {(tel.t / 1000).toFixed(1)} s</td></tr>
                </tbody>
              </table>
              <canvas ref={canvas} className="mask" style={{ width: 320, display: st.frame ? 'block' : 'none' }} data-testid="robot-camera" />
            </div>
          ) : (
            <p className="muted">{st.conn === 'connected' ? 'Waiting for telemetry…' : disconnectedHint(serverState)}</p>
          )}
        </div>
        <div className="panel">
          <h2>Events</h2>
          <div className="log" data-testid="robot-events">
            {st.notices.slice().reverse().map((n, i) => (
              <div key={i} style={{ color: n.level === 'error' ? 'var(--err)' : n.level === 'warn' ? 'var(--warn)' : undefined }}>
                {new Date(n.at).toLocaleTimeString()} {noticeLine(n)}
              </div>
            ))}
          </div>
        </div>
      </div>
    </div>
  );
}
