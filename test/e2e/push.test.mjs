// Push e2e (issue: push the workspace with a per-host dry-run plan and diff): in the Explorer, right-click
// the `app` folder → "Flotilla: Push to Group…" → a group → `~/deploy/app`; the Push Plan view shows every
// host's counts before anything is written, hosts with identical plans sharing one row (lab-1 already has a
// different config.json: its own row with a "content changed" item), clicking that item opens a remote ↔
// local diff editor, Apply (after the confirmation modal) writes the files, and the CLI reads them back from
// every host. Then a single file: right-click README.txt → Push to Group… → `~/deploy/notes/` → plan → apply.
// Run: bash test/e2e/run.sh test/e2e/push.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  REPO, chooseContextMenuItem, flotillaVsix, startLabFleet, labSettings, startWorkbench, treeView, treeRows, treeItem,
  waitForTreeStable, runCommand, stopwatch, sleep,
  biggestGroup, waitForQuickInput, pickQuickItem, collapsePane, widenSideBar, followProgressToast,
} from './harness.mjs';

const mark = stopwatch();
const DEST = '~/deploy/app';
const APP = {
  'index.js': "const config = require('./config.json');\nconsole.log(`listening on ${config.port}`);\n",
  'config.json': '{\n  "port": 8080,\n  "name": "app",\n  "debug": false\n}\n',
  'README.md': '# app\n\nPushed by the Flotilla e2e test.\n',
};
const REMOTE_OLD_CONFIG = '{\n  "port": 3000,\n  "name": "app"\n}\n';
let lab, wb, group;

function cli(...args) {
  return execFileSync(process.execPath, [path.join(REPO, 'dist/cli.js'), '--ssh-config', lab.info.sshConfig, '--groups', lab.info.groups,
    '--history-dir', path.join(lab.dir, 'cli-history'), ...args], { encoding: 'utf8' });
}

before(async () => {
  const vsix = await flotillaVsix();
  mark('extension built and packaged');
  lab = await startLabFleet({ hosts: 3, name: 'push', isolated: true });
  group = biggestGroup(lab.info.groups);
  // One host already has an older config.json at the destination: its plan has an "update" item.
  cli('run', 'lab-1', '--', `mkdir -p ${DEST} && printf '%s' '${REMOTE_OLD_CONFIG}' > ${DEST}/config.json`);
  mark(`lab fleet up; group ${group.name}: ${group.hosts.join(', ')}`);
  wb = await startWorkbench({
    name: 'push', vsix: [vsix],
    userSettings: { ...labSettings(lab), 'flotilla.connectTimeoutSeconds': 5, 'flotilla.health.intervalSeconds': 600 },
    // The app/ folder exists before the workbench opens, so the Explorer shows it at once.
    workspaceFiles: { 'README.txt': 'workspace root\n', ...Object.fromEntries(Object.entries(APP).map(([n, t]) => [`app/${n}`, t])) },
  });
  mark('workbench loaded');
});

after(async () => {
  await wb?.stop();
  await lab?.stop();
  mark('torn down');
});

const quickInput = () => wb.page.locator('.quick-input-widget');

/**
 * Push Plan host rows (level 1: one per set of hosts with identical plans, labelled "lab-2, lab-3") once every
 * host has been planned (or applied, with `done`).
 */
async function planHostRows(done = (r) => !/planning|waiting|^\d+\/\d+/.test(r.description), timeout = 60000) {
  const t0 = Date.now();
  for (;;) {
    const rows = await treeRows(wb.page, 'Push Plan').catch(() => []);
    const hosts = rows.filter((r) => r.level === 1);
    const covered = hosts.flatMap((h) => h.label.split(', '));
    if (covered.length === group.hosts.length && new Set(covered).size === covered.length && hosts.every(done)) return { rows, hosts };
    if (Date.now() - t0 > timeout) throw new Error(`Push Plan never settled: ${JSON.stringify(rows)}`);
    await sleep(250);
  }
}

/** A pane's title action (they show on hover). */
async function clickViewAction(paneTitle, actionLabel) {
  const pane = wb.page.locator('.pane', { has: wb.page.locator('.pane-header', { hasText: paneTitle }) }).first();
  await pane.locator('.pane-header').hover();
  const action = pane.locator(`.pane-header .action-label[aria-label^="${actionLabel}"]`).first();
  await action.waitFor({ timeout: 10000 });
  await action.click();
}

