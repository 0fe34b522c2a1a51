/** Full-page explanation shown when the browser gives us no WebGPU adapter. */
export function WebGPUUnavailable({ detail }: { detail: string | null }) {
  const secure = typeof window !== 'undefined' ? window.isSecureContext : true;
  return (
    <div className="unavailable" role="alert">
      <h1>WebGPU is not available</h1>
      <p>
        PRTS Workbench trains and runs models on your GPU through WebGPU, so it needs a browser that exposes it.
      </p>
      {detail && <p className="unavailable-detail">Browser said: {detail}</p>}
      {!secure && (
        <p className="unavailable-warn">
          This page is not a secure context. WebGPU only exists on <code>https://</code> pages and on{' '}
          <code>http://localhost</code> / <code>http://127.0.0.1</code>. Open the workbench through one of those.
        </p>
      )}
      <h2>How to enable it</h2>
      <ul>
        <li>
          <b>Chrome / Edge 113+</b> on Windows, macOS and ChromeOS: enabled by default. Check <code>chrome://gpu</code>{' '}
          shows "WebGPU: Hardware accelerated".
        </li>
        <li>
          <b>Chrome / Chromium on Linux</b>: start it with <code>--enable-unsafe-webgpu --enable-features=Vulkan</code>, or
          turn on <code>chrome://flags/#enable-unsafe-webgpu</code> and restart. Without a GPU, add{' '}
          <code>--use-webgpu-adapter=swiftshader</code> (slow, but everything works).
        </li>
        <li>
          <b>Firefox</b> 141+ on Windows (other platforms: <code>about:config</code> → <code>dom.webgpu.enabled</code>).
        </li>
        <li>
          <b>Safari</b> 26+ (macOS Tahoe / iOS 26); earlier: Develop → Feature Flags → WebGPU.
        </li>
      </ul>
      <p>
        If WebGPU is on but no adapter is returned, the GPU may be blocklisted: see <code>chrome://gpu</code>, or try{' '}
        <code>chrome://flags/#ignore-gpu-blocklist</code>.
      </p>
    </div>
  );
}
