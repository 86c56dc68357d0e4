import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// As NestJS's SWC recipe sets vitest up: esbuild, vite's own transform, emits no decorator
// metadata, so SWC compiles the specs and the app.
export default defineConfig({
  test: {
    globals: true,
    root: './',
    include: ['test/**/*.e2e-spec.ts'],
  },
  plugins: [
    swc.vite({
      // Explicitly set the module type to avoid inheriting this value from a `.swcrc` config file
      module: { type: 'es6' },
    }),
  ],
});
