// What a new user trips over (issue 19), walked through in the real workbench on a lab fleet: the
// extension is useful before its sidebar is opened, pickers show health and take several hosts, a typed
// command is kept, running time ticks, least-loaded runs say why, small texts read right, and a
// broken groups file leaves the fleet visible and points at the line to fix.
// Run: bash test/e2e/run.sh test/e2e/newuser.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  flotillaVsix, startLabFleet, labSettings, startWorkbench, openViewContainer, treeLabels, treeRows, treeItem,
  runCommand, sleep, stopwatch, waitForQuickInput, pickQuickItem, chooseContextMenuItem, collapsePane, escapeRegExp,
  expandTreeItem, widenSideBar, followProgressToast,
} from './harness.mjs';

const mark = stopwatch();
let lab, wb;

before(async () => {
  const vsix = await flotillaVsix();
  lab = await startLabFleet({ hosts: 3, name: 'newuser' });
  mark('lab up');
  wb = await startWorkbench({
    name: 'newuser',
    vsix: [vsix],
    userSettings: { ...labSettings(lab), 'flotilla.connectTimeoutSeconds': 2, 'flotilla.health.intervalSeconds': 600 },
  });
  mark('workbench loaded');
});

after(async () => {
  await wb?.stop();
  await lab?.stop();
});

const quickInput = () => wb.page.locator('.quick-input-widget');
const quickRows = () => quickInput().locator('.quick-input-list .monaco-list-row');

async function until(what, fn, timeout = 30000) {
  const t0 = Date.now();
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() - t0 > timeout) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** Rendered quick-pick rows: label, description, detail and whether the row is a separator's first row. */
async function pickRows() {
  return quickRows().evaluateAll((els) => els.map((r) => ({
    index: Number(r.getAttribute('data-index') ?? 0),
    label: r.querySelector('.label-name')?.textContent?.trim() ?? '',
    description: r.querySelector('.label-description')?.textContent?.trim() ?? '',
    detail: r.querySelector('.quick-input-list-label-meta, .monaco-icon-label-container .label-detail, .quick-input-list-detail')?.textContent?.trim() ?? '',
    separator: r.querySelector('.quick-input-list-separator')?.textContent?.trim() ?? '',
    text: r.textContent ?? '',
  }))).then((rows) => rows.sort((a, b) => a.index - b.index));
}

function findFile(dir, re) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) { const f = findFile(p, re); if (f) return f; } else if (re.test(e.name)) return p;
  }
  return undefined;
}

function statusItem() {
  return wb.page.locator('.statusbar-item', { hasText: /\d+ up/ }).first();
}

/** Text of the active editor (monaco renders only the visible lines). */
async function activeEditorText() {
  return wb.page.evaluate(() => {
    const editor = document.querySelector('.editor-group-container.active .monaco-editor .view-lines');
    if (!editor) return '';
    return [...editor.querySelectorAll('.view-line')]
      .map((l) => ({ top: parseFloat(l.style.top || '0'), text: l.textContent.replace(/\u00a0/g, ' ') }))
      .sort((a, b) => a.top - b.top).map((l) => l.text).join('\n');
  });
}

test('6. without opening the sidebar: the status bar counts hosts, names the key to review, and the host-key notice shows', async () => {
  const page = wb.page;
  // The window shows the Explorer (the default); Flotilla's container is never clicked here.
  await runCommand(page, 'View: Show Explorer');
  await page.locator('.statusbar-item', { hasText: /12 up · 2 unusable · 2 down/ }).first().waitFor({ timeout: 60000 });
  const text = (await statusItem().innerText()).replace(/\s+/g, ' ').trim();
  assert.match(text, /12 up · 2 unusable · 2 down · 1 key to review/);
  await page.locator('.notification-toast', { hasText: 'unknown host key' }).first().waitFor({ timeout: 15000 });
  await wb.screenshot('newuser-startup.png');
  // How long activation took, as the workbench measured it (it runs at every startup now).
  await runCommand(page, 'Developer: Show Running Extensions');
  const row = page.locator('.runtime-extensions-editor .monaco-list-row', { hasText: 'Flotilla' }).first();
  await row.waitFor({ timeout: 15000 });
  const activation = await until('an activation time', async () => /(\d+)\s*ms/.exec(await row.innerText()));
  mark(`activation (workbench "Running Extensions"): ${activation[0]}`);
  console.log(`# flotilla activation: ${activation[0]} (Running Extensions row: ${JSON.stringify((await row.innerText()).replace(/\s+/g, ' '))})`);
  await wb.screenshot('newuser-running-extensions.png');
  await page.keyboard.press('Escape'); // a modal editor
  await page.locator('.runtime-extensions-editor').waitFor({ state: 'hidden', timeout: 10000 }).catch(() => runCommand(page, 'View: Close Editor'));
  // Flotilla's own part: activate() logs its duration (code loading is in the workbench's figure above).
  const logFile = await until('the Flotilla log', async () => findFile(wb.server.userDataDir, /Flotilla\.log$/), 10000);
  const own = /activated in ([\d.]+) ms/.exec(fs.readFileSync(logFile, 'utf8'));
  assert.ok(own, 'activate() logged its duration');
  console.log(`# flotilla activate(): ${own[1]} ms`);
});

