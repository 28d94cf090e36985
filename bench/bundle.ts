// bundle: size of the shipped dist/extension.js (minified by esbuild.mjs; its source map is a separate file): what
// activating the extension loads. The files it loads on first use are named in a `#` line beside it.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { line } from './lib';

export const BUNDLE_GOAL_KIB = 800;

export function runBundleBench(log: (s: string) => void): void {
  const root = resolve(__dirname, '..');
  execFileSync(process.execPath, [resolve(root, 'esbuild.mjs')], { cwd: root, stdio: 'inherit' });
  const file = resolve(root, 'dist/extension.js');
  const kib = statSync(file).size / 1024;
  const mapped = /\/\/# sourceMappingURL=extension\.js\.map\s*$/.test(readFileSync(file, 'utf8')) && existsSync(`${file}.map`);
  log(`# bundle: dist/extension.js as built by esbuild.mjs (minified); source map ${mapped ? `separate (${(statSync(`${file}.map`).size / 1024).toFixed(0)} KiB)` : 'MISSING'}`);
  const lazy = [['ssh2.js', 'the first connection or key parse'], ['workflow-completion.js', 'the first workflow-file completion']]
    .map(([name, when]) => `dist/${name} ${(statSync(resolve(root, 'dist', name)).size / 1024).toFixed(0)} KiB on ${when}`);
  log(`# bundle: loaded later, each on first use (esbuild.mjs LAZY): ${lazy.join('; ')}`);
  log(line('bundle', kib, 'goal', BUNDLE_GOAL_KIB, 'KiB', 0));
}
