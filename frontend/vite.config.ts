import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// In dev, the page talks to the backend on :8080 through this proxy (HTTP and WS),
// so the browser sees one origin exactly as in production, where the backend
// serves frontend/dist itself. BACKEND_URL overrides the target.
const backend = process.env.BACKEND_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [react()],
  // Relative asset URLs: the built page works at / and under a sub-path.
  base: './',
  server: {
    proxy: {
      '/ci': { target: backend, ws: true, changeOrigin: false },
      '/healthz': backend,
      '/readyz': backend,
      '/docs': backend,
    },
  },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true },
});