test('7. the palette target picker shows health, lists unreachable hosts last, and takes several hosts', async () => {
  const page = wb.page;
  await runCommand(page, 'Flotilla: Run Command…', { opensPicker: true });
  await waitForQuickInput(page, 'Run on which hosts?');
  await quickInput().locator('.quick-input-box input').fill('');
  let rows;
  // The picker is virtualised: filter to the hosts in question.
  await quickInput().locator('.quick-input-box input').fill('dead');
  rows = await until('the dead host row', async () => (await pickRows()).find((r) => r.label === 'dead') && pickRows());
  const dead = rows.find((r) => r.label === 'dead');
  assert.match(dead.description, /offline · connection refused/, JSON.stringify(dead));
  // Unfiltered, the unreachable hosts come last, under their own separator.
  await quickInput().locator('.quick-input-box input').fill('');
  await page.keyboard.press('ArrowUp'); // from the first row, wraps to the last
  const bottom = await until('the end of the list', async () => {
    const r = await pickRows();
    return r.some((x) => x.label === 'blackhole') && r;
  });
  const tail = bottom.slice(-2).map((r) => r.label).sort();
  assert.deepEqual(tail, ['blackhole', 'dead'], `the last rows: ${JSON.stringify(bottom.slice(-4))}`);
  assert.ok(bottom.some((r) => r.separator === 'Unreachable now' || /Unreachable now/.test(r.text)), 'an "Unreachable now" separator');
  await wb.screenshot('newuser-picker-unreachable.png');
  await quickInput().locator('.quick-input-box input').fill('lab-1');
  rows = await until('the lab-1 row', async () => (await pickRows()).find((r) => r.label === 'lab-1') && pickRows());
  assert.match(rows.find((r) => r.label === 'lab-1').description, /online/);
  await wb.screenshot('newuser-picker-health.png');
  await pickQuickItem(page, 'Several hosts…', 'Several');
  await waitForQuickInput(page, 'Tick the hosts');
  for (const h of ['lab-1', 'lab-2']) {
    await quickInput().locator('.quick-input-box input').fill(h);
    const row = quickRows().filter({ has: page.locator('.label-name', { hasText: new RegExp(`^\\s*${h}\\s*$`) }) }).first();
    await row.waitFor();
    await row.locator('.monaco-checkbox, input[type=checkbox], .quick-input-list-checkbox').first().click();
  }
  await quickInput().locator('.quick-input-box input').fill('');
  await wb.screenshot('newuser-picker-several.png');
  await page.keyboard.press('Enter');
  const title = await until('the command step', async () => {
    const t = await quickInput().locator('.quick-input-title').innerText().catch(() => '');
    return /Run on lab-1, lab-2 \(2 hosts\)/.test(t) && t;
  });
  assert.match(title, /Run on lab-1, lab-2 \(2 hosts\)/);
  await quickInput().locator('.quick-input-box input').fill('echo picked: $(echo ok)');
  await page.keyboard.press('Enter');
  await waitForQuickInput(page, 'Enter to run');
  await page.keyboard.press('Enter');
  await openViewContainer(page, 'Flotilla');
  await treeItem(page, 'Runs', /^echo picked: \$\(echo ok\)$/).waitFor({ timeout: 30000 });
});

test('1. Run Command on Group…: a recent command shows as typed, and a typed new command is kept', async () => {
  const page = wb.page;
  for (const pane of ['Agents', 'Workflows']) await collapsePane(page, pane);
  await treeItem(page, 'Hosts', 'web').click({ button: 'right' });
  await chooseContextMenuItem(page, 'Run Command on Group…');
  await waitForQuickInput(page, 'A recent command');
  const recent = await until('the recent command row', async () => (await pickRows()).find((r) => r.label.includes('echo picked')));
  assert.equal(recent.label, 'echo picked: $(echo ok)', 'shown literally, no backslash');
  await wb.screenshot('newuser-recent-command.png');
  await quickInput().locator('.quick-input-box input').fill('sleep 6');
  await page.keyboard.press('Enter');
  await waitForQuickInput(page, 'e.g. uptime');
  assert.equal(await quickInput().locator('.quick-input-box input').inputValue(), 'sleep 6', 'the typed text is in the input box');
  await page.keyboard.press('Enter');
  await waitForQuickInput(page, 'Enter to run');
  await page.keyboard.press('Enter');
});

