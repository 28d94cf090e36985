// In-host test entry (extensionTestsPath): VS Code loads the bundled
// dist/test/suite/index.js inside its extension host and calls run(), the same
// contract as @vscode/test-electron. Here it runs inside code-server's Node
// extension host (test/e2e/api.test.mjs). `mocha` stays external in the bundle
// and resolves from the repo's node_modules.
//
// Adding a suite: write test/suite/<name>.test.ts (import { describe, it } from
// 'mocha'; import * as vscode from 'vscode') and add it to SUITES below. The
// imports are dynamic so that they run after mocha has set up its interface.
import Mocha from 'mocha';

const SUITES: Array<() => Promise<unknown>> = [
  () => import('./activation.test'),
  () => import('./mcpTools.test'),
];

export async function run(): Promise<void> {
  const mocha = new Mocha({
    ui: 'bdd',
    timeout: 30_000,
    color: false,
    reporter: process.env.FLOTILLA_MOCHA_REPORTER || 'spec',
    grep: process.env.FLOTILLA_MOCHA_GREP || undefined,
  });
  // What mocha.addFile()+loadFiles() would do for a file: expose describe/it.
  mocha.suite.emit('pre-require', globalThis, 'flotilla-suite', mocha);
  for (const load of SUITES) await load();
  await new Promise<void>((resolve, reject) => {
    mocha.run((failures) => (failures ? reject(new Error(`${failures} test(s) failed.`)) : resolve()));
  });
}
