// Hosts view e2e (issue: hosts tree with layered health badges): the tree shows the lab's groups and
// hosts with honest states, the status bar counts match, reviewing the unknown host key turns that
// host online, and adding a host to a group through the UI edits groups.yaml keeping its comments.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  flotillaVsix, startLabFleet, labSettings, startWorkbench, openViewContainer, treeLabels, treeItem,
  expandTreeItem, chooseContextMenuItem, stopwatch, sleep,
  collapsePane, waitForRowDescription, collapseTreeItem as collapseRow, escapeRegExp, waitForQuickInput, pickQuickItem,
} from './harness.mjs';

const mark = stopwatch();
let lab, wb;

before(async () => {
  const vsix = await flotillaVsix();
  lab = await startLabFleet({ hosts: 3, name: 'hosts' });
  mark('lab up');
  wb = await startWorkbench({
    name: 'hosts',
    vsix: [vsix],
    userSettings: { ...labSettings(lab), 'flotilla.connectTimeoutSeconds': 2, 'flotilla.health.intervalSeconds': 600 },
  });
  mark('workbench loaded');
});

after(async () => {
  await wb?.stop();
  await lab?.stop();
});

const rowDescription = (label, pattern, timeout) => waitForRowDescription(wb.page, 'Hosts', label, pattern, timeout);
const collapseTreeItem = (label) => collapseRow(wb.page, 'Hosts', label);

/** The Review button of the host-key notification: on its toast, or in the notification center once the toast has gone. */
async function clickReview(page) {
  const toast = page.locator('.notification-toast', { hasText: 'unknown host key' });
  if (!(await toast.isVisible())) {
    await page.locator('.statusbar-item[id*="notifications"], .statusbar-item .codicon-bell, .statusbar-item .codicon-bell-dot').first().click();
    const item = page.locator('.notifications-center .notification-list-item', { hasText: 'unknown host key' }).first();
    await item.waitFor({ timeout: 15000 });
    await item.getByRole('button', { name: 'Review' }).click();
    return;
  }
  await toast.getByRole('button', { name: 'Review' }).click();
}

async function rowAriaLabel(label) {
  return treeItem(wb.page, 'Hosts', label).getAttribute('aria-label');
}

test('groups and hosts appear with the right health for online, dead, black-holed and unknown-key hosts', async () => {
  const page = wb.page;
  await openViewContainer(page, 'Flotilla');
  await treeLabels(page, 'Hosts', { has: 'web' });
  for (const pane of ['Runs', 'Workflows', 'Agents']) await collapsePane(wb.page, pane); // give the Hosts view the room
  const labels = await treeLabels(page, 'Hosts', { has: 'Ungrouped' });
  for (const g of ['web', 'build', 'fleet', 'Ungrouped']) assert.ok(labels.includes(g), `group ${g} shown: ${labels}`);
  assert.match(await rowDescription('lab-1', /flotilla@127\.\d+\.\d+\.1:2222 · \d+(\.\d)? ms · load 0\.05/), /load/);
  assert.match(await rowAriaLabel('lab-1'), /lab-1, online/);
  await page.mouse.move(900, 400);
  await wb.screenshot('hosts-groups.png');
  for (const g of ['web', 'build', 'fleet']) await collapseTreeItem(g); // the tree is virtualised: keep Ungrouped's rows on screen
  await expandTreeItem(page, 'Hosts', 'Ungrouped');
  assert.match(await rowDescription('dead', /connection refused/), /refused/);
  assert.match(await rowDescription('blackhole', /no SSH handshake/), /handshake/);
  assert.match(await rowDescription('unknown-key', /not accepted|unknown/), /./);
  assert.match(await rowAriaLabel('dead'), /dead, offline/);
  assert.match(await rowAriaLabel('blackhole'), /blackhole, offline/);
  assert.match(await rowAriaLabel('unknown-key'), /unknown-key, unusable/);
  // unusable (no login possible: unknown host key, authentication failed) is drawn as an error, like offline, not as a warning
  const iconColor = (label, icon) => treeItem(page, 'Hosts', label).locator(`.codicon-${icon}`).first().evaluate((el) => getComputedStyle(el).color);
  const red = await iconColor('dead', 'error');
  assert.equal(await iconColor('unknown-key', 'circle-slash'), red, 'unknown key in the error colour');
  assert.match(await rowAriaLabel('authfail'), /authfail, unusable: .*authentication failed/);
  assert.equal(await iconColor('authfail', 'circle-slash'), red, 'authentication failure in the error colour');
  await page.mouse.move(900, 400);
  await wb.screenshot('hosts-health.png');
  mark('states shown');
});

test('the status bar counts hosts up, unusable and down', async () => {
  const item = wb.page.locator('.statusbar-item', { hasText: /\d+ up/ }).first();
  await wb.page.waitForFunction(
    (el) => /12 up · 2 unusable · 2 down/.test(el.textContent ?? ''),
    await item.elementHandle(),
    { timeout: 30000 },
  );
  assert.match(await item.innerText(), /12 up · 2 unusable · 2 down/);
});

