// UI-level e2e test of group exec ("Seeing results"): Flotilla installed from its .vsix into a fresh
// code-server pointed at a lab fleet; "Flotilla: Run Command…" from the palette on a group, the Runs
// view's host rows with their states, and the coalesced output document.
// Run: bash test/e2e/run.sh test/e2e/runs.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import {
  flotillaVsix, startLabFleet, labSettings, startWorkbench, openViewContainer, treeLabels, treeRows, treeItem,
  runCommand, sleep, stopwatch, REPO,
  escapeRegExp, biggestGroup, waitForQuickInput, pickQuickItem, widenSideBar, collapsePane,
} from './harness.mjs';

const mark = stopwatch();
const COMMAND = 'uname -n; echo same';
let lab, wb;

before(async () => {
  const vsix = await flotillaVsix();
  mark('extension built and packaged');
  lab = await startLabFleet({ hosts: 3, name: 'runs' });
  mark(`lab fleet up (${lab.info.hosts?.length ?? '?'} hosts)`);
  wb = await startWorkbench({ name: 'runs', vsix: [vsix], userSettings: labSettings(lab) });
  mark('workbench loaded');
});

after(async () => {
  await wb?.stop();
  await lab?.stop();
  mark('torn down');
});

const quickInput = () => wb.page.locator('.quick-input-widget');

/** Text of the active editor (monaco renders only the visible lines; the output document is short). */
async function activeEditorText() {
  return wb.page.evaluate(() => {
    const editor = document.querySelector('.editor-group-container.active .monaco-editor .view-lines');
    if (!editor) return '';
    const lines = [...editor.querySelectorAll('.view-line')]
      .map((l) => ({ top: parseFloat(l.style.top || '0'), text: l.textContent.replace(/\u00a0/g, ' ') }))
      .sort((a, b) => a.top - b.top);
    return lines.map((l) => l.text).join('\n');
  });
}

/** Palette → Run Command… → group → (recent commands: "Type a new command…") → command → Enter on the options step. */
async function runFromPalette(groupName, command) {
  const page = wb.page;
  await page.keyboard.press('F1');
  await quickInput().locator('input').fill('>Flotilla: Run Command…');
  await quickInput().locator('.quick-input-list .monaco-list-row', { hasText: 'Flotilla: Run Command…' }).first().waitFor();
  await page.keyboard.press('Enter');
  await waitForQuickInput(wb.page, 'Run on which hosts?');
  await pickQuickItem(wb.page, groupName);
  if ((await waitForQuickInput(wb.page, ['A recent command', 'e.g. uptime'])) === 'A recent command') {
    await pickQuickItem(wb.page, 'Type a new command…', '');
    await waitForQuickInput(wb.page, 'e.g. uptime');
  }
  await quickInput().locator('.quick-input-box input').fill(command);
  await page.keyboard.press('Enter');
  await waitForQuickInput(wb.page, 'Enter to run');
  await page.keyboard.press('Enter');
}


/** The Runs-view label of a command: the command itself, or its start and "…" when it is long. */
function runLabel(command) {
  return new RegExp(`^(${escapeRegExp(command)}|${escapeRegExp(command.slice(0, 40))}.*…)$`);
}

/** Rows of the Runs view under the run labelled `command` (the newest such run), once `done(hosts)` holds. */
async function hostRowsOf(command, count, done = (hosts) => hosts.every((r) => /exit \d+/.test(r.description))) {
  await treeLabels(wb.page, 'Runs', { has: runLabel(command), timeout: 30000 });
  const t0 = Date.now();
  for (;;) {
    const rows = await treeRows(wb.page, 'Runs');
    const at = rows.findIndex((r) => runLabel(command).test(r.label));
    const hosts = [];
    for (let i = at + 1; i < rows.length && rows[i].level === 2; i++) hosts.push(rows[i]);
    if (hosts.length === count && done(hosts)) return { run: rows[at], hosts };
    if (Date.now() - t0 > 60000) throw new Error(`hosts never finished: ${JSON.stringify(rows)}`);
    await sleep(250);
  }
}