test('Explorer → Push to Group… shows a per-host dry-run plan; a changed file opens a remote ↔ local diff', async () => {
  const page = wb.page;
  // In code-server the extension's contributions (menus included) arrive once the remote extension host
  // has scanned it: its activity-bar entry shows that has happened.
  await page.locator('.activitybar').getByRole('tab', { name: 'Flotilla' }).waitFor({ timeout: 30000 });
  await runCommand(page, 'View: Show Explorer');
  const appRow = page.locator('.explorer-folders-view .monaco-list-row', { has: page.locator('.label-name', { hasText: /^app$/ }) }).first();
  await appRow.waitFor({ timeout: 30000 });
  await appRow.click({ button: 'right' });
  await chooseContextMenuItem(page, 'Flotilla: Push to Group…');
  mark('Explorer context menu: Flotilla: Push to Group…');

  await waitForQuickInput(wb.page, 'Push to which hosts?');
  await pickQuickItem(wb.page, group.name);
  await waitForQuickInput(wb.page, '~/project or /srv/app');
  // The destination is validated as it is typed: the home directory itself is refused.
  await quickInput().locator('.quick-input-box input').fill('~/');
  await quickInput().locator('.quick-input-message', { hasText: 'home directory itself' }).waitFor({ timeout: 5000 });
  await quickInput().locator('.quick-input-box input').fill(DEST);
  await page.keyboard.press('Enter');
  mark('remote path entered');
  // The plan fills the view host by host and its progress is in the status bar: no toast outlasts it.
  const planned = () => treeRows(page, 'Push Plan').then((rows) => rows.some((r) => r.level === 1 && /unchanged/.test(r.description)), () => false);
  const planToast = await followProgressToast(page, 'planning push', planned);
  assert.equal(planToast.seen, false, 'no progress toast for planning');
  await treeView(page, 'Push Plan').waitFor({ timeout: 30000 });
  for (const pane of ['Hosts', 'Runs', 'Agents']) await collapsePane(wb.page, pane);
  await widenSideBar(wb.page, );

  const { rows, hosts } = await planHostRows();
  mark(`Push Plan: ${JSON.stringify(rows)}`);
  const others = group.hosts.filter((h) => h !== 'lab-1');
  assert.deepEqual(hosts.map((h) => h.label), ['lab-1', others.join(', ')], 'hosts with identical plans share one row, in group order');
  assert.match(hosts[1].description, /^3 new · 0 unchanged$/, `${hosts[1].label}: ${hosts[1].description}`);
  assert.match(hosts[0].description, /^2 new · 1 changed · 0 unchanged$/);
  assert.ok(rows.some((r) => r.level === 2 && r.label === 'index.js' && /^new file · \d+ B$/.test(r.description)), `items in words: ${JSON.stringify(rows)}`);
  const updateLine = rows.find((r) => r.level === 2 && r.label === 'config.json' && /^content changed \(size differs\)/.test(r.description));
  assert.ok(updateLine, `lab-1 lists config.json as changed: ${JSON.stringify(rows)}`);
  // Nothing was written by planning.
  assert.equal(cli('run', 'lab-2', '--', `test -e ${DEST} && echo exists || echo absent`).includes('absent'), true, 'planning wrote nothing on lab-2');

  // Click the update item → VS Code's diff editor, remote (read over SFTP) on the left, local on the right.
  await treeItem(page, 'Push Plan', updateLine.label).click();
  const tab = page.locator('.tabs-container .tab', { hasText: 'config.json (lab-1 ↔ local)' }).first();
  await tab.waitFor({ timeout: 20000 });
  const diff = page.locator('.editor-group-container.active .monaco-diff-editor');
  await diff.waitFor({ timeout: 20000 });
  await page.waitForFunction(() => {
    const d = document.querySelector('.editor-group-container.active .monaco-diff-editor');
    const text = (sel) => [...(d?.querySelectorAll(`${sel} .view-line`) ?? [])].map((l) => l.textContent).join('\n');
    return text('.editor.original').includes('3000') && text('.editor.modified').includes('8080');
  }, undefined, { timeout: 20000 });
  mark('diff editor shows the remote (port 3000) and local (port 8080) versions');
  await runCommand(page, 'Notifications: Clear All Notifications'); // e.g. the lab's unknown-key host
  await page.mouse.move(1100, 850);
  await sleep(500);
  await wb.screenshot('push-diff.png');
});