test('4. a running host row shows its running time growing', async () => {
  const page = wb.page;
  await treeItem(page, 'Runs', 'sleep 6').waitFor({ timeout: 30000 });
  const running = async () => (await treeRows(page, 'Runs')).find((r) => r.level === 2 && /^running · /.test(r.description));
  const first = await until('a running host row', running);
  const seconds = (d) => { const m = /running · ([\d.]+) (ms|s)/.exec(d); return m ? Number(m[1]) / (m[2] === 'ms' ? 1000 : 1) : NaN; };
  const later = await until('its running time to grow by 2 s', async () => {
    const r = (await treeRows(page, 'Runs')).find((x) => x.level === 2 && x.label === first.label);
    return r && seconds(r.description) >= seconds(first.description) + 2 && r;
  }, 15000);
  mark(`running time: ${first.description} → ${later.description}`);
  await wb.screenshot('newuser-running-time.png');
  await until('the sleep run to finish', async () => (await treeRows(page, 'Runs')).some((r) => r.level === 1 && r.label === 'sleep 6' && /ok/.test(r.description)), 20000);
});

test('5. Run on Least-Loaded Host… says where and why: in its steps, in the run record and in a read-only explanation', async () => {
  const page = wb.page;
  await runCommand(page, 'Flotilla: Run on Least-Loaded Host…', { opensPicker: true });
  await waitForQuickInput(page, 'Which group?');
  await pickQuickItem(page, 'fleet');
  await waitForQuickInput(page, 'A recent command');
  const title = await quickInput().locator('.quick-input-title').innerText();
  assert.match(title, /^Run on the least-loaded host of fleet \(3 hosts\)$/);
  await quickInput().locator('.quick-input-box input').fill('uname -n');
  await page.keyboard.press('Enter');
  await waitForQuickInput(page, 'e.g. uptime');
  await page.keyboard.press('Enter');
  // Measuring shows in the status bar: no progress toast is left over the decision.
  const decided = () => waitForQuickInput(page, 'Enter runs on the highlighted host', 50).then(() => true, () => false);
  const measuring = await followProgressToast(page, 'Flotilla: measuring', decided);
  assert.equal(measuring.seen, false, 'no progress toast for measuring');
  await waitForQuickInput(page, 'Enter runs on the highlighted host', 60000);
  const first = await until('the decision rows', async () => (await pickRows())[0]?.label && (await pickRows())[0]);
  mark(`decision: ${JSON.stringify(first)}`);
  assert.match(first.text, / chosen: .* — Enter runs here/, 'the reason is on the chosen row, not cut off in a placeholder');
  await wb.screenshot('newuser-least-loaded-decision.png');
  await page.keyboard.press('Enter');
  const chosen = first.label;
  await until('the least-loaded run in the Runs view', async () => (await treeRows(page, 'Runs')).some((r) => r.level === 1 && r.label === 'uname -n' && /ok/.test(r.description)), 60000);
  await runCommand(page, 'Flotilla: Show Run Output', { opensPicker: true });
  await pickQuickItem(page, 'uname -n');
  const text = await until('the run record with its placement', async () => {
    const t = await activeEditorText();
    return /^Placed: /m.test(t) && t;
  });
  assert.match(text, new RegExp(`^Placed: +least-loaded of 3 hosts \\(lab-1, lab-2, lab-3\\): ${escapeRegExp(chosen)}$`, 'm'));
  assert.match(text, new RegExp(`^Why: +${escapeRegExp(chosen)} chosen: `, 'm'));
  await runCommand(page, 'View: Close All Editors');

  await runCommand(page, 'Flotilla: Explain Least-Loaded Choice…', { opensPicker: true });
  await waitForQuickInput(page, 'Which group?');
  await pickQuickItem(page, 'fleet');
  const tab = page.locator('.tabs-container .tab.active');
  await until('the explanation tab', async () => /least-loaded fleet/.test(await tab.innerText().catch(() => '')), 60000);
  assert.doesNotMatch(await tab.innerText(), /Untitled/);
  assert.match(await activeEditorText(), /Least-loaded choice for fleet/);
  await wb.screenshot('newuser-explain.png');
  // Closing it asks nothing: it is not a document to save.
  await runCommand(page, 'View: Close Editor');
  await sleep(500);
  assert.equal(await page.locator('.monaco-dialog-box').count(), 0, 'no "save changes?" dialog');
  assert.equal(await page.locator('.tabs-container .tab', { hasText: 'least-loaded fleet' }).count(), 0);
});

