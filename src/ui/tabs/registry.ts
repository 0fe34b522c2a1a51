/**
 * The tab registry. The shell renders whatever is listed here, in order; a new tab
 * (Value, Embeddings, RL, ...) is one entry, with no change to the shell. Components
 * are lazy so a tab's heavy dependencies (plotly, three.js) load when it is opened.
 */
import { lazy, type ComponentType, type LazyExoticComponent } from 'react';

export interface TabDef {
  /** URL segment: #/<id>?... */
  id: string;
  label: string;
  /** One line for the tab's tooltip. */
  description: string;
  component: LazyExoticComponent<ComponentType>;
}

export const TABS: readonly TabDef[] = [
  {
    id: 'data',
    label: 'Data',
    description: 'Datasets, episodes, the episode player and statistics',
    component: lazy(() => import('./data/DataTab.tsx')),
  },
  {
    id: 'model',
    label: 'Model',
    description: 'Model and training configuration, size estimates, the attention mask and block map',
    component: lazy(() => import('./model/ModelTab.tsx')),
  },
  {
    id: 'train',
    label: 'Train',
    description: 'Training jobs in the GPU worker: live losses, throughput, checkpoints',
    component: lazy(() => import('./train/TrainTab.tsx')),
  },
  {
    id: 'sim',
    label: 'Sim',
    description: 'The simulated tabletop: tasks, scripted experts, perturbations, dataset generation',
    component: lazy(() => import('./sim/SimTab.tsx')),
  },
  {
    id: 'value',
    label: 'Value',
    description: 'CRL value curves V = phi . psi over an episode, true vs wrong instruction (PRTS Fig. 9)',
    component: lazy(() => import('./value/ValueTab.tsx')),
  },
  {
    id: 'embeddings',
    label: 'Embeddings',
    description: 't-SNE of phi for chunks of several tasks, two checkpoints side by side (PRTS Fig. 5)',
    component: lazy(() => import('./embeddings/EmbeddingsTab.tsx')),
  },
  {
    id: 'robot',
    label: 'Robot',
    description: 'Remote control through the server bridge: lease, telemetry, teleop, e-stop, recording',
    component: lazy(() => import('./robot/RobotTab.tsx')),
  },
];

export function findTab(id: string): TabDef | undefined {
  return TABS.find((t) => t.id === id);
}
