// Agents e2e (issue: remote tmux agent sessions): a lab host runs a tmux session; in the workbench the
// Agents view lists it, "Attach Terminal" opens it in a VS Code terminal, typed input round-trips,
// a resize reaches tmux, and closing + re-attaching shows the same session with its earlier output.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import {
  REPO, flotillaVsix, startLabFleet, labSettings, startWorkbench, openViewContainer, treeLabels, runCommand,
  waitForTerminalText, terminalText, stopwatch, sleep,
} from './harness.mjs';

const mark = stopwatch();
let lab, wb;
const SESSION = 'e2e-agent';

function cli(...args) {
  return execFileSync(process.execPath, [path.join(REPO, 'dist/cli.js'), '--ssh-config', lab.info.sshConfig, '--groups', lab.info.groups, ...args], { encoding: 'utf8' });
}

before(async () => {
  const vsix = await flotillaVsix();
  lab = await startLabFleet({ hosts: 2, name: 'agents', isolated: true });
  cli('agents', 'spawn', 'lab-1', '/tmp', '--name', SESSION, '--', 'bash');
  mark('lab up, tmux session spawned');
  wb = await startWorkbench({ name: 'agents', vsix: [vsix], userSettings: { ...labSettings(lab), 'flotilla.connectTimeoutSeconds': 2 } });
});

after(async () => {
  try { cli('run', 'lab-1', '--', 'tmux kill-server'); } catch { /* already gone */ }
  await wb?.stop();
  await lab?.stop();
});

async function attachFromPalette(page) {
  await runCommand(page, 'Flotilla: Attach Terminal', { opensPicker: true });
  const row = page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: `lab-1:${SESSION}` }).first();
  await row.waitFor({ timeout: 20000 });
  await row.click();
  await page.locator('.terminal-wrapper.active .xterm-rows').waitFor({ timeout: 20000 });
}

async function clientSize(page, marker) {
  await page.keyboard.type(`tmux display -p "${marker}=#{client_width}x#{client_height}"`);
  await page.keyboard.press('Enter');
  const text = await waitForTerminalText(page, new RegExp(`${marker}=\\d+x\\d+`), 15000);
  return text.match(new RegExp(`${marker}=(\\d+x\\d+)`))[1];
}

test('the Agents view lists the tmux session of a lab host', async () => {
  await openViewContainer(wb.page, 'Flotilla');
  const labels = await treeLabels(wb.page, 'Agents', { has: SESSION, timeout: 60000 });
  assert.ok(labels.includes('lab-1'), `Agents view: ${labels}`);
  assert.ok(labels.includes(SESSION));
  mark('agents listed');
});

test('attach, type, resize, close and re-attach to the same session', async () => {
  const page = wb.page;
  await attachFromPalette(page);
  await page.locator('.terminal-wrapper.active').click();
  await page.keyboard.type('echo hi-from-$((40+2))');
  await page.keyboard.press('Enter');
  await waitForTerminalText(page, 'hi-from-42', 20000);
  mark('typed and read back');

  const before = await clientSize(page, 'SIZE1');
  await runCommand(page, 'View: Toggle Maximized Panel');
  await sleep(1500);
  await page.locator('.terminal-wrapper.active').click();
  const after = await clientSize(page, 'SIZE2');
  assert.notEqual(after, before, `tmux client size follows the terminal (${before} → ${after})`);
  await wb.screenshot('agents-terminal.png');
  mark(`resized ${before} → ${after}`);

  await runCommand(page, 'Terminal: Kill the Active Terminal Instance');
  await sleep(1000);
  const listed = JSON.parse(cli('agents', 'lab-1', '--json'));
  const session = listed.hosts[0].sessions.find((s) => s.session === SESSION);
  assert.ok(session, 'the session survives closing the terminal');

  await attachFromPalette(page);
  const text = await waitForTerminalText(page, 'hi-from-42', 20000);
  assert.match(text, /SIZE2=/, 'the re-attached terminal shows the earlier output of the same session');
  await wb.screenshot('agents-reattached.png');
  assert.ok((await terminalText(page)).length > 0);
});
