import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  plugins: [react()],
  // WGSL sources are imported as strings (`import src from '../../shaders/x.wgsl?raw'`).
  assetsInclude: ['**/*.wgsl'],
  worker: { format: 'es' },
  build: { target: 'es2022', outDir: 'dist' },
});
