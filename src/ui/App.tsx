/** The shell: tab bar, the routed tab, the status bar. Tabs come from tabs/registry.ts. */
import { Component, Suspense, type ReactNode } from 'react';
import { StatusBar } from './components/StatusBar.tsx';
import { WebGPUUnavailable } from './components/WebGPUUnavailable.tsx';
import { useGpuStore } from './stores/gpu.ts';
import { findTab, TABS } from './tabs/registry.ts';
import { navigate, useRoute } from './lib/useRoute.ts';

/** A tab that throws shows its error in place; the shell and other tabs keep working. */
class TabBoundary extends Component<{ tab: string; children: ReactNode }, { error: Error | null }> {
  override state = { error: null as Error | null };
  static getDerivedStateFromError(error: Error) {
    return { error };
  }
  override componentDidUpdate(prev: { tab: string }) {
    if (prev.tab !== this.props.tab && this.state.error) this.setState({ error: null });
  }
  override render() {
    if (this.state.error) {
      return (
        <div className="panel error-panel" role="alert">
          <h2>This tab failed</h2>
          <pre>{this.state.error.message}</pre>
          <button type="button" onClick={() => this.setState({ error: null })}>Try again</button>
        </div>
      );
    }
    return this.props.children;
  }
}

export function App() {
  const route = useRoute();
  const gpuStatus = useGpuStore((s) => s.status);
  const gpuError = useGpuStore((s) => s.error);
  if (gpuStatus === 'unavailable') return <WebGPUUnavailable detail={gpuError} />;
  const tab = findTab(route.tab);
  const Current = tab?.component;
  return (
    <div className="app">
      <header className="topbar">
        <span className="brand">PRTS Workbench</span>
        <nav className="tabs" role="tablist">
          {TABS.map((t) => (
            <a
              key={t.id}
              role="tab"
              aria-selected={t.id === route.tab}
              className={t.id === route.tab ? 'tab active' : 'tab'}
              href={`#/${t.id}`}
              title={t.description}
              data-testid={`tab-${t.id}`}
              onClick={(e) => {
                e.preventDefault();
                if (t.id !== route.tab) navigate({ tab: t.id, params: {} });
              }}
            >
              {t.label}
            </a>
          ))}
        </nav>
      </header>
      <main className="content" data-testid={`page-${route.tab}`}>
        {Current ? (
          <TabBoundary tab={route.tab}>
            <Suspense fallback={<div className="loading">Loading {tab.label}…</div>}>
              <Current />
            </Suspense>
          </TabBoundary>
        ) : (
          <div className="panel">
            <h2>No tab "{route.tab}"</h2>
            <p>
              Known tabs: {TABS.map((t) => <a key={t.id} href={`#/${t.id}`}>{t.label} </a>)}
            </p>
          </div>
        )}
      </main>
      <StatusBar />
    </div>
  );
}
