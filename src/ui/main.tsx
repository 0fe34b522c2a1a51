/**
 * Entry point. Without navigator.gpu the app shows the explanation page at once; with
 * it, the GPU worker is started (it acquires the device off the UI thread) and the
 * server is polled, while the shell renders.
 */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import { WebGPUUnavailable } from './components/WebGPUUnavailable.tsx';
import { startServerPolling } from './stores/server.ts';
import { adoptTokenFromHash } from './stores/session.ts';
import { gpuClient } from './worker/gpuClient.ts';
import './styles.css';

const next = adoptTokenFromHash(window.location.hash);
if (next) history.replaceState(null, '', next);

const root = createRoot(document.getElementById('root')!);
if (!('gpu' in navigator) || !navigator.gpu) {
  root.render(<WebGPUUnavailable detail={null} />);
} else {
  void gpuClient.start();
  startServerPolling();
  // The shipped demo run, imported on a profile's first open (its own chunk: the shell does not wait).
  void import('./lib/demoRun.ts').then((m) => m.startDemoRun(), (e: Error) => console.info(`demo run: not loaded: ${e.message}`));
  root.render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}
