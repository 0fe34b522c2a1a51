/**
 * Sim tab. Browses the task suites (src/sim/tasks, plain data) with the selection in the
 * URL (#/sim?suite=..&task=..). The three.js viewer, scripted-expert playback and
 * dataset generation mount from src/sim/view once the simulation module exports it; the
 * glob below finds that entry at build time, and until it exists the tab says so.
 */
import { useMemo } from 'react';
import { getTask, listSuites } from '../../../sim/tasks/suites.ts';
import type { Predicate, TaskSpec } from '../../../sim/tasks/spec.ts';
import { useTabParams } from '../../lib/useRoute.ts';

const viewerModules = import.meta.glob('../../../sim/view/index.ts');

function describePredicate(p: Predicate): string {
  return JSON.stringify(p).replace(/[{}"]/g, '').replace(/,/g, ', ').replace(/:/g, ': ');
}

export default function SimTab() {
  const [params, setParams] = useTabParams();
  const suites = useMemo(() => listSuites(), []);
  const suite = suites.find((s) => s.suite === params.suite) ?? suites[0];
  const tasks = useMemo(() => (suite ? suite.tasks : []), [suite]);
  const taskId = tasks.includes(params.task ?? '') ? params.task! : tasks[0];
  const hasViewer = Object.keys(viewerModules).length > 0;
  const spec = useMemo(() => (taskId ? getTask(taskId) : null), [taskId]);

  return (
    <div className="cols3" data-testid="sim-tab">
      <div className="panel">
        <h2>Tasks</h2>
        <label>
          suite{' '}
          <select value={suite?.suite ?? ''} onChange={(e) => setParams({ suite: e.target.value, task: null })} data-testid="sim-suite">
            {suites.map((s) => <option key={s.suite} value={s.suite}>{s.suite} ({s.tasks.length})</option>)}
          </select>
        </label>
        <div className="scroll" style={{ marginTop: 8 }}>
          <table className="grid">
            <tbody>
              {tasks.map((t) => (
                <tr key={t} className={t === taskId ? 'selected' : ''} onClick={() => setParams({ task: t })}><td className="mono">{t}</td></tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
      <div>
        {!hasViewer && (
          <div className="banner warn" data-testid="sim-missing">
            The simulator viewer (<code>src/sim/view</code>) is not in this build yet, so scenes cannot be shown, played or
            generated from this page. Tasks are listed from <code>src/sim/tasks</code>; datasets generated on the server appear in
            the <a href="#/data">Data</a> tab, and the sim robot can be driven from the <a href="#/robot">Robot</a> tab.
          </div>
        )}
        {spec && <TaskDetails s={spec} />}
      </div>
    </div>
  );
}

function TaskDetails({ s }: { s: TaskSpec }) {
  return (
    <div className="panel" data-testid="sim-task">
      <h2>{s.instruction}</h2>
      <table className="kv">
        <tbody>
          <tr><th>id</th><td>{s.id}</td></tr>
          <tr><th>suite</th><td>{s.suite}</td></tr>
          <tr><th>step limit</th><td>{s.maxSteps} ({(s.maxSteps / 20).toFixed(0)} s at 20 Hz)</td></tr>
          <tr><th>objects</th><td>{s.objects.map((o) => o.name).join(', ')}</td></tr>
          <tr><th>fixtures</th><td>{s.fixtures.map((f) => f.name).join(', ') || '—'}</td></tr>
          <tr><th>goal</th><td>{s.goal.map(describePredicate).join(' ∧ ')}</td></tr>
        </tbody>
      </table>
    </div>
  );
}