/** Opens the output document of the run row labelled `command` (its inline action) and returns its text once it has `expect`. */
async function openRunOutput(command, expect) {
  const run = treeItem(wb.page, 'Runs', runLabel(command));
  let text = '';
  // The inline action only exists while the row is hovered; a click that lands as the hover toolbar is
  // being redrawn (the tree refreshes while runs finish) is lost, so click again rather than wait forever.
  for (let attempt = 1; attempt <= 3; attempt++) {
    await run.hover();
    await run.locator('.action-label[aria-label^="Show Run Output"]').click();
    const t0 = Date.now();
    while (Date.now() - t0 < 5000) {
      text = await activeEditorText();
      if (expect.test(text)) return text;
      await sleep(200);
    }
  }
  throw new Error(`output document never showed ${expect}:\n${text}`);
}

let group;

test('Run Command… on a group shows live host rows and a coalesced output document', async () => {
  const page = wb.page;
  group = biggestGroup(lab.info.groups);
  assert.ok(group && group.hosts.length >= 2, `the lab has a group with 2+ hosts: ${JSON.stringify(group)}`);
  await openViewContainer(page, 'Flotilla');
  await treeLabels(page, 'Hosts', { has: group.name, timeout: 60000 });
  await treeLabels(page, 'Runs', { min: 1 }); // the Runs view is there (empty-state row)
  mark('Hosts and Runs views visible');

  await runFromPalette(group.name, COMMAND);
  mark('run started');
  const { run: runRow, hosts: hostRows } = await hostRowsOf(COMMAND, group.hosts.length);
  mark(`Runs view: ${JSON.stringify([runRow, ...hostRows])}`);
  const n = group.hosts.length;
  assert.match(runRow.description, new RegExp(`^${n} ok · `), 'the run summary counts the states');
  assert.deepEqual(hostRows.map((r) => r.label), [...group.hosts].sort());
  for (const r of hostRows) assert.match(r.description, /^exit 0 · \d/, `${r.label}: ${r.description}`);

  // The coalesced output: the run row's inline "Show Run Output" action.
  const text = await openRunOutput(COMMAND, /│ same/);
  mark(`output document:\n${text}`);
  assert.match(text, /^Flotilla run /m);
  assert.match(text, /^━━━━ .+ \(\d+ hosts?\) · ok$/m, 'a group header names its hosts');
  assert.match(text, /^ {2}│ same$/m, 'remote lines are framed by the gutter');
  const groupHeaders = text.split('\n').filter((l) => /^━━━━ .+ \(\d+ hosts?\)/.test(l));
  const grouped = groupHeaders.reduce((n, l) => n + Number(/\((\d+) hosts?\)/.exec(l)?.[1] ?? 0), 0);
  assert.equal(grouped, n, `every host appears in exactly one group: ${groupHeaders.join(' | ')}`);
  if (groupHeaders.length === 1) assert.ok(groupHeaders[0].includes(`${[...group.hosts].sort().join(', ')} (${n} hosts)`), 'identical output grouped');
});

// lab-N listens on 127.A.B.N:2222; sshd puts "client port server-ip server-port" in $SSH_CONNECTION.
const MIXED = 'case "$SSH_CONNECTION" in *.2\\ 2222) echo different; exit 3;; esac; echo same';