test('reviewing and accepting the unknown host key turns that host online', async () => {
  const page = wb.page;
  await clickReview(page);
  const input = page.locator('.quick-input-widget');
  await input.waitFor();
  const row = input.locator('.quick-input-list .monaco-list-row', { hasText: 'unknown-key' }).first();
  await row.waitFor();
  assert.match(await row.innerText(), /SHA256:/);
  await row.locator('input[type=checkbox], .monaco-checkbox, .quick-input-list-checkbox').first().click();
  await wb.screenshot('hosts-review.png');
  await input.getByRole('button', { name: 'OK' }).click();
  assert.match(await rowDescription('unknown-key', /load \d/), /load/);
  assert.match(await rowAriaLabel('unknown-key'), /unknown-key, online/);
  const known = fs.readFileSync(lab.info.knownHosts, 'utf8');
  const host = lab.info.hosts.find((h) => h.alias === 'unknown-key');
  assert.ok(known.includes(`[${host.address}]:${host.port}`), 'the accepted key was written to known_hosts');
});

test('Add to Group… from the context menu edits groups.yaml and keeps its comments', async () => {
  const page = wb.page;
  const before = fs.readFileSync(lab.info.groups, 'utf8');
  assert.match(before, /^# Flotilla lab groups/m);
  await treeItem(page, 'Hosts', 'shell-bash').click({ button: 'right' });
  await chooseContextMenuItem(page, 'Add to Group…');
  const pick = page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: /^build/ }).first();
  await pick.waitFor();
  await pick.click();
  const t0 = Date.now();
  let after = before;
  while (!/build: \[.*shell-bash/.test(after) && Date.now() - t0 < 10000) {
    await sleep(200);
    after = fs.readFileSync(lab.info.groups, 'utf8');
  }
  assert.match(after, /build: \[.*shell-bash\]/, `groups.yaml now:\n${after}`);
  assert.match(after, /^# Flotilla lab groups \(comments here must survive edits\)$/m);
  assert.match(after, /^ {2}# build machines$/m);
  await expandTreeItem(page, 'Hosts', 'build');
  await page.mouse.move(900, 400);
  await wb.screenshot('hosts-after-group-edit.png');
});

test('edits to the groups file outside VS Code show up in the tree without a reload', async () => {
  const page = wb.page;
  const text = fs.readFileSync(lab.info.groups, 'utf8');
  fs.writeFileSync(lab.info.groups, `${text.trimEnd()}\n  edited-outside: [lab-2]\n`);
  await treeItem(page, 'Hosts', 'edited-outside').waitFor({ timeout: 20000 });
  const labels = await treeLabels(page, 'Hosts', { has: 'edited-outside' });
  assert.ok(labels.includes('edited-outside'));
});

test('a host tooltip puts state and layers first and each setting with its file:line on its own line', async () => {
  const page = wb.page;
  await openViewContainer(page, 'Flotilla');
  await expandTreeItem(page, 'Hosts', 'build');
  await rowDescription('lab-3', /ms/, 30000);
  const row = treeItem(page, 'Hosts', 'lab-3');
  const hover = page.locator('.workbench-hover, .monaco-hover').filter({ hasText: 'HostName' }).first();
  for (let attempt = 1; !(await hover.isVisible()); attempt++) {
    await page.mouse.move(1100, 850);
    await row.locator('.label-name').hover();
    if (await hover.waitFor({ timeout: 5000 }).then(() => true, () => false)) break;
    if (attempt === 3) throw new Error('no tooltip on lab-3');
  }
  const text = await hover.innerText();
  mark(`tooltip:\n${text}`);
  assert.match(text, /^lab-3 — online/, 'the state comes first');
  assert.ok(text.indexOf('TCP ✓') >= 0 && text.indexOf('TCP ✓') < text.indexOf('HostName'), 'the layer line comes before the settings');
  const config = path.basename(lab.info.sshConfig);
  assert.match(text, new RegExp(`HostName [^\\n]+\\n\\s*\\S*${escapeRegExp(config)}:\\d+\\n`), 'the file:line of a setting is on the line under it');
  assert.equal(await hover.locator('table').count(), 0, 'no table to scroll sideways');
  const overflow = await hover.evaluate((el) => [...el.querySelectorAll('*')].some((e) => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'visible'));
  assert.equal(overflow, false, 'nothing in the tooltip scrolls sideways');
  await wb.screenshot('hosts-tooltip.png');
  await page.mouse.move(1100, 850);
});

test('a run that cannot connect to a host shown online turns its row offline at once, not at the next probe (10 min away)', async () => {
  const page = wb.page;
  await openViewContainer(page, 'Flotilla');
  await expandTreeItem(page, 'Hosts', 'build');
  await rowDescription('lab-3', /ms · load/, 30000);
  assert.match(await rowAriaLabel('lab-3'), /^lab-3, online/);
  lab.stopHost('lab-3'); // its sshd and the sessions on it: the editor's pooled connection drops too
  assert.match(await rowAriaLabel('lab-3'), /^lab-3, online/, 'nothing probed it since');
  await treeItem(page, 'Hosts', 'lab-3').click({ button: 'right' });
  await chooseContextMenuItem(page, 'Run Command…');
  if ((await waitForQuickInput(page, ['A recent command', 'e.g. uptime'])) === 'A recent command') {
    await pickQuickItem(page, 'Type a new command…', '');
    await waitForQuickInput(page, 'e.g. uptime');
  }
  await page.locator('.quick-input-widget .quick-input-box input').fill('uname -n');
  await page.keyboard.press('Enter');
  await waitForQuickInput(page, 'Enter to run');
  await page.keyboard.press('Enter');
  assert.match(await rowDescription('lab-3', /refused|ECONNREFUSED/i, 20000), /refused|ECONNREFUSED/i);
  assert.match(await rowAriaLabel('lab-3'), /^lab-3, offline: .*(refused|ECONNREFUSED)/i);
  await page.mouse.move(900, 400);
  await wb.screenshot('hosts-run-offline.png');
});
