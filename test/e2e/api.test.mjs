// API-level e2e test: the in-host mocha suite (test/suite/*.test.ts, bundled
// to dist/test/suite/index.js by esbuild.mjs) runs INSIDE code-server's Node
// extension host, with Flotilla loaded from the repo (extensionDevelopmentPath),
// as @vscode/test-electron would do on desktop. Headless Chromium is only the
// client that makes the server spawn an extension host; nothing is clicked.
// Run: bash test/e2e/run.sh   (or, after install.sh: node --test test/e2e/api.test.mjs)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { REPO, buildExtension, startCodeServer, runExtensionTests, stopwatch, artifact } from './harness.mjs';

const mark = stopwatch();
// Settings the suite checks it can read (seeded into User and Machine settings).
const SEEDED = { 'flotilla.sshConfigFile': '/nonexistent/flotilla-e2e/ssh_config', 'flotilla.groupsFile': '/nonexistent/flotilla-e2e/groups.yaml' };
let server;

before(async () => {
  if (!process.env.E2E_SKIP_BUILD) buildExtension();
  mark('extension built');
  server = await startCodeServer({
    smokeTestDriver: true,
    userSettings: SEEDED,
    env: {
      FLOTILLA_E2E_EXPECT_SSH_CONFIG: SEEDED['flotilla.sshConfigFile'],
      FLOTILLA_E2E_EXPECT_GROUPS: SEEDED['flotilla.groupsFile'],
    },
  });
  mark('code-server up');
});

after(async () => {
  if (server) fs.writeFileSync(artifact('api-server.log'), server.log());
  await server?.stop();
  mark('torn down');
});

test('in-host mocha suite passes inside the extension host', async () => {
  const code = await runExtensionTests(server, {
    extensionDevelopmentPath: REPO,
    extensionTestsPath: path.join(REPO, 'dist/test/suite/index.js'),
    folder: server.workspace,
  });
  mark(`extension tests finished with exit code ${code}`);
  assert.equal(code, 0);
});
