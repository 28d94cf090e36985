// UI-level e2e test: Flotilla built, packaged as a .vsix and installed into a
// fresh code-server whose user settings point at a lab fleet's ssh_config and
// groups.yaml, driven through the real workbench in headless Chromium.
// Run: bash test/e2e/run.sh   (or, after install.sh: node --test test/e2e/ui.test.mjs)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  flotillaVsix, startLabFleet, labSettings, startWorkbench, openViewContainer, treeLabels, waitForTreeStable, stopwatch,
} from './harness.mjs';

const mark = stopwatch();
let lab, wb;

before(async () => {
  const vsix = await flotillaVsix();
  mark('extension built and packaged');
  lab = await startLabFleet({ hosts: 3, name: 'ui' });
  mark(`lab fleet up (${lab.info.hosts?.length ?? '?'} hosts)`);
  wb = await startWorkbench({ name: 'ui', vsix: [vsix], userSettings: labSettings(lab) });
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