test('Apply (after the confirmation modal) pushes to every host and the plan view shows the results', async () => {
  const page = wb.page;
  await clickViewAction('Push Plan', 'Apply Push');
  const dialog = page.locator('.monaco-dialog-box');
  await dialog.waitFor({ timeout: 10000 });
  const text = await dialog.innerText();
  mark(`confirmation: ${text.replace(/\n+/g, ' | ')}`);
  assert.match(text, /Push app\/ to 3 hosts\?/);
  assert.match(text, /lab-1: 2 new, 1 changed/);
  assert.match(text, /lab-2: 3 new/);
  assert.doesNotMatch(text, /DELETED/, 'no deletions by default');
  await dialog.getByRole('button', { name: 'Push', exact: true }).click();
  const applyToast = await followProgressToast(page, 'Flotilla: pushing', async () => (await page.locator('.notification-toast', { hasText: 'Flotilla: push to ' }).count()) > 0);
  mark(`apply: progress toast seen ${applyToast.seen}, still up with the result ${applyToast.withResult}`);
  assert.equal(applyToast.withResult, false, 'the progress toast is gone when the push says it is done');
  await wb.screenshot('push-apply-result.png');

  const { rows, hosts } = await planHostRows((r) => /^(ok|partial|failed|unreachable|cancelled) ·/.test(r.description));
  mark(`after apply: ${JSON.stringify(rows)}`);
  for (const h of hosts) assert.match(h.description, /^ok · /, `${h.label}: ${h.description}`);
  assert.match(hosts.find((h) => h.label === 'lab-1').description, /^ok · 2 created · 1 updated · /);
  assert.match(hosts.find((h) => h.label !== 'lab-1').description, /^ok · 3 created · /);

  for (const host of group.hosts) {
    const out = cli('run', host, '--', `cd ${DEST} && for f in ${Object.keys(APP).join(' ')}; do echo "== $f"; cat "$f"; done`);
    for (const [name, content] of Object.entries(APP)) {
      assert.ok(out.includes(`== ${name}`), `${host}: ${name} listed: ${out}`);
      for (const line of content.split('\n').filter(Boolean)) assert.ok(out.includes(line), `${host}: ${name} has ${JSON.stringify(line)}: ${out}`);
    }
  }
  const config = cli('run', 'lab-1', '--', `cat ${DEST}/config.json`);
  assert.match(config, /8080/, 'lab-1 config.json was replaced by the local version');
  assert.doesNotMatch(config, /3000/);
  mark('CLI reads the pushed files back from every host');
  // The open diff re-reads the remote side: both sides now have the local version.
  await page.waitForFunction(() => {
    const d = document.querySelector('.editor-group-container.active .monaco-diff-editor');
    const text = [...(d?.querySelectorAll('.editor.original .view-line') ?? [])].map((l) => l.textContent).join('\n');
    return text.includes('8080') && !text.includes('3000');
  }, undefined, { timeout: 20000 });
  assert.equal((await treeRows(page, 'Push Plan')).some((r) => /does not exist yet/.test(r.label)), false, 'the "will be created" note is gone once applied');

  await runCommand(page, 'Notifications: Clear All Notifications');
  await waitForTreeStable(page, 'Push Plan');
  await page.mouse.move(1100, 850);
  await sleep(500);
  await wb.screenshot('push-applied.png');
});

