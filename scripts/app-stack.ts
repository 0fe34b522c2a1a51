/**
 * The whole app stack for e2e tests and screenshots: a real workbench server in-process
 * (kinematic robot driver, a small generated LeRobot dataset in a temp dir) and a Vite
 * dev server for the app that proxies /api, /data and /ws to it, plus Debian's Chromium.
 * The server also serves the built-in datasets of public/demo (the shipped demo run's).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as netServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';
import { startServer, type RunningServer } from '../server/app.ts';
import { builtinDirOf } from '../server/datasets.ts';
import { LeRobotWriter } from '../src/data/index.ts';
import { nodeIO } from '../src/data/io-node.ts';
import { CHROMIUM, CHROMIUM_ARGS } from '../tests/e2e/harness.ts';

export const TOKEN = 'e2e-operator-token-0123456789';

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = netServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? res(a.port) : rej(new Error('no port'))));
    });
  });
}

export async function writeDataset(root: string): Promise<void> {
  const w = await LeRobotWriter.create(nodeIO(join(root, 'demo')), {
    repoId: 'prts/demo',
    fps: 20,
    robotType: 'panda',
    features: {
      'observation.state': { dtype: 'float32', shape: [3], names: ['x', 'y', 'z'] },
      'observation.images.agentview': { dtype: 'image', shape: [8, 8, 3], names: ['height', 'width', 'channels'] },
      action: { dtype: 'float32', shape: [2], names: ['dx', 'dy'] },
      phase: { dtype: 'int64', shape: [1] },
      phase_description: { dtype: 'string', shape: [1] },
    },
  });
  for (let e = 0; e < 2; e++) {
    for (let t = 0; t < 16; t++) {
      const px = new Uint8Array(8 * 8 * 3).fill(t * 15);
      w.addFrame({
        'observation.state': [t / 16, e, Math.sin(t)],
        'observation.images.agentview': { width: 8, height: 8, channels: 3, data: px },
        action: [Math.cos(t), e - t / 16],
        phase: t < 8 ? 0 : 1,
        phase_description: t < 8 ? 'reach the block' : 'lift the block',
      });
    }
    await w.saveEpisode({ task: e ? 'lift the red block' : 'push the blue block', meta: { success: e === 1, perturbation: { lighting: e === 1 } } });
  }
  await w.finalize();
}

export interface AppStack {
  base: string;
  server: RunningServer;
  vite: ViteDevServer;
  browser: Browser;
  close(): Promise<void>;
}

export async function startAppStack(): Promise<AppStack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'prts-app-'));
  await writeDataset(dataDir);
  const [vitePort, serverPort] = [await freePort(), await freePort()];
  const base = `http://127.0.0.1:${vitePort}`;
  // Vite serves public/ (the demo archive included), so the built-in datasets are public's
  // too, even where an old dist/ would make the server's default pick dist/'s.
  const builtinDatasetsDir = builtinDirOf('public');
  const server = await startServer({ config: { port: serverPort, dataDir, builtinDatasetsDir, robot: 'kinematic', token: TOKEN, allowedOrigins: [base] } });
  const target = `http://127.0.0.1:${serverPort}`;
  const vite = await createServer({
    root: process.cwd(),
    logLevel: 'error',
    server: {
      host: '127.0.0.1',
      port: vitePort,
      strictPort: true,
      hmr: false,
      proxy: { '/api': target, '/data': target, '/ws': { target: `ws://127.0.0.1:${serverPort}`, ws: true } },
    },
  });
  await vite.listen();
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  return {
    base,
    server,
    vite,
    browser,
    async close() {
      await browser.close();
      await vite.close();
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
