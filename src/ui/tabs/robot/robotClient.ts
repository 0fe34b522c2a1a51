/**
 * Browser client of the server's robot bridge (WebSocket /ws/robot, protocol in
 * docs/robot-protocol.md and server/robot/protocol.ts). It keeps no safety logic of its
 * own beyond sending heartbeats: the server enforces leases, the watchdog, the e-stop
 * and clamping; this client surfaces what the server says.
 */
import { create } from 'zustand';
import { appendNotice, type Notice } from './notices.ts';

export type { Notice } from './notices.ts';

export const SUBPROTOCOL = 'prts.v1';
export const TOKEN_PREFIX = 'prts-token.';
const CAMERA_MAGIC = 0x43545250;
const HEARTBEAT_MS = 100;

export interface Hello {
  connectionId: string;
  role: string;
  controller: string | null;
  robot: { name: string; driver: string; controlHz: number; jointNames: string[]; gripperRange: [number, number] };
  actionSpace: { ee_delta: { names: string[]; low: number[]; high: number[]; units: string } };
  cameras: { index: number; name: string; width: number; height: number; fps: number }[];
  rates: { telemetryHz: number; commandRateHz: number };
}

export interface Telemetry {
  seq: number;
  t: number;
  q: number[] | null;
  ee: { pos: number[]; quat: number[] } | null;
  gripper: number | null;
  moving: boolean;
  safety: { estop: boolean; estopBy: string | null; holding: boolean; holdReason: string | null; driverAvailable: boolean };
  lease: { holder: string | null; role: string | null };
  recording: { task?: string; frames?: number; dataset?: string } | null;
  clients: number;
}

export type ConnState = 'disconnected' | 'connecting' | 'connected' | 'closed';

export interface RobotState {
  conn: ConnState;
  closeReason: string | null;
  hello: Hello | null;
  telemetry: Telemetry | null;
  /** Latest camera frame as RGBA pixels. */
  frame: { width: number; height: number; rgba: Uint8ClampedArray; seq: number } | null;
  notices: Notice[];
  /** The most recent clamp report, shown next to the teleop controls. */
  lastClamp: string | null;
  recording: string | null;
}

export const useRobotStore = create<RobotState>(() => ({
  conn: 'disconnected',
  closeReason: null,
  hello: null,
  telemetry: null,
  frame: null,
  notices: [],
  lastClamp: null,
  recording: null,
}));

const notify = (level: Notice['level'], text: string) =>
  useRobotStore.setState((s) => ({ notices: appendNotice(s.notices, { at: Date.now(), level, text }) }));

/** Converts a PRTC binary frame to RGBA; returns null for anything else. */
export function decodeCamera(buf: ArrayBuffer): { width: number; height: number; rgba: Uint8ClampedArray; seq: number } | null {
  if (buf.byteLength < 24) return null;
  const dv = new DataView(buf);
  if (dv.getUint32(0, true) !== CAMERA_MAGIC || dv.getUint8(5) !== 1) return null;
  const width = dv.getUint16(8, true);
  const height = dv.getUint16(10, true);
  const rgb = new Uint8Array(buf, 24, Math.min(width * height * 3, buf.byteLength - 24));
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0, n = rgb.length / 3; i < n; i++) {
    rgba[4 * i] = rgb[3 * i];
    rgba[4 * i + 1] = rgb[3 * i + 1];
    rgba[4 * i + 2] = rgb[3 * i + 2];
    rgba[4 * i + 3] = 255;
  }
  return { width, height, rgba, seq: dv.getUint32(12, true) };
}

export class RobotClient {
  private ws: WebSocket | null = null;
  private seq = 1;
  private hb: ReturnType<typeof setInterval> | null = null;

