// UI-level e2e test of workflows: a workspace with .flotilla/workflows/*.yaml in a fresh code-server
// pointed at a lab fleet; "Flotilla: Run Workflow…" from the palette, the modal before the confirm stage,
// the Workflows view's stages and hosts progressing live, the outcome; a broken file's problem with
// file:line in the view and in the Problems panel.
// Run: bash test/e2e/run.sh test/e2e/workflows.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  flotillaVsix, startLabFleet, labSettings, startWorkbench, openViewContainer, treeLabels, treeRows,
  runCommand, sleep, stopwatch, waitForQuickInput, pickQuickItem, widenSideBar, collapsePane, waitForNotification, waitForTreeStable, followProgressToast,
} from './harness.mjs';

const mark = stopwatch();
const MARK = `/tmp/flotilla-e2e-wf-${process.pid}`;
const DEPLOY = `name: e2e-deploy
description: staging first, then production one host at a time after a confirmation
stages:
  - name: staging
    hosts: lab-1
    steps:
      - run: echo staged > ${MARK}-{{ host }}-staging
  - name: production
    hosts: [lab-2, lab-3]
    serial: 1
    confirm: true
    steps:
      - run: sleep 1.5; touch ${MARK}-{{ host }}-prod
      - gate: { run: "test -e ${MARK}-{{ host }}-prod", retries: 2, interval: 500ms }
`;
const BROKEN = `name: broken
stages:
  - name: s
    hosts: lab-1
    steps:
      - gate: { run: "true", retries: many }
`;
const EDIT = 'name: edit\nstages:\n  - name: s\n    hosts: lab-1\n    ';
const LONG = `name: e2e-long
stages:
  - name: wait
    hosts: [lab-1, lab-2]
    steps:
      - run: sleep 30.5; touch ${MARK}-{{ host }}-slept
  - name: later
    hosts: lab-1
    steps:
      - run: touch ${MARK}-later
`;
let lab, wb;

before(async () => {
  const vsix = await flotillaVsix();
  mark('extension built and packaged');
  lab = await startLabFleet({ hosts: 3, name: 'workflows', plain: true });
  mark('lab fleet up');
  wb = await startWorkbench({
    name: 'workflows', vsix: [vsix], userSettings: labSettings(lab),
    workspaceFiles: { '.flotilla/workflows/deploy.yaml': DEPLOY, '.flotilla/workflows/broken.yaml': BROKEN, '.flotilla/workflows/edit.yaml': EDIT, '.flotilla/workflows/long.yaml': LONG },
  });
  mark('workbench loaded');
});

after(async () => {
  await wb?.stop();
  await lab?.stop();
  for (const f of fs.readdirSync('/tmp').filter((n) => n.startsWith(`flotilla-e2e-wf-${process.pid}`))) fs.rmSync(`/tmp/${f}`, { force: true });
  mark('torn down');
});

const dialog = () => wb.page.locator('.monaco-dialog-box');

test('Run Workflow… with a confirm stage: the modal, live stages and hosts, the outcome', async () => {
  const page = wb.page;
  // The schema the yamlValidation contribution names ships in the installed extension.
  const installed = fs.readdirSync(wb.server.extensionsDir).find((d) => d.startsWith('flotilla.flotilla-'));
  assert.ok(fs.existsSync(`${wb.server.extensionsDir}/${installed}/schemas/workflow.schema.json`), `schema in ${installed}`);
  await openViewContainer(page, 'Flotilla');
  await collapsePane(page, 'Agents');
  await widenSideBar(page);
  await treeLabels(page, 'Workflows', { has: 'e2e-deploy', timeout: 60000 });
  await treeLabels(page, 'Hosts', { has: 'lab-1', timeout: 60000 });
  // Room for every row of the Workflows view (the tree renders only what fits).
  await collapsePane(page, 'Hosts');
  await collapsePane(page, 'Runs');
  const files = await treeRows(page, 'Workflows');
  assert.match(files.find((r) => r.label === 'broken.yaml')?.description ?? '', /has errors/, JSON.stringify(files));
  mark(`Workflows view: ${JSON.stringify(files)}`);

  // Exactly "Run Workflow…" (the palette also lists "Dry Run Workflow…").
  await page.keyboard.press('F1');
  await pickQuickItem(page, 'Flotilla: Run Workflow…', '>Flotilla: Run Workflow');
  await waitForQuickInput(page, 'Run Workflow');
  await pickQuickItem(page, '.flotilla/workflows/deploy.yaml', 'deploy.yaml');
  mark('workflow started');

  // Staging runs by itself; production waits for the modal.
  await dialog().waitFor({ timeout: 30000 });
  const message = await dialog().innerText();
  assert.match(message, /Start stage "production" of workflow e2e-deploy\?/);
  assert.match(message, /2 host\(s\), 2 batches: lab-2 → lab-3/);
  assert.equal(fs.readFileSync(`${MARK}-lab-1-staging`, 'utf8'), 'staged\n', 'staging ran before the question');
  assert.ok(!fs.existsSync(`${MARK}-lab-2-prod`), 'production has not started');
  // The view follows the record as it is written: wait for it to show the stage waiting.
  let waiting = await treeRows(page, 'Workflows');
  for (const t1 = Date.now(); !waiting.some((r) => r.label === 'production' && /waiting for confirmation/.test(r.description)) && Date.now() - t1 < 15000;) {
    await sleep(200);
    waiting = await treeRows(page, 'Workflows');
  }
  assert.ok(waiting.some((r) => r.label === 'production' && /waiting for confirmation/.test(r.description)), JSON.stringify(waiting));
  assert.ok(waiting.some((r) => r.label === 'staging' && /^ok · 1 done/.test(r.description)), JSON.stringify(waiting));
  await wb.screenshot('workflow-confirm.png');
  await dialog().getByRole('button', { name: 'Start Stage' }).click();
  mark('confirmed');

  // Live: lab-2 runs while lab-3 waits its turn (serial: 1).
  let seenRunning;
  const t0 = Date.now();
  while (!seenRunning && Date.now() - t0 < 20000) {
    const rows = await treeRows(page, 'Workflows');
    const lab2 = rows.find((r) => r.label === 'lab-2' && r.level === 4);
    const lab3 = rows.find((r) => r.label === 'lab-3' && r.level === 4);
    if (lab2 && /^running/.test(lab2.description) && lab3 && /^pending/.test(lab3.description)) seenRunning = rows;
    else await sleep(100);
  }
  assert.ok(seenRunning, 'lab-2 was seen running while lab-3 was pending');
  await wb.screenshot('workflow-running.png');
  mark(`live: ${JSON.stringify(seenRunning.filter((r) => r.level >= 3))}`);

  const completed = async () => (await page.locator('.notification-toast', { hasText: 'workflow e2e-deploy completed' }).count()) > 0;
  const toast = await followProgressToast(page, 'Flotilla workflow e2e-deploy', completed, 30000);
  assert.ok(toast.seen, 'the workflow shows its progress in a toast (its Cancel stops the workflow)');
  assert.equal(toast.withResult, false, 'the progress toast is gone when the workflow says it completed');
  const note = await waitForNotification(page, 'workflow e2e-deploy completed', 30000);
  mark(`notification: ${note}`);
  const rows = await waitForTreeStable(page, 'Workflows');
  const run = rows.slice(rows.findIndex((r) => r.label === 'Workflow runs')).find((r) => r.label === 'e2e-deploy' && r.level === 2);
  assert.match(run?.description ?? '', /^completed/, JSON.stringify(rows));
  assert.ok(rows.some((r) => r.label === 'production' && /^ok · 2 done/.test(r.description)), JSON.stringify(rows));
  for (const h of ['lab-2', 'lab-3']) assert.ok(fs.existsSync(`${MARK}-${h}-prod`), `${h} deployed`);
  await wb.screenshot('workflow-done.png');
});