test('a run where one host differs: failed state, two output groups, majority first', async () => {
  const page = wb.page;
  await runFromPalette(group.name, MIXED);
  const { run, hosts } = await hostRowsOf(MIXED, group.hosts.length);
  mark(`Runs view: ${JSON.stringify([run, ...hosts])}`);
  const n = group.hosts.length;
  assert.match(run.description, new RegExp(`^${n - 1} ok · 1 failed · `));
  assert.match(hosts.find((h) => h.label === 'lab-2').description, /^exit 3 · /);

  const text = await openRunOutput(MIXED, /│ different/);
  mark(`output document:\n${text}`);
  const headers = text.split('\n').filter((l) => /^━━━━ .+ \(\d+ hosts?\)/.test(l));
  assert.equal(headers.length, 2, `two output groups: ${headers.join(' | ')}`);
  assert.match(headers[0], new RegExp(`\\(${n - 1} hosts\\) · ok$`), 'the majority group comes first');
  assert.match(headers[1], /^━━━━ lab-2 \(1 host\) · failed$/);

  await runCommand(page, 'Notifications: Clear All Notifications');
  await widenSideBar(page, 520); // the run descriptions readable in the screenshot
  await page.mouse.move(1100, 850); // off the tree: no hover toolbar or tooltip in the shot
  await sleep(400);
  await wb.screenshot('runs-view.png');
});

/** Live processes whose command line contains `text` (the lab is local). */
function pgrep(text) {
  return fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid).filter((p) => {
    try { return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').includes(text); } catch { return false; }
  });
}

test('a run started from the CLI shows live in the Runs view and is cancelled from there', async () => {
  const page = wb.page;
  // The extension's default run store is $XDG_DATA_HOME/flotilla of its process; the CLI takes the same.
  const store = path.join(wb.server.dir, 'xdg-data', 'flotilla');
  const command = 'echo from-the-cli; sleep 4771';
  const cli = spawn(process.execPath, [path.join(REPO, 'dist/cli.js'), '--ssh-config', lab.info.sshConfig, '--groups', lab.info.groups,
    '--store', store, '--json', 'run', 'lab-1,lab-2', '--', command], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SSH_AUTH_SOCK: '' } });
  let out = '', err = '';
  cli.stdout.on('data', (d) => (out += d));
  cli.stderr.on('data', (d) => (err += d));
  const exited = new Promise((resolve) => cli.on('close', (code) => resolve(code)));
  try {
    const { run, hosts } = await hostRowsOf(command, 2, (h) => h.every((r) => /^running/.test(r.description)));
    mark(`CLI run live in the Runs view: ${JSON.stringify([run, ...hosts])}`);
    assert.match(run.description, /^0\/2 done · running · /);
    await widenSideBar(page, 520);
    await page.mouse.move(1100, 850);
    await sleep(300);
    await wb.screenshot('runs-cli-live.png');

    // Cancel from the view: the running run's inline action.
    const row = treeItem(page, 'Runs', runLabel(command));
    await row.hover();
    await row.locator('.action-label[aria-label^="Cancel Run"]').click();
    const code = await exited;
    mark(`CLI exited ${code}: ${err.trim()}`);
    assert.equal(code, 4, `the CLI reports the cancel (exit 4): ${err}`);
    const result = JSON.parse(out);
    assert.deepEqual(result.hosts.map((h) => [h.host, h.state, h.remoteStopped]), [['lab-1', 'cancelled', true], ['lab-2', 'cancelled', true]]);
    assert.deepEqual(pgrep('sleep 4771'), [], 'nothing left on the hosts');
    const after = await hostRowsOf(command, 2, (h) => h.every((r) => /^cancelled/.test(r.description)));
    assert.match(after.run.description, /^2 cancelled · /);
    await page.mouse.move(1100, 850);
    await sleep(300);
    await wb.screenshot('runs-cli-cancelled.png');
  } finally {
    cli.kill('SIGKILL');
    for (const p of pgrep('sleep 4771')) { try { process.kill(Number(p), 'SIGKILL'); } catch { /* gone */ } }
  }
});

