/**
 * startServer: one Fastify HTTP server (app, dataset API) plus the robot WebSocket on the
 * same port. The WebSocket upgrade is handled here, not by a plugin, so that the token
 * and origin are checked before the upgrade completes and refusals are plain HTTP 401/403
 * responses with a JSON body.
 */
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { WebSocketServer } from 'ws';
import { existsSync, promises as fsp } from 'node:fs';
import { join, resolve } from 'node:path';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import pkg from '../package.json';
import { parseConfig, type Config, type ConfigInput } from './config.ts';
import { AuditLog } from './audit.ts';
import { allowedOrigins, generateToken, httpToken, originAllowed, roleForToken, wsToken, type Tokens } from './auth.ts';
import { HttpError, resolveForRead, sendFile } from './files.ts';
import { builtinReadOnly, defaultBuiltinDir, isBuiltinDataset, registerDatasetRoutes, shadowedDatasets } from './datasets.ts';
import { RobotBridge } from './robot/bridge.ts';
import { SUBPROTOCOL } from './robot/protocol.ts';
import type { TeleopRecorder } from './robot/recorder.ts';
import type { RobotDriver } from './drivers/types.ts';
import { createDriver } from './drivers/index.ts';
import { redactString, redactUrl } from './redact.ts';

export const SERVER_VERSION: string = (pkg as { version: string }).version;

export interface StartOptions {
  config?: ConfigInput;
  /** Use this driver instead of creating one from config.robot (tests). */
  driver?: RobotDriver;
  /** Teleop recorder; default: a LeRobot v3 recorder into config.dataDir; null disables recording. */
  recorder?: TeleopRecorder | null;
}

export interface RunningServer {
  url: string;
  wsUrl: string;
  port: number;
  token: string;
  adminToken: string;
  config: Config;
  /** Where the read-only built-in datasets are read from. */
  builtinDir: string;
  bridge: RobotBridge;
  driver: RobotDriver;
  audit: AuditLog;
  app: FastifyInstance;
  close(): Promise<void>;
}

