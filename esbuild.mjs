// Bundles the extension and the CLI. ssh2's optional native bits (cpu-features, sshcrypto.node) are left
// external: they are loaded in try/catch and the pure-JS path is what VS Code's extension host runs.
// Shipped bundles are minified with the source map in a separate .map file (`bundle` line of `npm run bench`).
import * as esbuild from 'esbuild';
import { chmodSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const watch = process.argv.includes('--watch');
export const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  minify: true,
  logLevel: 'warning',
  external: ['vscode', 'cpu-features', './crypto/build/Release/sshcrypto.node'],
  // jsonc-parser's UMD build requires its parts by computed paths a bundle cannot follow (the YAML language service uses it).
  // tweetnacl: bcrypt-pbkdf uses only its SHA-512 (src/core/ssh/naclHash.ts).
  alias: { 'jsonc-parser': 'jsonc-parser/lib/esm/main.js', tweetnacl: './src/core/ssh/naclHash.ts' },
  absWorkingDir: fileURLToPath(new URL('.', import.meta.url)),
};
// Code a bundle loads only when first used. A CJS bundle cannot split, so each is its own file in dist/, required
// from there: the workflow-schema language service (yaml-language-server, prettier: ~1 MiB) on the first
// completion; ssh2 (~270 KiB) on the first connection or key parse, so activating the extension does not parse it.
// The lazy files must share no state with the bundles that load them (ssh2 is a library; the language service
// is handed everything it needs).
const LAZY = [
  { entry: 'src/core/workflows/completion.ts', filter: /core\/workflows\/completion$/, kind: 'dynamic-import', out: 'workflow-completion' },
  { entry: 'src/core/ssh/ssh2Lib.cjs', filter: /\/ssh2Lib\.cjs$/, kind: 'require-call', out: 'ssh2' },
];
const lazyModules = {
  name: 'lazy-modules',
  setup(build) {
    for (const lazy of LAZY) {
      build.onResolve({ filter: lazy.filter }, (args) => (args.kind === lazy.kind ? { path: `./${lazy.out}.js`, external: true } : undefined));
    }
  },
};
// yaml's ESM build (the "default" condition of its exports; Node's is CJS) tree-shakes: 16 KiB less of the
// extension. Only the extension and the CLI (yaml-language-server has a yaml of its own); the unit tests run
// the same build (vitest.config.mts). It differs from the CJS one only in how !!binary is decoded (Uint8Array,
// not Buffer) and in warning through console.warn, not process.emitWarning.
const yamlEsm = { ...common.alias, yaml: './node_modules/yaml/browser/index.js' };
const builds = [
  // import() becomes require(): the extension host loads the lazy file like the bundle itself.
  { ...common, entryPoints: ['src/extension/main.ts'], outfile: 'dist/extension.js', alias: yamlEsm, plugins: [lazyModules], supported: { 'dynamic-import': false } },
  ...LAZY.map((lazy) => ({ ...common, entryPoints: [lazy.entry], outfile: `dist/${lazy.out}.js` })),
  { ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', alias: yamlEsm, plugins: [lazyModules], banner: { js: '#!/usr/bin/env node' } },
  { ...common, entryPoints: ['test/suite/index.ts'], outfile: 'dist/test/suite/index.js', external: ['vscode', 'mocha'], minify: false },
];
// Builds when run (npm run build), not when imported (test/unit/naclHash.test.ts bundles with `common`).
const run = !!process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
if (run && watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
} else if (run) {
  await Promise.all(builds.map((b) => esbuild.build(b)));
  chmodSync('dist/cli.js', 0o755);
}