/** What the window shows, sampled at once: the progress toast of `command`, its completion toast, and its host rows. */
async function sample(command) {
  return wb.page.evaluate((cmd) => {
    const toasts = [...document.querySelectorAll('.notification-toast')].map((t) => t.textContent ?? '');
    const active = document.activeElement;
    return {
      t: Date.now(),
      progress: toasts.some((t) => t.includes(`Flotilla: ${cmd}`) && /hosts done/.test(t)),
      completion: toasts.some((t) => t.includes(`Flotilla: ${cmd} — `)),
      inEditor: !!active?.closest('.editor-group-container .monaco-editor'),
    };
  }, command);
}

test('a run started from the editor: the collapsed Runs view opens without taking focus, the progress goes when the hosts are done, one output tab', async () => {
  const page = wb.page;
  await runCommand(page, 'Notifications: Clear All Notifications');
  await runCommand(page, 'View: Close All Editors');
  await collapsePane(page, 'Runs');
  assert.equal(await page.locator('.pane-header', { hasText: 'Runs' }).first().getAttribute('aria-expanded'), 'false');
  await page.keyboard.press('Control+P');
  await pickQuickItem(page, 'README.txt');
  await page.locator('.editor-group-container.active .monaco-editor .view-lines').click();
  assert.ok((await sample('-')).inEditor, 'the editor has the focus');

  const first = 'sleep 1; echo first';
  await runFromPalette(group.name, first);
  const samples = [];
  for (const t0 = Date.now(); Date.now() - t0 < 60000;) {
    const s = await sample(first);
    samples.push(s);
    if (s.completion && !s.progress) break;
    await sleep(50);
  }
  const runs = page.locator('.pane-header', { hasText: 'Runs' }).first();
  assert.equal(await runs.getAttribute('aria-expanded'), 'true', 'the Runs view was opened');
  const started = samples.find((s) => s.progress);
  const done = samples.find((s) => s.completion);
  assert.ok(started && done, `progress then completion seen: ${JSON.stringify(samples.slice(-3))}`);
  assert.ok(samples.every((s) => s.inEditor), 'the focus stayed in the editor');
  const both = samples.filter((s) => s.completion && s.progress);
  mark(`progress shown ${done.t - started.t} ms; completion with progress still shown in ${both.length} samples`);
  assert.equal(both.length, 0, 'the progress toast is gone by the time the run says it is done');
  await treeLabels(page, 'Runs', { has: runLabel(first) });
  await wb.screenshot('runs-revealed.png');

  // "Show Output" on two runs' completion toasts: the second document takes the first one's tab.
  const showOutput = async (command, expect) => {
    const toast = page.locator('.notification-toast', { hasText: `Flotilla: ${command} — ` }).first();
    await toast.locator('.monaco-button', { hasText: 'Show Output' }).click();
    for (const t0 = Date.now(); !expect.test(await activeEditorText()); await sleep(200)) {
      if (Date.now() - t0 > 15000) throw new Error(`the output of ${command} never showed`);
    }
  };
  await showOutput(first, /│ first/);
  const second = 'echo second';
  await runFromPalette(group.name, second);
  // A sub-second run: the workbench keeps its progress toast up 800 ms; the completion waits for it to go.
  let quick;
  for (const t0 = Date.now(); !(quick = await sample(second)).completion; await sleep(20)) {
    if (Date.now() - t0 > 60000) throw new Error(`${second} never said it was done`);
  }
  assert.equal(quick.progress, false, 'the progress toast of a sub-second run is gone when the run says it is done');
  await wb.screenshot('runs-quick-run-done.png');
  await showOutput(second, /│ second/);
  const tabs = await page.locator('.tabs-container .tab').allInnerTexts();
  mark(`tabs: ${JSON.stringify(tabs)}`);
  assert.deepEqual(tabs.filter((t) => /^Output · /.test(t.trim())).map((t) => t.trim()), [`Output · ${second}`], 'one run output tab');
  assert.ok(tabs.some((t) => t.replace(/\s+/g, '').includes('README.txt')), 'other editors stay open');
  await wb.screenshot('runs-one-output-tab.png');
});
