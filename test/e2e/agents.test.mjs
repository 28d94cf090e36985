// Agents e2e (issue: remote tmux agent sessions): a lab host runs a tmux session; in the workbench the
// Agents view lists it, "Attach Terminal" opens it in a VS Code terminal, typed input round-trips,
// a resize reaches tmux, and closing + re-attaching shows the same session with its earlier output.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  REPO, flotillaVsix, startLabFleet, labSettings, startWorkbench, openViewContainer, treeLabels, runCommand,
  waitForTerminalText, terminalText, stopwatch, sleep, waitForQuickInput, pickQuickItem, treeItem, treeRows, collapsePane,
} from './harness.mjs';

const mark = stopwatch();
let lab, wb;
const SESSION = 'e2e-agent';
const FAKE_AGENT = fs.readFileSync(path.join(REPO, 'test/integration/fixtures/fake-agent.sh'));
/** How often the Agents view lists a host (AgentsTree's default interval). */
const POLL_MS = 5000;

function cli(...args) {
  return execFileSync(process.execPath, [path.join(REPO, 'dist/cli.js'), '--ssh-config', lab.info.sshConfig, '--groups', lab.info.groups, ...args], { encoding: 'utf8' });
}

before(async () => {
  const vsix = await flotillaVsix();
  lab = await startLabFleet({ hosts: 2, name: 'agents', isolated: true });
  cli('agents', 'spawn', 'lab-1', '/tmp', '--name', SESSION, '--', 'bash');
  cli('run', 'lab-1', '--', `printf %s ${FAKE_AGENT.toString('base64')} | base64 -d > "$HOME/fake-agent.sh" && chmod +x "$HOME/fake-agent.sh"`);
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
  // The view follows the hosts on its schedule (the core poller): a session started elsewhere shows up
  // by itself while the view is visible, and one started while it is collapsed once it is expanded.
  cli('agents', 'spawn', 'lab-1', '/tmp', '--name', 'e2e-later', '--', 'bash');
  await treeLabels(wb.page, 'Agents', { has: 'e2e-later', timeout: 30000 });
  await collapsePane(wb.page, 'Agents');
  cli('run', 'lab-1', '--', 'tmux kill-session -t e2e-later');
  cli('agents', 'spawn', 'lab-1', '/tmp', '--name', 'e2e-hidden', '--', 'bash');
  await wb.page.locator('.pane-header', { hasText: 'Agents' }).first().click();
  await treeLabels(wb.page, 'Agents', { has: 'e2e-hidden', timeout: 30000 });
  for (const t0 = Date.now(); (await treeLabels(wb.page, 'Agents')).includes('e2e-later'); await sleep(250)) {
    if (Date.now() - t0 > 30000) throw new Error('the ended session stayed listed');
  }
  cli('run', 'lab-1', '--', 'tmux kill-session -t e2e-hidden');
  mark('sessions started and ended elsewhere followed');
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

const quickInput = () => wb.page.locator('.quick-input-widget');

test('Broadcast from the Agents view menu asks which panes receive the text, even with one pane selected', async () => {
  const page = wb.page;
  await runCommand(page, 'View: Close All Editors');
  await runCommand(page, 'View: Hide Panel');
  // One pane selected in the tree (its click opens a peek, too).
  const pane = treeItem(page, 'Agents', /^\S+ bash$/);
  await pane.click();
  const header = page.locator('.pane-header', { hasText: 'Agents' }).first();
  // The view's "…" menu, chosen with the keyboard (a click on an entry while the menu settles is lost).
  const menu = page.locator('.context-view .monaco-menu');
  for (let attempt = 1; ; attempt++) {
    await header.hover();
    await header.locator('.action-label[aria-label*="More Actions"]').click();
    if (await menu.waitFor({ timeout: 3000 }).then(() => true, () => false)) {
      for (let i = 0; i < 12; i++) {
        await page.keyboard.press('ArrowDown');
        const focused = await page.locator('.context-view .action-item.focused').first().innerText({ timeout: 1000 }).catch(() => '');
        if (focused.includes('Broadcast Text to Panes')) { await page.keyboard.press('Enter'); break; }
      }
      if (await waitForQuickInput(page, 'Tick every pane', 3000).then(() => true, () => false)) break;
    }
    if (attempt === 5) { await wb.screenshot('agents-menu-debug.png'); throw new Error('the Agents view menu never stayed open'); }
    await page.keyboard.press('Escape');
  }
  await waitForQuickInput(page, 'Tick every pane that should receive the text');
  const rows = quickInput().locator('.quick-input-list .monaco-list-row');
  await rows.first().waitFor();
  const labels = await rows.allInnerTexts();
  mark(`broadcast picker: ${JSON.stringify(labels)}`);
  assert.ok(labels.some((l) => l.includes(`lab-1:${SESSION}:`)), 'the panes are listed to choose from');
  assert.notEqual(await rows.first().getAttribute('aria-checked'), null, 'panes are ticked, several at once');
  await wb.screenshot('agents-broadcast-picker.png');
  const row = rows.filter({ hasText: `lab-1:${SESSION}:` }).first();
  await row.click();
  if ((await row.getAttribute('aria-checked')) !== 'true') await row.click();
  assert.equal(await row.getAttribute('aria-checked'), 'true', 'the pane is ticked');
  await page.keyboard.press('Enter');
  await waitForQuickInput(page, 'Broadcast to 1 pane');
  await quickInput().locator('.quick-input-box input').fill('echo broadcast-$((6*7))');
  await page.keyboard.press('Enter');
  const dialog = page.locator('.monaco-dialog-box');
  await dialog.waitFor({ timeout: 10000 });
  assert.match(await dialog.innerText(), new RegExp(`lab-1:${SESSION}:`), 'the confirmation names the receivers');
  await dialog.getByRole('button', { name: 'Send to All' }).click();
  for (const t0 = Date.now(); !/broadcast-42/.test(cli('run', 'lab-1', '--', `tmux capture-pane -p -t ${SESSION}`)); await sleep(300)) {
    if (Date.now() - t0 > 20000) throw new Error('the broadcast text never reached the pane');
  }
});

test('New Agent Session with an agent the host does not have says so after the command, naming the setting', async () => {
  const page = wb.page;
  if (await quickInput().isVisible()) await page.keyboard.press('Escape');
  await runCommand(page, 'Flotilla: New Agent Session…', { opensPicker: true });
  await waitForQuickInput(page, 'New agent session on which host?');
  await pickQuickItem(page, 'lab-1');
  await waitForQuickInput(page, 'Agent command to run on lab-1');
  assert.match(await quickInput().locator('.quick-input-message').innerText(), /flotilla\.agents\.command/, 'the command prompt names the setting its default comes from');
  assert.equal(await quickInput().locator('.quick-input-box input').inputValue(), 'claude');
  await page.keyboard.press('Enter');
  const toast = page.locator('.notification-toast', { hasText: 'not installed on lab-1' }).first();
  await toast.waitFor({ timeout: 20000 });
  const text = await toast.innerText();
  mark(`missing agent: ${text}`);
  assert.match(text, /claude is not installed on lab-1/);
  assert.match(text, /flotilla\.agents\.command/);
  assert.ok(await toast.getByRole('button', { name: 'Open Setting' }).isVisible());
  const more = await waitForQuickInput(page, 'Project directory', 1500).then(() => true, () => false);
  assert.equal(more, false, 'no more questions after the missing agent');
  await wb.screenshot('agents-missing-claude.png');
});

/** The first line of the active editor (the peek's header). */
async function activeEditorFirstLine() {
  return wb.page.evaluate(() => {
    const lines = [...(document.querySelector('.editor-group-container.active .monaco-editor .view-lines')?.querySelectorAll('.view-line') ?? [])];
    lines.sort((a, b) => parseFloat(a.style.top || '0') - parseFloat(b.style.top || '0'));
    return (lines[0]?.textContent ?? '').replace(/\u00a0/g, ' ');
  });
}

async function untilHeader(re, what) {
  for (const t0 = Date.now(); ; await sleep(250)) {
    const line = await activeEditorFirstLine();
    if (re.test(line)) return line;
    if (Date.now() - t0 > 30000) throw new Error(`${what}: the peek says ${JSON.stringify(line)}`);
  }
}

test('a followed peek stops following when its connection closes, and says so', async () => {
  const page = wb.page;
  // No terminal of an earlier test may keep the connection busy (it would stay open, rightly).
  await runCommand(page, 'Terminal: Kill All Terminals');
  await runCommand(page, 'View: Close All Editors');
  await runCommand(page, 'Flotilla: Peek at Pane', { opensPicker: true });
  const row = quickInput().locator('.quick-input-list .monaco-list-row', { hasText: `lab-1:${SESSION}` }).first();
  await row.waitFor({ timeout: 20000 });
  await row.click();
  await untilHeader(new RegExp(`^# lab-1:${SESSION}:\\S+ — snapshot`), 'a snapshot');
  await runCommand(page, 'Flotilla: Follow Pane (toggle)');
  await untilHeader(/following, refreshed every 2 s/, 'following');
  // An edit of the ssh config retires the connections made under the old one; once idle they close.
  fs.appendFileSync(lab.info.sshConfig, '\n# edited by the agents e2e test\n');
  const line = await untilHeader(/stopped following: the connection to lab-1 closed/, 'stopped following');
  mark(`peek: ${line}`);
  await wb.screenshot('agents-peek-stopped.png');
});

/** The badge on the Flotilla activity-bar icon ('' when none is shown). */
async function containerBadge(page) {
  return page.locator('.activitybar').getByRole('tab', { name: 'Flotilla' }).evaluate((tab) => {
    const badge = tab.querySelector('.badge');
    const content = badge?.querySelector('.badge-content');
    if (!badge || !content || getComputedStyle(badge).display === 'none') return '';
    return content.textContent.trim();
  });
}

async function untilBadge(page, want, timeout, what) {
  for (const t0 = Date.now(); ; await sleep(100)) {
    const badge = await containerBadge(page);
    if (want(badge)) return { badge, ms: Date.now() - t0 };
    if (Date.now() - t0 > timeout) {
      await wb.screenshot('agents-badge-debug.png');
      throw new Error(`${what}: the badge says ${JSON.stringify(badge)} after ${timeout} ms`);
    }
  }
}

test('the badge counts an agent waiting for input, not a plain shell at its prompt, and clears while the view is collapsed', async () => {
  const page = wb.page;
  await openViewContainer(page, 'Flotilla');
  // A plain tmux shell at its prompt is listed, and asks nothing of anyone.
  await treeItem(page, 'Agents', /^\S+ bash$/).waitFor({ timeout: 30000 });
  await untilBadge(page, (b) => b === '', POLL_MS * 2, 'a plain shell only');
  const shellRow = (await treeRows(page, 'Agents')).find((r) => / bash$/.test(r.label));
  assert.match(shellRow?.description ?? '', /^(idle|working) · /, `the plain shell's row: ${JSON.stringify(shellRow)}`);
  // A scripted agent asking "Do you want to proceed? (y/n)" and waiting for the answer lights the badge.
  cli('run', 'lab-1', '--', 'tmux new-session -d -s e2e-fake -x 120 -y 30 "$HOME/fake-agent.sh"');
  await treeLabels(page, 'Agents', { has: 'e2e-fake', timeout: 30000 });
  const lit = await untilBadge(page, (b) => b === '1', POLL_MS * 2, 'an agent waiting');
  mark(`badge lit (${lit.badge}) ${lit.ms} ms after the agent was listed`);
  const rows = await treeRows(page, 'Agents');
  const waiting = rows.filter((r) => r.description.startsWith('waiting'));
  assert.equal(waiting.length, 1, `one pane waiting: ${JSON.stringify(rows)}`);
  assert.doesNotMatch(waiting[0].label, / bash$/, 'the waiting pane is the agent, not the shell');
  await wb.screenshot('agents-badge-waiting.png');
  // With the Agents view collapsed the badge stays on the activity bar, and follows the hosts:
  // ending the agent's session elsewhere clears it within the poll interval (plus one listing).
  await collapsePane(page, 'Agents');
  await page.locator('.pane-header[aria-expanded="false"]', { hasText: 'Agents' }).first().waitFor();
  assert.equal(await containerBadge(page), '1', 'collapsing the view keeps the badge');
  cli('run', 'lab-1', '--', 'tmux kill-session -t e2e-fake');
  const cleared = await untilBadge(page, (b) => b === '', POLL_MS + 5000, 'the agent session ended with the view collapsed');
  mark(`badge cleared ${cleared.ms} ms after the session ended (view collapsed)`);
  await wb.screenshot('agents-badge-cleared.png');
  await page.locator('.pane-header', { hasText: 'Agents' }).first().click();
  await treeLabels(page, 'Agents', { has: SESSION, timeout: 30000 });
});
