// Bundles the extension and the CLI. ssh2's optional native bits (cpu-features, sshcrypto.node) are left
// external: they are loaded in try/catch and the pure-JS path is what VS Code's extension host runs.
// Shipped bundles are minified with the source map in a separate .map file (`bundle` line of `npm run bench`).
import * as esbuild from 'esbuild';
import { chmodSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  minify: true,
  logLevel: 'warning',
  external: ['vscode', 'cpu-features', './crypto/build/Release/sshcrypto.node'],
  // jsonc-parser's UMD build requires its parts by computed paths a bundle cannot follow (the YAML language service uses it).
  alias: { 'jsonc-parser': 'jsonc-parser/lib/esm/main.js' },
};
// The workflow-schema language service (yaml-language-server, prettier: ~1 MiB) is imported on the first
// completion only; a CJS bundle cannot split, so it is its own file, required from dist/ when first used.
const LAZY = { 'core/workflows/completion': 'workflow-completion' };
const lazyModules = {
  name: 'lazy-modules',
  setup(build) {
    build.onResolve({ filter: /core\/workflows\/completion$/ }, (args) =>
      (args.kind === 'dynamic-import' ? { path: `./${LAZY['core/workflows/completion']}.js`, external: true } : undefined));
  },
};
const builds = [
  // import() becomes require(): the extension host loads the lazy file like the bundle itself.
  { ...common, entryPoints: ['src/extension/main.ts'], outfile: 'dist/extension.js', plugins: [lazyModules], supported: { 'dynamic-import': false } },
  { ...common, entryPoints: ['src/core/workflows/completion.ts'], outfile: `dist/${LAZY['core/workflows/completion']}.js` },
  { ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } },
  { ...common, entryPoints: ['test/suite/index.ts'], outfile: 'dist/test/suite/index.js', external: ['vscode', 'mocha'], minify: false },
];
if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
  chmodSync('dist/cli.js', 0o755);
}