test('a single file: Explorer → Push to Group… → a directory ending in / → one grouped plan row → Apply', async () => {
  const page = wb.page;
  await runCommand(page, 'View: Show Explorer');
  const fileRow = page.locator('.explorer-folders-view .monaco-list-row', { has: page.locator('.label-name', { hasText: /^README\.txt$/ }) }).first();
  await fileRow.waitFor({ timeout: 30000 });
  await fileRow.click({ button: 'right' });
  await chooseContextMenuItem(page, 'Flotilla: Push to Group…');
  await waitForQuickInput(page, 'Push to which hosts?');
  await pickQuickItem(page, group.name);
  // Remembered destinations of this group come first; a file gets a path of its own.
  if (await waitForQuickInput(page, ['remembered ones first', '~/project or /srv/app']) === 'remembered ones first') {
    await pickQuickItem(page, 'Other path…');
    await waitForQuickInput(page, '~/project or /srv/app');
  }
  await quickInput().locator('.quick-input-box input').fill('~/deploy/notes/');
  await page.keyboard.press('Enter');
  mark('single file: remote directory entered');

  const { rows, hosts } = await planHostRows((r) => /new/.test(r.description));
  mark(`single-file plan: ${JSON.stringify(rows)}`);
  assert.deepEqual(hosts.map((h) => h.label), [group.hosts.join(', ')], 'every host has the same plan: one row');
  assert.match(hosts[0].description, /^1 new · 0 unchanged$/);
  assert.ok(rows.some((r) => r.level === 2 && r.label === 'README.txt' && /^new file · 15 B$/.test(r.description)), JSON.stringify(rows));
  assert.ok(rows.some((r) => r.level === 2 && /deploy\/notes does not exist yet: it will be created/.test(r.label)), JSON.stringify(rows));
  await runCommand(page, 'Notifications: Clear All Notifications');
  await page.mouse.move(1100, 850);
  await waitForTreeStable(page, 'Push Plan');
  await wb.screenshot('push-single-file-plan.png');

  await clickViewAction('Push Plan', 'Apply Push');
  const dialog = page.locator('.monaco-dialog-box');
  await dialog.waitFor({ timeout: 10000 });
  assert.match(await dialog.innerText(), /Push README\.txt to 3 hosts\?/);
  await dialog.getByRole('button', { name: 'Push', exact: true }).click();
  const after = await planHostRows((r) => /^(ok|partial|failed|unreachable|cancelled) ·/.test(r.description));
  mark(`single file applied: ${JSON.stringify(after.rows)}`);
  assert.deepEqual(after.hosts.map((h) => h.label), [group.hosts.join(', ')]);
  assert.match(after.hosts[0].description, /^ok · 1 created · /);
  for (const host of group.hosts) assert.equal(cli('run', host, '--', 'cat ~/deploy/notes/README.txt').includes('workspace root'), true, host);
  mark('CLI reads the pushed file back from every host');
  await runCommand(page, 'Notifications: Clear All Notifications');
  await waitForTreeStable(page, 'Push Plan');
  await page.mouse.move(1100, 850);
  await sleep(500);
  await wb.screenshot('push-single-file-applied.png');
});

test('Pull from Host/Group…: every host\'s copy lands under pulled/<host>/, and the progress toast is gone when it says so', async () => {
  const page = wb.page;
  await runCommand(page, 'Notifications: Clear All Notifications');
  await runCommand(page, 'Flotilla: Pull from Host/Group…', { opensPicker: true });
  await waitForQuickInput(page, 'Pull from which hosts?');
  await pickQuickItem(page, group.name);
  // The folders pushed from this workspace are offered first; the app/ folder went to DEST.
  await waitForQuickInput(page, 'Remote directory (remembered ones first)');
  await pickQuickItem(page, 'Other path…');
  await waitForQuickInput(page, '~/project or /srv/app');
  await quickInput().locator('.quick-input-box input').fill(DEST);
  await page.keyboard.press('Enter');
  await waitForQuickInput(page, `Pull ${DEST} from ${group.name}`);
  await page.keyboard.press('Enter');
  const pulled = async () => (await page.locator('.notification-toast', { hasText: 'Flotilla: pulled ' }).count()) > 0;
  const toast = await followProgressToast(page, 'Flotilla: pulling', pulled);
  mark(`pull: progress toast seen ${toast.seen}, still up with the result ${toast.withResult}`);
  assert.equal(toast.withResult, false, 'the progress toast is gone when the pull says it is done');
  const text = await page.locator('.notification-toast', { hasText: 'Flotilla: pulled ' }).first().innerText();
  assert.match(text, new RegExp(`pulled ${DEST.replace(/[~/]/g, '\\$&')} from ${group.hosts.length}/${group.hosts.length} host`), text);
  for (const host of group.hosts) {
    const local = path.join(wb.server.workspace, 'pulled', host, 'app', 'config.json');
    assert.match(fs.readFileSync(local, 'utf8'), /8080/, `${host}: ${local}`);
  }
  await wb.screenshot('push-pulled.png');
});
