/** Shared helpers for the server tests: a server on an ephemeral loopback port and a small WS client. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startServer, type RunningServer } from '../../../server/app.ts';
import { parseConfig, type ConfigInput } from '../../../server/config.ts';
import { KinematicDriver, type KinematicOptions } from '../../../server/drivers/kinematic.ts';
import type { TeleopRecorder } from '../../../server/robot/recorder.ts';

export type Msg = Record<string, any>;

export interface TestServer extends RunningServer {
  kin: KinematicDriver;
  dataDir: string;
  cleanup(): Promise<void>;
}

export async function startTestServer(
  config: ConfigInput = {},
  kinOpts: KinematicOptions = {},
  recorder: TeleopRecorder | null = null,
): Promise<TestServer> {
  const full: ConfigInput = { host: '127.0.0.1', port: 0, robot: 'kinematic', ...config };
  full.dataDir ??= mkdtempSync(join(tmpdir(), 'prts-server-test-'));
  // Built-in datasets: an empty temp directory, not the repository's public/demo/datasets,
  // so a test lists exactly the datasets it made.
  const ownBuiltin = full.builtinDatasetsDir === undefined;
  full.builtinDatasetsDir ??= mkdtempSync(join(tmpdir(), 'prts-server-builtin-'));
  const { dataDir, builtinDatasetsDir: builtinDir } = full;
  const parsed = parseConfig(full);
  const kin = new KinematicDriver(parsed.safety, { trace: true, ...kinOpts });
  const srv = await startServer({ config: full, driver: kin, recorder });
  return {
    ...srv,
    kin,
    dataDir,
    async cleanup() {
      await srv.close();
      rmSync(dataDir, { recursive: true, force: true });
      if (ownBuiltin) rmSync(builtinDir, { recursive: true, force: true });
    },
  };
}

export interface ClientOptions {
  token?: string | null;
  origin?: string;
  via?: 'header' | 'subprotocol' | 'query';
}

export class Client {
  readonly messages: Msg[] = [];
  readonly binary: Buffer[] = [];
  private waiters: { pred: (m: Msg) => boolean; resolve: (m: Msg) => void }[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  hello!: Msg;

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((res) => ws.on('close', (code, reason) => res({ code, reason: reason.toString() })));
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        this.binary.push(data as Buffer);
        return;
      }
      const m = JSON.parse(data.toString()) as Msg;
      this.messages.push(m);
      this.waiters = this.waiters.filter((w) => {
        if (w.pred(m)) {
          w.resolve(m);
          return false;
        }
        return true;
      });
    });
  }

  static connect(srv: RunningServer, o: ClientOptions = {}): Promise<Client> {
    const token = o.token === undefined ? srv.token : o.token;
    const headers: Record<string, string> = {};
    if (o.origin) headers.origin = o.origin;
    let url = srv.wsUrl;
    const protocols = ['prts.v1'];
    const via = o.via ?? 'header';
    if (token !== null) {
      if (via === 'header') headers.authorization = `Bearer ${token}`;
      else if (via === 'subprotocol') protocols.push(`prts-token.${token}`);
      else url += `?token=${encodeURIComponent(token)}`;
    }
    const ws = new WebSocket(url, protocols, { headers });
    const c = new Client(ws);
    return new Promise((resolve, reject) => {
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode, body })));
      });
      ws.once('error', reject);
      c.waitFor((m) => m.type === 'hello', 5000).then((h) => {
        c.hello = h;
        resolve(c);
      }, reject);
    });
  }

  send(obj: unknown): void {
    this.ws.send(JSON.stringify(obj));
  }

  sendRaw(data: string | Buffer): void {
    this.ws.send(data);
  }

  /** Resolves with the first message (already received or future) matching `pred`. */
  waitFor(pred: (m: Msg) => boolean, timeoutMs = 3000): Promise<Msg> {
    const found = this.messages.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (m: Msg) => { clearTimeout(t); resolve(m); } };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for a message; last: ${JSON.stringify(this.messages.slice(-3))}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Like waitFor but only considers messages arriving after this call. */
  next(pred: (m: Msg) => boolean, timeoutMs = 3000): Promise<Msg> {
    const start = this.messages.length;
    return this.waitFor((m) => this.messages.indexOf(m) >= start && pred(m), timeoutMs);
  }

  async request(obj: Msg & { op: string }, timeoutMs = 3000): Promise<Msg> {
    const seq = obj.seq as number | undefined;
    const p = this.next((m) => (m.type === 'ack' || m.type === 'error') && m.op === obj.op && (seq === undefined || m.seq === seq), timeoutMs);
    this.send(obj);
    return p;
  }

  async lease(): Promise<Msg> {
    return this.request({ op: 'lease_request' });
  }

  close(): Promise<{ code: number; reason: string }> {
    this.ws.close();
    return this.closed;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Between tests on a shared server: closes the clients a test opened, waits for the lease
 * they held to drop, and (with `resetEstop`) resets a latched e-stop as the admin, so a
 * failed test never leaves the robot taken or stopped for the next one.
 */
export async function releaseTestClients(srv: TestServer, opened: Client[], opts: { resetEstop?: boolean } = {}): Promise<void> {
  for (const c of opened.splice(0)) if (c.ws.readyState === 1) await c.close();
  for (let i = 0; i < 100 && srv.bridge.leaseHolder !== null; i++) await sleep(10);
  if (opts.resetEstop && srv.bridge.estopLatched) {
    const a = await Client.connect(srv, { token: srv.adminToken });
    await a.request({ op: 'reset_estop' });
    await a.close();
  }
}

export function percentile(xs: number[], p: number): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}