test('8. small things: error texts say it once, Check Now answers, the problem list leads with the action, Add Host refuses taken or address-like aliases', async () => {
  const page = wb.page;
  await collapsePane(page, 'Runs');
  for (const g of ['web', 'build', 'fleet']) {
    const row = treeItem(page, 'Hosts', g);
    if ((await row.getAttribute('aria-expanded')) === 'true') await row.locator('.monaco-tl-twistie').click();
  }
  await expandTreeItem(page, 'Hosts', 'Ungrouped');
  const authfail = await until('the authfail row', async () => (await treeRows(page, 'Hosts')).find((r) => r.label === 'authfail' && /authentication failed/.test(r.description)));
  assert.equal(authfail.description.match(/authentication failed/g).length, 1, `said once: ${authfail.description}`);
  const row = treeItem(page, 'Hosts', 'authfail');
  await row.hover();
  await row.locator('.action-label[aria-label^="Check Now"]').click();
  const toast = page.locator('.notification-toast', { hasText: 'authfail is unusable' }).first();
  await toast.waitFor({ timeout: 30000 });
  assert.ok(await toast.locator('.codicon-error').count(), 'an error, not a warning');
  mark(`Check Now: ${await toast.innerText()}`);

  await statusItem().click();
  await waitForQuickInput(page, 'hosts that need attention');
  const rows = await until('the problem rows', async () => { const r = await pickRows(); return r.some((x) => x.label === 'dead') && r; });
  assert.match(rows.find((r) => r.label === 'dead').description, /^offline → Check Now$/);
  assert.match(rows.find((r) => r.label === 'unknown-key').description, /→ Review Host Keys$/);
  await wb.screenshot('newuser-problem-list.png');
  await page.keyboard.press('Escape');

  await runCommand(page, 'Flotilla: Add Host…', { opensPicker: true });
  await waitForQuickInput(page, 'Add Host (1/4)');
  const input = quickInput().locator('.quick-input-box input');
  const message = quickInput().locator('.quick-input-message');
  await input.fill('lab-1');
  await until('the taken-alias message', async () => /already a Host/.test(await message.innerText().catch(() => '')));
  await input.fill('me@example.com:22');
  await until('the address-like alias message', async () => /short name/.test(await message.innerText().catch(() => '')));
  await wb.screenshot('newuser-add-host.png');
  await page.keyboard.press('Escape');
});

test('2. a broken groups file: the hosts stay listed, the row says what is wrong and opens the groups file at that line', async () => {
  const page = wb.page;
  const good = fs.readFileSync(lab.info.groups, 'utf8');
  fs.writeFileSync(lab.info.groups, good.replace(/^( {2}web: \[[^\]]*)\]/m, '$1'));
  try {
    const problem = treeItem(page, 'Hosts', /groups\.yaml:\d+/);
    await problem.waitFor({ timeout: 30000 });
    const text = await problem.innerText();
    const line = Number(/groups\.yaml:(\d+)/.exec(text)[1]);
    mark(`problem row: ${text}`);
    const labels = await treeLabels(page, 'Hosts', { has: 'Ungrouped' });
    assert.ok(!labels.includes('web'), 'the broken groups are not offered');
    assert.match((await treeRows(page, 'Hosts')).find((r) => r.label === 'Ungrouped').description, /^16 hosts/, 'every host of the ssh config is still listed');
    assert.match((await statusItem().innerText()).replace(/\s+/g, ' '), /12 up · 2 unusable · 2 down/);
    await wb.screenshot('newuser-broken-groups.png');
    await problem.click();
    const status = page.locator('.statusbar-item', { hasText: /Ln \d+, Col \d+/ }).first();
    await until('the groups file open at the line', async () => {
      const title = await page.title(); // the window title names the active editor
      return /groups\.yaml/.test(title) && new RegExp(`Ln ${line},`).test(await status.innerText({ timeout: 1000 }).catch(() => ''));
    });
    await wb.screenshot('newuser-broken-groups-open.png');
  } finally {
    fs.writeFileSync(lab.info.groups, good);
  }
  await treeItem(page, 'Hosts', 'web').waitFor({ timeout: 30000 });
});

test('3. the groups file deleted, then written again: its groups leave the tree, then come back without a reload', async () => {
  const page = wb.page;
  const good = fs.readFileSync(lab.info.groups, 'utf8');
  fs.rmSync(lab.info.groups);
  try {
    await until('the groups gone', async () => !(await treeLabels(page, 'Hosts', { has: 'Ungrouped' })).includes('web'));
    assert.match((await treeRows(page, 'Hosts')).find((r) => r.label === 'Ungrouped').description, /^16 hosts/, 'every host is listed');
  } finally {
    fs.writeFileSync(lab.info.groups, good);
  }
  await treeItem(page, 'Hosts', 'web').waitFor({ timeout: 30000 });
  await wb.screenshot('newuser-groups-back.png');
});
