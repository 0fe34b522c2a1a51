/** CPU-side analysis for the Value, Embeddings and RL tabs; runs in a worker or in Node. */
export * from './vectors';
export * from './tsne';
export { calibrateRow } from './tsne-affinities';
export { pcaProject } from './tsne-init';
export { barnesHutRepulsion, exactRepulsion } from './tsne-repulsion';
export * from './dbscan';
export * from './progress';
export * from './stats';
export * from './reward-metrics';
export * from './value';
export * from './separation';
