// Ansible inventory as a group source, in the real workbench: flotilla.ansible.inventory names an INI
// inventory; its groups appear nested (prod → dbs) beside the sshsync groups, a host only the inventory
// knows is probed online with the inventory's host/port/user/key, and its explain tooltip names the
// inventory file:line its settings came from.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  flotillaVsix, startLabFleet, labSettings, startWorkbench, openViewContainer, treeLabels, treeRows, treeItem,
  expandTreeItem, collapsePane, collapseTreeItem, waitForRowDescription, waitForTreeStable,
} from './harness.mjs';

let lab, wb, inventory, settings;

before(async () => {
  const vsix = await flotillaVsix();
  lab = await startLabFleet({ hosts: 3, name: 'ansible', plain: true });
  const info = lab.info;
  const lab2 = info.hosts.find((h) => h.alias === 'lab-2');
  // The lab's config, plus its known_hosts for hosts it does not name (the inventory-only db1).
  const sshConfig = path.join(lab.dir, 'ansible.ssh_config');
  fs.writeFileSync(sshConfig, `${fs.readFileSync(info.sshConfig, 'utf8')}\nHost *\n  UserKnownHostsFile ${info.knownHosts}\n`);
  inventory = path.join(lab.dir, 'hosts.ini');
  fs.writeFileSync(inventory, [
    '[dbs]',
    `db1 ansible_host=${lab2.address} ansible_port=${lab2.port} ansible_user=flotilla ansible_ssh_private_key_file=${info.identityFile}`,
    '[prod]',
    'lab-3',
    '[prod:children]',
    'dbs',
    '',
  ].join('\n'));
  settings = {
    ...labSettings(lab),
    'flotilla.sshConfigFile': sshConfig,
    'flotilla.ansible.inventory': [inventory],
    'flotilla.connectTimeoutSeconds': 3,
    'flotilla.health.intervalSeconds': 600,
  };
  wb = await startWorkbench({ name: 'ansible', vsix: [vsix], userSettings: settings });
});

after(async () => {
  await wb?.stop();
  await lab?.stop();
});

test('inventory groups nest in the Hosts tree, and an inventory-only host is online with its explain tooltip naming the inventory line', async () => {
  const page = wb.page;
  await openViewContainer(page, 'Flotilla');
  for (const pane of ['Runs', 'Agents']) await collapsePane(page, pane);
  const top = await treeLabels(page, 'Hosts', { has: 'prod' });
  for (const g of ['web', 'build', 'fleet', 'prod']) assert.ok(top.includes(g), `group ${g} at the top: ${top}`);
  assert.ok(!top.includes('dbs') || top.indexOf('dbs') > top.indexOf('prod'), `dbs is nested under prod: ${top}`);
  for (const g of ['web', 'build', 'fleet']) await collapseTreeItem(page, 'Hosts', g);
  await expandTreeItem(page, 'Hosts', 'prod');
  await expandTreeItem(page, 'Hosts', 'dbs');
  const rows = await treeRows(page, 'Hosts');
  const level = (label) => Number(rows.find((r) => r.label === label)?.level);
  assert.ok(level('dbs') === level('prod') + 1 && level('db1') === level('dbs') + 1, `prod > dbs > db1: ${JSON.stringify(rows)}`);
  assert.match((rows.find((r) => r.label === 'prod')?.description ?? ''), /2 hosts · Ansible inventory/);
  const lab2 = lab.info.hosts.find((h) => h.alias === 'lab-2');
  const description = await waitForRowDescription(page, 'Hosts', 'db1', new RegExp(`^flotilla@${lab2.address.replace(/\./g, '\\.')}:${lab2.port} · Ansible inventory · \\d+ ms`));
  assert.ok(description);

  await treeItem(page, 'Hosts', 'db1').hover();
  const hover = page.locator('.monaco-hover, .workbench-hover').filter({ hasText: 'Ansible inventory' }).first();
  await hover.waitFor({ timeout: 15000 });
  const text = await hover.innerText();
  assert.match(text, new RegExp(`known from the Ansible inventory ${inventory.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2`));
  assert.match(text, new RegExp(`Port\\s+${lab2.port}\\s+${inventory.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2`));
  await wb.screenshot('ansible-hosts.png');
});

test('in a workspace that is not trusted the inventory is not read', async () => {
  await wb.stop();
  wb = await startWorkbench({
    name: 'ansible-untrusted',
    vsix: [await flotillaVsix()],
    userSettings: { ...settings, 'security.workspace.trust.enabled': true, 'security.workspace.trust.startupPrompt': 'never' },
    workspaceTrust: true,
  });
  await wb.page.locator('.statusbar-item', { hasText: 'Restricted Mode' }).first().waitFor({ timeout: 15000 });
  const page = wb.page;
  await openViewContainer(page, 'Flotilla');
  await waitForRowDescription(page, 'Hosts', 'fleet', /3 hosts/);
  await waitForTreeStable(page, 'Hosts');
  const labels = await treeLabels(page, 'Hosts', { has: 'fleet' });
  assert.ok(!labels.includes('prod') && !labels.includes('db1'), `no Ansible group or host: ${labels}`);
  await page.mouse.move(900, 400);
  await wb.screenshot('ansible-untrusted.png');
});
