/** Bottom status bar: GPU adapter (from the worker), worker health, server connection. */
import { useState } from 'react';
import { useGpuStore } from '../stores/gpu.ts';
import { useServerStore } from '../stores/server.ts';
import { gpuClient } from '../worker/gpuClient.ts';
import { formatBytes } from '../lib/format.ts';

// The limits a researcher checks first when a model does not fit.
const KEY_LIMITS = ['maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup'];
const BYTE_LIMITS = new Set(['maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize']);

export function StatusBar() {
  const gpu = useGpuStore();
  const server = useServerStore();
  const [open, setOpen] = useState(false);
  const info = gpu.info;
  const adapterLabel = info
    ? [info.vendor, info.architecture, info.device || info.description].filter(Boolean).join(' · ') || 'unknown adapter'
    : null;

  return (
    <footer className="statusbar">
      <button
        type="button"
        className={`sb-item sb-gpu sb-${gpu.status}`}
        data-testid="status-gpu"
        onClick={() => setOpen((o) => !o)}
        title="Click for adapter details"
      >
        <span className="dot" />
        {gpu.status === 'ready' && info ? (
          <>
            GPU: <b>{adapterLabel}</b>
            {info.software && <span className="tag warn">software</span>}
          </>
        ) : gpu.status === 'starting' ? (
          'GPU: starting worker…'
        ) : gpu.status === 'restarting' ? (
          `GPU: restarting worker (${gpu.error ?? ''})`
        ) : (
          `GPU: ${gpu.error ?? 'unavailable'}`
        )}
      </button>
      {gpu.restarts > 0 && (
        <span className="sb-item sb-warn" data-testid="status-restarts" title={gpu.crashes.map((c) => `${new Date(c.at).toLocaleTimeString()} ${c.message}`).join('\n')}>
          worker restarted {gpu.restarts}×
        </span>
      )}
      <span className="sb-spacer" />
      <span className={`sb-item sb-server sb-${server.state}`} data-testid="status-server" title={server.error ?? ''}>
        <span className="dot" />
        server: {server.state}
        {server.state === 'offline' && server.error ? <span className="muted"> — {server.error}</span> : null}
      </span>
      {open && (
        <div className="sb-popover" data-testid="adapter-details">
          {info ? (
            <>
              <table className="kv">
                <tbody>
                  <tr><th>vendor</th><td>{info.vendor || '—'}</td></tr>
                  <tr><th>architecture</th><td>{info.architecture || '—'}</td></tr>
                  <tr><th>device</th><td>{info.device || '—'}</td></tr>
                  <tr><th>description</th><td>{info.description || '—'}</td></tr>
                  <tr><th>features</th><td>{info.features.join(', ') || 'none'}</td></tr>
                  {KEY_LIMITS.filter((k) => k in info.limits).map((k) => (
                    <tr key={k}>
                      <th>{k}</th>
                      <td>{BYTE_LIMITS.has(k) ? formatBytes(info.limits[k]) : info.limits[k].toLocaleString()}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {info.software && <p className="muted">Software rasteriser (SwiftShader): correct but slow; keep models tiny.</p>}
            </>
          ) : (
            <p>{gpu.error ?? 'No adapter yet.'}</p>
          )}
          <button type="button" onClick={() => gpuClient.restart()}>Restart GPU worker</button>
        </div>
      )}
    </footer>
  );
}
