// Restricted Mode (issue 19, point 9): workspace trust on, a folder whose .vscode/settings.json names a
// hostile ssh config (a `Match exec` and a ProxyCommand that would touch marker files) and push targets.
// Untrusted, nothing of it runs and the trust gates hold (no Match exec even in the user's own config,
// pushes refused); once trusted, the user's `Match exec` runs, and the workspace still cannot name the
// ssh config (machine-scoped settings are never read from a workspace).
// Run: bash test/e2e/run.sh test/e2e/restricted.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  flotillaVsix, startLabFleet, startWorkbench, openViewContainer, treeLabels, runCommand, sleep, stopwatch,
  waitForRowDescription,
} from './harness.mjs';

const mark = stopwatch();
let lab, wb, ws, markers;

const exists = (f) => fs.existsSync(f);

before(async () => {
  const vsix = await flotillaVsix();
  lab = await startLabFleet({ hosts: 1, name: 'restricted', plain: true });
  const dir = path.join(lab.dir, 'restricted');
  ws = path.join(dir, 'workspace');
  fs.mkdirSync(path.join(ws, '.vscode'), { recursive: true });
  markers = {
    userMatchExec: path.join(dir, 'user-match-exec-ran'),
    workspaceMatchExec: path.join(dir, 'workspace-match-exec-ran'),
    workspaceProxy: path.join(dir, 'workspace-proxy-command-ran'),
  };
  // The user's own ssh config (user settings): the lab, plus a Match exec that leaves a marker.
  const userConfig = path.join(dir, 'user_ssh_config');
  fs.writeFileSync(userConfig, `Include ${lab.info.sshConfig}\nMatch exec "touch ${markers.userMatchExec}"\n  Compression no\n`);
  // What the untrusted folder asks for.
  const hostile = path.join(ws, 'ssh_config');
  fs.writeFileSync(hostile, [
    `Match exec "touch ${markers.workspaceMatchExec}"`,
    '  Compression no',
    'Host evil',
    '  HostName 127.0.0.1',
    `  ProxyCommand /bin/sh -c "touch ${markers.workspaceProxy}; exit 1"`,
    '',
  ].join('\n'));
  fs.writeFileSync(path.join(ws, '.vscode', 'settings.json'), JSON.stringify({
    'flotilla.sshConfigFile': hostile,
    'flotilla.matchExec': true,
    'flotilla.push.remotePaths': { lab: '/tmp/flotilla-restricted-push' },
  }, null, 1));
  fs.writeFileSync(path.join(ws, 'README.txt'), 'hello\n');
  wb = await startWorkbench({
    name: 'restricted',
    vsix: [vsix],
    workspaceTrust: true,
    folder: ws,
    userSettings: {
      'flotilla.sshConfigFile': userConfig,
      'flotilla.groupsFile': lab.info.groups,
      'flotilla.matchExec': true,
      'flotilla.connectTimeoutSeconds': 3,
      'security.workspace.trust.enabled': true,
      'security.workspace.trust.startupPrompt': 'never',
    },
  });
  mark('workbench loaded (untrusted)');
});

after(async () => {
  await wb?.stop();
  await lab?.stop();
});

test('untrusted: the hosts come from the user config, no Match exec or ProxyCommand runs, a push is refused', async () => {
  const page = wb.page;
  await page.locator('.statusbar-item', { hasText: 'Restricted Mode' }).first().waitFor({ timeout: 30000 });
  await openViewContainer(page, 'Flotilla');
  await waitForRowDescription(page, 'Hosts', 'lab-1', /load \d/, 60000); // probed: resolution and connects have happened
  const labels = await treeLabels(page, 'Hosts', { has: 'lab-1' });
  assert.ok(!labels.includes('evil'), `the workspace's ssh config is not read: ${labels}`);
  for (const [what, file] of Object.entries(markers)) assert.ok(!exists(file), `${what} did not run`);
  await runCommand(page, 'Flotilla: Push Workspace…', { opensPicker: false }).catch(() => undefined);
  await page.locator('.notification-toast', { hasText: 'disabled in Restricted Mode' }).first().waitFor({ timeout: 15000 });
  await wb.screenshot('restricted-untrusted.png');
  for (const [what, file] of Object.entries(markers)) assert.ok(!exists(file), `${what} still did not run`);
});

test('trusted: the user config\'s Match exec runs; the workspace still cannot name the ssh config', async () => {
  const page = wb.page;
  await runCommand(page, 'Workspaces: Manage Workspace Trust');
  const trust = page.getByRole('button', { name: /^Trust( Folder)?/ }).first();
  await trust.waitFor({ timeout: 15000 });
  await trust.click();
  await page.locator('.statusbar-item', { hasText: 'Restricted Mode' }).first().waitFor({ state: 'hidden', timeout: 15000 });
  const t0 = Date.now();
  while (!exists(markers.userMatchExec) && Date.now() - t0 < 30000) await sleep(200);
  assert.ok(exists(markers.userMatchExec), 'the Match exec of the user\'s own ssh config ran once trusted');
  await openViewContainer(page, 'Flotilla');
  await waitForRowDescription(page, 'Hosts', 'lab-1', /load \d/, 60000);
  const labels = await treeLabels(page, 'Hosts', { has: 'lab-1' });
  assert.ok(!labels.includes('evil'), `machine-scoped settings are never taken from the workspace: ${labels}`);
  assert.ok(!exists(markers.workspaceMatchExec) && !exists(markers.workspaceProxy), 'nothing of the workspace\'s ssh config ran');
  await wb.screenshot('restricted-trusted.png');
});
