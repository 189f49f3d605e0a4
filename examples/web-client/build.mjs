// Bundles the scripts for Node and the page for the browser (esbuild).
import { build } from 'esbuild';

const common = { bundle: true, sourcemap: false, logLevel: 'warning' };
await build({
  ...common,
  entryPoints: { day: 'src/day.ts', 'browser-test': 'e2e/browser-test.ts', 'graphiql-offline': 'e2e/graphiql-offline.ts' },
  outdir: 'dist',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['playwright-core', 'ws'],
});
await build({
  ...common,
  entryPoints: { page: 'e2e/page.ts' },
  outdir: 'dist',
  platform: 'browser',
  format: 'esm',
  target: 'es2022',
});