test('a broken workflow file: its problem with line and column in the Problems panel', async () => {
  const page = wb.page;
  await page.keyboard.press('Control+P');
  await pickQuickItem(page, 'broken.yaml');
  await runCommand(page, 'View: Focus Problems (Errors, Warnings, Infos)');
  const problem = page.locator('.markers-panel .monaco-list-row', { hasText: 'retries must be integer' }).first();
  await problem.waitFor({ timeout: 15000 });
  const text = await problem.innerText();
  assert.match(text, /stages\[0\]\.steps\[0\]\.gate\.retries must be integer, not "many"/);
  assert.match(text, /\[Ln 6, Col 39\]/);
  await wb.screenshot('workflow-problem.png');
});

test('completion from the workflow schema in the editor', async () => {
  const page = wb.page;
  await page.keyboard.press('Control+P');
  await pickQuickItem(page, 'edit.yaml');
  const editor = page.locator('.editor-group-container.active .monaco-editor').first();
  await editor.waitFor();
  await editor.locator('.view-lines').click();
  await page.keyboard.press('Control+End');
  const suggest = page.locator('.editor-widget.suggest-widget');
  const t0 = Date.now();
  let labels = [];
  while (!labels.includes('max_fail') && Date.now() - t0 < 20000) {
    await page.keyboard.press('Control+Space');
    await suggest.locator('.monaco-list-row').first().waitFor({ timeout: 5000 }).catch(() => {});
    labels = await suggest.locator('.monaco-list-row .label-name').allInnerTexts().catch(() => []);
    if (!labels.includes('max_fail')) { await page.keyboard.press('Escape'); await sleep(300); }
  }
  assert.ok(['serial', 'max_fail', 'confirm', 'steps', 'on_failure'].every((k) => labels.includes(k)), `suggestions: ${labels.join(', ')}`);
  await wb.screenshot('workflow-completion.png');
  await page.keyboard.press('Escape');
});

/** Live processes whose command line is exactly `text` (the lab's sshds are on this machine). */
function processes(text) {
  return fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try { return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').trim() === text; } catch { return false; }
  });
}

test('Cancel in the progress notification stops the running step on every host and starts nothing else', async () => {
  const page = wb.page;
  await page.keyboard.press('F1');
  await pickQuickItem(page, 'Flotilla: Run Workflow…', '>Flotilla: Run Workflow');
  await waitForQuickInput(page, 'Run Workflow');
  await pickQuickItem(page, '.flotilla/workflows/long.yaml', 'long.yaml');
  const t0 = Date.now();
  while (processes('sleep 30.5').length < 2 && Date.now() - t0 < 20000) await sleep(100);
  assert.equal(processes('sleep 30.5').length, 2, 'the step runs on both hosts');
  const toast = page.locator('.notification-toast', { hasText: 'Flotilla workflow e2e-long' });
  await toast.getByRole('button', { name: 'Cancel' }).click();
  await waitForNotification(page, 'workflow e2e-long cancelled', 20000);
  assert.deepEqual(processes('sleep 30.5'), [], 'the remote sleeps are gone');
  const rows = await waitForTreeStable(page, 'Workflows');
  const runs = rows.slice(rows.findIndex((r) => r.label === 'Workflow runs'));
  assert.match(runs.find((r) => r.label === 'e2e-long')?.description ?? '', /^cancelled/, JSON.stringify(runs));
  assert.ok(!fs.existsSync(`${MARK}-later`) && !fs.existsSync(`${MARK}-lab-1-slept`), 'nothing further ran');
  await wb.screenshot('workflow-cancelled.png');
});