  connect(token: string, url = defaultUrl()): void {
    this.disconnect();
    useRobotStore.setState({ conn: 'connecting', closeReason: null, hello: null, telemetry: null, frame: null });
    let ws: WebSocket;
    try {
      ws = new WebSocket(url, token ? [SUBPROTOCOL, TOKEN_PREFIX + token] : [SUBPROTOCOL]);
    } catch (e) {
      useRobotStore.setState({ conn: 'closed', closeReason: (e as Error).message });
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => {
      useRobotStore.setState({ conn: 'connected' });
      this.send({ op: 'subscribe', camera: true });
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data !== 'string') {
        const f = decodeCamera(ev.data as ArrayBuffer);
        if (f) useRobotStore.setState({ frame: f });
        return;
      }
      this.onMessage(JSON.parse(ev.data) as Record<string, unknown>);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.stopHeartbeat();
      this.ws = null;
      const reason =
        ev.code === 1000 ? 'closed' : ev.reason || (ev.code === 1006 ? 'connection refused or dropped (server down, wrong token or origin?)' : `code ${ev.code}`);
      useRobotStore.setState({ conn: 'closed', closeReason: reason });
    };
  }

  disconnect(): void {
    this.stopHeartbeat();
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, 'operator disconnected');
    useRobotStore.setState({ conn: 'disconnected' });
  }

  get connected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  send(msg: Record<string, unknown>): number {
    const seq = this.seq++;
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ ...msg, seq }));
    return seq;
  }

  estop(reason = 'operator e-stop'): void {
    this.send({ op: 'estop', reason });
  }

  requestLease(takeover = false): void {
    this.send({ op: takeover ? 'takeover' : 'lease_request' });
  }

  releaseLease(): void {
    this.send({ op: 'lease_release' });
  }

  eeDelta(delta: number[]): void {
    this.send({ op: 'ee_delta', delta });
  }

  private isController(): boolean {
    const s = useRobotStore.getState();
    return !!s.hello && s.telemetry?.lease.holder === s.hello.connectionId;
  }

  private startHeartbeat(): void {
    if (this.hb) return;
    // The server's watchdog holds the robot when heartbeats stop; keep them flowing while we hold the lease.
    this.hb = setInterval(() => {
      if (this.isController()) this.send({ op: 'heartbeat' });
    }, HEARTBEAT_MS);
  }

  private stopHeartbeat(): void {
    if (this.hb) clearInterval(this.hb);
    this.hb = null;
  }

  private onMessage(m: Record<string, unknown>): void {
    switch (m.type) {
      case 'hello':
        useRobotStore.setState({ hello: m as unknown as Hello });
        this.startHeartbeat();
        break;
      case 'telemetry':
        useRobotStore.setState({ telemetry: m as unknown as Telemetry });
        break;
      case 'ack': {
        // Noted so the error banner knows that errors from before the reset are settled.
        if (m.op === 'reset_scene') notify('info', 'scene reset');
        const clamps = m.clamps as { field: string; index: number; requested: number; applied: number; rule: string }[] | undefined;
        if (clamps?.length) {
          const text = clamps.map((c) => `${c.field}[${c.index}] ${c.requested.toFixed(4)} → ${c.applied.toFixed(4)} (${c.rule})`).join('; ');
          useRobotStore.setState({ lastClamp: text });
        }
        break;
      }
      case 'error':
        notify('error', `${m.code}${m.op ? ` (${m.op})` : ''}: ${m.message}`);
        break;
      case 'safety':
        notify(m.event === 'estop' || m.event === 'driver_unavailable' ? 'error' : 'warn', `safety: ${m.event}${m.reason ? ` — ${m.reason}` : ''}${m.by ? ` by ${m.by}` : ''}`);
        break;
      case 'lease':
        notify('info', `lease: ${m.holder ? `held by ${m.holder}` : 'free'} (${m.reason})`);
        break;
      case 'record':
        if (m.state === 'started') useRobotStore.setState({ recording: String(m.task ?? '') });
        else useRobotStore.setState({ recording: null });
        notify(m.state === 'failed' ? 'error' : 'info', `recording ${m.state}${m.dataset ? ` → ${m.dataset}` : ''}${m.message ? `: ${m.message}` : ''}`);
        break;
    }
  }
}

function defaultUrl(): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}/ws/robot`;
}

export const robotClient = new RobotClient();
