// UI-level e2e test of the `flotilla` task type: a workspace whose .vscode/tasks.json has a least-loaded
// task over a lab group; "Tasks: Run Task" from the palette; the task terminal prints the placement
// decision, then the remote output, which names the host the command really ran on.
// Run: bash test/e2e/run.sh test/e2e/tasks.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  REPO, TSX, flotillaVsix, startLabFleet, labSettings, startWorkbench,
  waitForTerminalText, terminalText, sleep, stopwatch, openViewContainer, treeLabels, pickQuickItem,
} from './harness.mjs';

const mark = stopwatch();
const LABEL = 'build on least-loaded';
// $SSH_CONNECTION's third field is the address of the sshd that ran the command: it names the host.
const COMMAND = "echo placed-on-$(echo $SSH_CONNECTION | cut -d' ' -f3) load=$(cut -d' ' -f1 /proc/loadavg) && uname -n";
const LOADS = { 'lab-1': 3.5, 'lab-2': 0.1, 'lab-3': 1.0 };
let lab, wb, folder;

before(async () => {
  const vsix = await flotillaVsix();
  mark('extension built and packaged');
  lab = await startLabFleet({ hosts: 3, name: 'tasks' });
  execFileSync(TSX, ['test/lab/cli.ts', 'load', '--dir', lab.dir, ...Object.entries(LOADS).map(([a, l]) => `${a}=${l}`)], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
  mark(`lab fleet up, loads ${JSON.stringify(LOADS)}`);
  folder = fs.mkdtempSync(path.join(os.tmpdir(), 'flotilla-e2e-tasks-ws-'));
  fs.mkdirSync(path.join(folder, '.vscode'));
  fs.writeFileSync(path.join(folder, '.vscode', 'tasks.json'), JSON.stringify({
    version: '2.0.0',
    tasks: [{ label: LABEL, type: 'flotilla', target: 'group:fleet', placement: 'least-loaded', command: COMMAND, problemMatcher: [] }],
  }, null, 2));
  wb = await startWorkbench({ name: 'tasks', vsix: [vsix], userSettings: labSettings(lab), folder });
  mark('workbench loaded');
});

after(async () => {
  await wb?.stop();
  await lab?.stop();
  if (folder) fs.rmSync(folder, { recursive: true, force: true });
  mark('torn down');
});

test('a flotilla task from tasks.json runs on the least-loaded host of its group and says so', async () => {
  const page = wb.page;
  const quickInput = page.locator('.quick-input-widget');
  // Open the Flotilla view first: the fleet is read (and the extension active) before the task list is asked for.
  await openViewContainer(page, 'Flotilla');
  await treeLabels(page, 'Hosts', { has: 'fleet', timeout: 60000 });
  mark('Hosts view shows the lab groups');
  await page.keyboard.press('F1');
  await quickInput.locator('input').fill('>Tasks: Run Task');
  // Click the exact entry: Enter would take the top match, which may be "Tasks: Rerun Last Task" or similar.
  await quickInput.locator('.quick-input-list .monaco-list-row', { hasText: /^Tasks: Run Task/ }).first().click();
  // The task list: our tasks.json task by its label.
  const row = quickInput.locator('.quick-input-list .monaco-list-row', { hasText: LABEL }).first();
  try {
    await row.waitFor({ timeout: 60000 });
  } catch (e) {
    await wb.screenshot('task-debug.png');
    throw e;
  }
  await quickInput.locator('.quick-input-box input').fill(LABEL);
  await sleep(300);
  await row.click();
  mark('task started');

  const lab2 = lab.info.hosts.find((h) => h.alias === 'lab-2');
  const text = await waitForTerminalText(page, /placed-on-127\.\d+\.\d+\.\d+ load=/, 90000);
  await sleep(1500); // the per-host summary and the exit line
  const full = (await terminalText(page)) ?? text;
  mark(`terminal:\n${full}`);
  // The table's header may have scrolled out of the panel; its candidate rows (score, cpu%, load) stay.
  assert.match(full, /lab-3 +0\.\d{3} +\d+% +0\.50/, 'the decision table lists the other candidates');
  assert.match(full, /lab-2 chosen: lowest score/, 'the explanation names the winner');
  assert.match(full, /placed on lab-2/);
  assert.ok(full.includes(`placed-on-${lab2.address} load=0.10`), `the command ran on lab-2 (${lab2.address})`);
  assert.ok(full.indexOf('lab-2 chosen') < full.indexOf('placed-on-'), 'the decision is printed before the output');
  assert.match(full, /lab-2: ok/);
  await page.mouse.move(700, 200);
  await sleep(300);
  await wb.screenshot('task-terminal.png');
});

test('a provided flotilla task (not in tasks.json) runs without asking which problem matcher to use', async () => {
  const page = wb.page;
  const quickInput = page.locator('.quick-input-widget');
  await page.keyboard.press('F1');
  await quickInput.locator('input').fill('>Tasks: Run Task');
  await quickInput.locator('.quick-input-list .monaco-list-row', { hasText: /^Tasks: Run Task/ }).first().click();
  // The provider's tasks are listed under the task type.
  await quickInput.locator('.quick-input-list .monaco-list-row', { hasText: 'Show All Tasks' }).first().waitFor({ timeout: 60000 });
  await pickQuickItem(page, 'flotilla');
  const provided = quickInput.locator('.quick-input-list .monaco-list-row', { hasText: 'least-loaded host of build' }).first();
  await provided.waitFor({ timeout: 60000 });
  await provided.click();
  // VS Code asks "Select for which kind of errors and warnings to scan the task output" before running a
  // task without problem matchers; the provided tasks say they have none, so the task just runs.
  const asked = page.locator('.quick-input-widget', { hasText: /scan the task output|Continue without scanning/ });
  for (const t0 = Date.now(); ; await sleep(200)) {
    assert.equal(await asked.isVisible(), false, 'no problem-matcher question');
    if (/lab-3: ok/.test((await terminalText(page)) ?? '')) break;
    if (Date.now() - t0 > 90000) throw new Error(`the provided task never finished:\n${await terminalText(page)}`);
  }
  await wb.screenshot('task-provided.png');
});
