// UI-level e2e test: Flotilla built, packaged as a .vsix and installed into a
// fresh code-server whose user settings point at a lab fleet's ssh_config and
// groups.yaml, driven through the real workbench in headless Chromium.
// Run: bash test/e2e/run.sh   (or, after install.sh: node --test test/e2e/ui.test.mjs)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  flotillaVsix, startLabFleet, labSettings, startWorkbench, openViewContainer, treeLabels, treeItem, waitForTreeStable, stopwatch, sleep,
} from './harness.mjs';

const mark = stopwatch();
let lab, wb, config;

before(async () => {
  const vsix = await flotillaVsix();
  mark('extension built and packaged');
  lab = await startLabFleet({ hosts: 3, name: 'ui' });
  mark(`lab fleet up (${lab.info.hosts?.length ?? '?'} hosts)`);
  // The lab's config with two mistakes people make: a macOS-only keyword and a ProxyJump ssh refuses.
  config = path.join(lab.dir, 'ui.ssh_config');
  fs.writeFileSync(config, `UseKeychain yes\n\nHost broken\n  ProxyJump jumpbox:22bad22\n\n${fs.readFileSync(lab.info.sshConfig, 'utf8')}`);
  wb = await startWorkbench({ name: 'ui', vsix: [vsix], userSettings: { ...labSettings(lab), 'flotilla.sshConfigFile': config } });
  mark('workbench loaded');
});

after(async () => {
  await wb?.stop();
  await lab?.stop();
  mark('torn down');
});

test('the Flotilla activity-bar container shows the Hosts tree with items', async () => {
  await openViewContainer(wb.page, 'Flotilla');
  await wb.page.mouse.move(900, 300); // off the activity bar: no hover tooltip in the screenshot
  const labels = await treeLabels(wb.page, 'Hosts', { min: 1 });
  mark(`Hosts tree visible: ${JSON.stringify(labels)}`);
  assert.ok(labels.length >= 1, 'the Hosts tree has at least one item');
  assert.ok(labels.every((l) => l.trim() !== ''), 'every row has a label');
  await waitForTreeStable(wb.page, 'Hosts');
  await wb.screenshot('hosts-view.png');
});

test('problems in the ssh config are rows that open the file at the line, and the hosts that resolved stay listed', async () => {
  const page = wb.page;
  await openViewContainer(page, 'Flotilla');
  const labels = await treeLabels(page, 'Hosts', { has: /^ui\.ssh_config:4: /, timeout: 30000 });
  mark(`Hosts tree with problems: ${JSON.stringify(labels.slice(0, 6))}`);
  assert.ok(labels.some((l) => /^ui\.ssh_config:1: .*usekeychain/i.test(l)), `the unknown keyword has its row: ${labels}`);
  assert.ok(labels.some((l) => /^ui\.ssh_config:4: .*ProxyJump/.test(l)), 'the bad ProxyJump has its row');
  assert.ok(labels.includes('web'), 'the groups and hosts that resolved are still there');
  await treeItem(page, 'Hosts', /^ui\.ssh_config:4: /).click();
  const line = page.locator('.editor-group-container.active .monaco-editor .view-line', { hasText: 'ProxyJump jumpbox:22bad22' });
  await line.waitFor({ timeout: 10000 });
  const status = page.locator('.statusbar-item', { hasText: /^Ln 4, Col 1$/ });
  await status.waitFor({ timeout: 10000 });
  await page.mouse.move(1100, 850);
  await sleep(300);
  await wb.screenshot('hosts-config-problems.png');
});
