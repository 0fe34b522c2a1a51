/**
 * End-to-end harness: serves the repository with Vite on a loopback port and drives
 * Debian's Chromium through playwright-core with WebGPU (SwiftShader without a GPU).
 * Never downloads a browser: the executable is /usr/bin/chromium.
 */
import { chromium, type Browser, type Page } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';
import { existsSync } from 'node:fs';

export const CHROMIUM = process.env.PRTS_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-angle=swiftshader',
  '--use-webgpu-adapter=swiftshader',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];

export interface E2E {
  server: ViteDevServer;
  browser: Browser;
  baseUrl: string;
  /** Opens a page and records console errors and uncaught exceptions into `errors`. */
  open(path: string): Promise<{ page: Page; errors: string[] }>;
  close(): Promise<void>;
}

export async function startE2E(opts: { root?: string } = {}): Promise<E2E> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium`);
  const server = await createServer({
    root: opts.root ?? process.cwd(),
    logLevel: 'error',
    server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false },
  });
  await server.listen();
  const addr = server.httpServer?.address();
  if (!addr || typeof addr === 'string') throw new Error('vite did not bind a port');
  const baseUrl = `http://127.0.0.1:${addr.port}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  return {
    server,
    browser,
    baseUrl,
    async open(path: string) {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(baseUrl + path);
      return { page, errors };
    },
    async close() {
      await browser.close();
      await server.close();
    },
  };
}

/**
 * Distinct colours among sampled pixels of a canvas (a blank clear colour gives 1). The
 * canvas is a data-testid, or a CSS selector when it starts with '#' or '['.
 */
export function distinctColours(page: Page, canvas: string): Promise<number> {
  const selector = canvas.startsWith('#') || canvas.startsWith('[') ? canvas : `[data-testid="${canvas}"]`;
  return page.evaluate((sel) => {
    const src = document.querySelector(sel) as HTMLCanvasElement;
    const c = document.createElement('canvas');
    c.width = src.width;
    c.height = src.height;
    const ctx = c.getContext('2d')!;
    ctx.drawImage(src, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    const set = new Set<number>();
    for (let i = 0; i < d.length; i += 4 * 7) set.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
    return set.size;
  }, selector);
}
