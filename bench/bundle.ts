// bundle: size of the shipped dist/extension.js (minified by esbuild.mjs; its source map is a separate file).
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
  log(line('bundle', kib, 'goal', BUNDLE_GOAL_KIB, 'KiB', 0));
}
