// Vite build of the dashboard into web/dist, served by `sinyal serve` (src/http/static_site.h).
// JSX is compiled by Vite's own esbuild (no @vitejs/plugin-react: it does not install with every
// npm this project meets; fast refresh is the only thing lost, in `npm run dev`).
import { defineConfig } from 'vite';

export default defineConfig({
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: 'dist',
    assetsDir: 'assets', // content-hashed names: served immutable
    sourcemap: process.env.SINYAL_WEB_SOURCEMAP === '1', // none by default
    target: 'es2020',
    emptyOutDir: true,
  },
  server: {
    // `npm run dev` against a running `sinyal serve` on :8080.
    proxy: { '/api': { target: 'http://127.0.0.1:8080', ws: true } },
  },
  test: { include: ['src/**/*.test.{ts,tsx}'] },
});