function rejectUpgrade(socket: Duplex, status: number, code: string, message: string): void {
  const reasons: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 503: 'Service Unavailable' };
  const body = JSON.stringify({ error: code, message });
  socket.end(
    `HTTP/1.1 ${status} ${reasons[status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  setTimeout(() => socket.destroy(), 1000).unref();
}

export async function startServer(opts: StartOptions = {}): Promise<RunningServer> {
  const config = parseConfig(opts.config ?? {});
  const dataDir = resolve(config.dataDir);
  const distDir = resolve(config.distDir);
  const builtinDir = resolve(config.builtinDatasetsDir ?? defaultBuiltinDir(distDir));
  await fsp.mkdir(dataDir, { recursive: true });
  const tokens: Tokens = { token: config.token ?? generateToken(), adminToken: config.adminToken ?? generateToken() };
  if (tokens.token === tokens.adminToken) throw new Error('invalid config: token and adminToken must differ');
  const audit = new AuditLog(config.auditLog ?? join(dataDir, '.prts', 'audit.jsonl'));
  const driver = opts.driver ?? (await createDriver(config));
  let recorder: TeleopRecorder | undefined;
  if (opts.recorder !== null) {
    if (opts.recorder) recorder = opts.recorder;
    else {
      const { LeRobotRecorder } = await import('./robot/lerobot-recorder.ts');
      recorder = new LeRobotRecorder(dataDir, driver.info, { refuse: async (id) => ((await isBuiltinDataset(builtinDir, id)) ? builtinReadOnly(id) : null) });
    }
  }
  const bridge = new RobotBridge({ config, driver, audit, recorder, version: SERVER_VERSION });

  const app = Fastify({ logger: false, bodyLimit: 1 << 20, routerOptions: { maxParamLength: 1024 }, return503OnClosing: true });
  let origins = new Set<string>();

  // Every body is handed to the route as a raw stream; only the upload route reads one.
  // No body is ever parsed into objects by a generic parser.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

  app.addHook('onSend', async (_req, reply) => {
    reply.header('X-Content-Type-Options', 'nosniff');
  });

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof HttpError) {
      for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
      return reply.code(err.status).type('application/json; charset=utf-8').send({ error: err.code, message: err.message });
    }
    const status = (err as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) {
      return reply.code(status).type('application/json; charset=utf-8').send({ error: (err as { code?: string }).code ?? 'bad_request', message: (err as Error).message });
    }
    if (req.raw.destroyed || (err as { code?: string }).code === 'ECONNRESET') {
      // The client went away mid-request (an aborted upload): nothing to answer, nothing broken.
      audit.write('request_aborted', { method: req.method, url: redactUrl(req.url).slice(0, 200) });
      return reply.code(400).send({ error: 'aborted', message: 'request aborted by the client' });
    }
    // Unexpected errors: details to the server log, a generic message to the client.
    process.stderr.write(redactString(`error on ${req.method} ${req.url}: ${(err as Error).stack ?? String(err)}\n`));
    return reply.code(500).type('application/json; charset=utf-8').send({ error: 'internal', message: 'internal server error' });
  });

  const requireWrite = (req: FastifyRequest) => {
    const origin = req.headers.origin;
    if (!originAllowed(origin, origins)) {
      audit.write('http_refused', { method: req.method, url: redactUrl(req.url).slice(0, 200), reason: 'origin', origin });
      throw new HttpError(403, 'origin_not_allowed', `origin ${origin} is not allowed`);
    }
    const role = roleForToken(httpToken(req.raw), tokens);
    if (!role) {
      audit.write('http_refused', { method: req.method, url: redactUrl(req.url).slice(0, 200), reason: 'token', remote: req.ip });
      throw new HttpError(401, 'unauthorized', 'a valid token is required (Authorization: Bearer <token>)', { 'WWW-Authenticate': 'Bearer' });
    }
  };

  app.get('/api/health', async () => ({
    ok: true,
    version: SERVER_VERSION,
    robot: driver.info.name,
    driver: driver.info.driver,
    robotAvailable: driver.available(),
    connections: bridge.connectionCount,
    estop: bridge.estopLatched,
    leaseHolder: bridge.leaseHolder,
  }));

  for (const id of await shadowedDatasets(dataDir, builtinDir)) {
    process.stderr.write(`warning: ${join(dataDir, id)} is hidden by the built-in dataset ${id} (${builtinDir}); rename it to use it\n`);
  }
  registerDatasetRoutes(app, {
    dataDir,
    builtinDir,
    maxUploadBytes: config.maxUploadBytes,
    requireWrite,
    onMutation: (event, fields) => audit.write(event, fields),
  });

  const distExists = existsSync(join(distDir, 'index.html'));
  app.setNotFoundHandler(async (req, reply) => {
    const path = req.url.split('?')[0];
    const isApi = path.startsWith('/api/') || path.startsWith('/data/') || path.startsWith('/ws/');
    if (distExists && !isApi && (req.method === 'GET' || req.method === 'HEAD')) {
      let rel = decodeURIComponent(path).replace(/^\/+/, '');
      if (rel === '' || rel.endsWith('/')) rel += 'index.html';
      // Unknown paths without an extension are client-side routes of the single-page app.
      const f = await resolveForRead(distDir, rel).catch(async (e: unknown) => {
        if (e instanceof HttpError && e.status === 404 && !/\.[A-Za-z0-9]+$/.test(rel)) return resolveForRead(distDir, 'index.html');
        throw e;
      });
      // Cross-origin isolation lets the app use SharedArrayBuffer and precise timers.
      return sendFile(req, reply, f, {
        'Cross-Origin-Opener-Policy': 'same-origin',
        'Cross-Origin-Embedder-Policy': 'require-corp',
        'Cache-Control': rel === 'index.html' ? 'no-cache' : 'public, max-age=3600',
      });
    }
    return reply.code(404).type('application/json; charset=utf-8').send({ error: 'not_found', message: `no route for ${req.method} ${path.slice(0, 200)}` });
  });

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: config.maxPayloadBytes,
    perMessageDeflate: false, // compression bombs and CPU cost are not worth it on loopback/LAN
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    // One message per socket per event-loop turn: a client with a full 64 KB read cannot
    // run ahead of another client's e-stop waiting in the next socket.
    allowSynchronousEvents: false,
  });

  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return rejectUpgrade(socket, 400, 'bad_request', 'malformed request URL');
    }
    if (url.pathname !== '/ws/robot') return rejectUpgrade(socket, 404, 'not_found', `no WebSocket endpoint at ${url.pathname.slice(0, 200)}`);
    const remote = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
    const origin = req.headers.origin;
    if (!originAllowed(origin, origins)) {
      audit.write('ws_refused', { remote, reason: 'origin', origin });
      return rejectUpgrade(socket, 403, 'origin_not_allowed', `origin ${origin} is not allowed`);
    }
    const role = roleForToken(wsToken(req, url), tokens);
    if (!role) {
      audit.write('ws_refused', { remote, reason: 'token' });
      return rejectUpgrade(socket, 401, 'unauthorized', 'a valid token is required (subprotocol prts-token.<token>, Authorization: Bearer, or ?token=)');
    }
    if (bridge.connectionCount >= config.maxConnections) return rejectUpgrade(socket, 503, 'too_many_connections', `at most ${config.maxConnections} robot connections`);
    wss.handleUpgrade(req, socket, head, (ws) => bridge.accept(ws, role, remote));
  });

  await bridge.start();
  await app.listen({ host: config.host, port: config.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  origins = allowedOrigins(config.host, port, config.allowedOrigins);
  const hostForUrl = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${hostForUrl}:${port}`;
  audit.write('start', { url, driver: driver.info.driver, robot: driver.info.name, version: SERVER_VERSION });

  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      // Robot first: it is held and the recording rolled back before anything else happens.
      await bridge.close();
      await new Promise<void>((res) => wss.close(() => res()));
      const forced = setTimeout(() => app.server.closeAllConnections(), 10_000);
      await app.close();
      clearTimeout(forced);
      await recorder?.close();
      audit.write('stopped', {});
      await audit.close();
    })();
    return closing;
  };

  return { url, wsUrl: `ws://${hostForUrl}:${port}/ws/robot`, port, token: tokens.token, adminToken: tokens.adminToken, config, builtinDir, bridge, driver, audit, app, close };
}
