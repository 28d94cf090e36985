// Ansible inventory as a group source, in the real workbench: flotilla.ansible.inventory names an INI
// inventory; its groups appear nested (prod → dbs) beside the sshsync groups, a host only the inventory
// knows is probed online with the inventory's host/port/user/key, and its explain tooltip names the
// inventory file:line its settings came from. Export to Ansible… on a group writes an inventory ansible
// uses; on a workflow file, the playbook and the inventory beside it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  flotillaVsix, startLabFleet, labSettings, startWorkbench, openViewContainer, treeLabels, treeRows, treeItem,
  expandTreeItem, collapsePane, collapseTreeItem, waitForRowDescription, waitForTreeStable,
  chooseContextMenuItem, waitForQuickInput, pickQuickItem, waitForNotification, sleep,
} from './harness.mjs';
import { execFileSync } from 'node:child_process';

let lab, wb, inventory, settings;
const ROLLING = `name: rolling
stages:
  - name: production
    hosts: [lab-1, lab-2, lab-3]
    serial: 1
    steps:
      - run: touch ~/rolled
      - gate: { run: "[ -e ~/rolled ]", retries: 2, interval: 1s }
    on_failure:
      - run: rm -f ~/rolled
`;

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
  wb = await startWorkbench({
    name: 'ansible', vsix: [vsix], userSettings: settings,
    workspaceFiles: { 'README.txt': 'hello\n', '.flotilla/workflows/rolling.yaml': ROLLING },
  });
});

after(async () => {
  await wb?.stop();
  await lab?.stop();
});

test('inventory groups nest in the Hosts tree, and an inventory-only host is online with its explain tooltip naming the inventory line', async () => {
  const page = wb.page;
  await openViewContainer(page, 'Flotilla');
  for (const pane of ['Runs', 'Workflows', 'Agents']) await collapsePane(page, pane);
  // The tree is virtualised: fold the sshsync groups so the Ansible ones are rendered.
  await treeLabels(page, 'Hosts', { has: 'fleet' });
  for (const g of ['web', 'build', 'fleet']) await collapseTreeItem(page, 'Hosts', g);
  const top = (await treeRows(page, 'Hosts')).filter((r) => r.level === 1).map((r) => r.label);
  assert.deepEqual(top, ['web', 'build', 'fleet', 'prod'], 'sshsync groups, then the Ansible top-level group (dbs is nested)');
  await expandTreeItem(page, 'Hosts', 'prod');
  await expandTreeItem(page, 'Hosts', 'dbs');
  const rows = await treeRows(page, 'Hosts');
  const level = (label) => Number(rows.find((r) => r.label === label)?.level);
  assert.ok(level('dbs') === level('prod') + 1 && level('db1') === level('dbs') + 1, `prod > dbs > db1: ${JSON.stringify(rows)}`);
  assert.match((rows.find((r) => r.label === 'prod')?.description ?? ''), /2 hosts · Ansible inventory/);
  const lab2 = lab.info.hosts.find((h) => h.alias === 'lab-2');
  const description = await waitForRowDescription(page, 'Hosts', 'db1', new RegExp(`^flotilla@${lab2.address.replace(/\./g, '\\.')}:${lab2.port} · Ansible inventory · [\\d.]+ ms`));
  assert.ok(description);

  await treeItem(page, 'Hosts', 'db1').hover();
  const hover = page.locator('.monaco-hover, .workbench-hover').filter({ hasText: 'Ansible inventory' }).first();
  await hover.waitFor({ timeout: 15000 });
  const text = await hover.innerText();
  assert.match(text, new RegExp(`known from the Ansible inventory ${inventory.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2`));
  assert.match(text, new RegExp(`Port\\s+${lab2.port}\\s+${inventory.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2`));
  await wb.screenshot('ansible-hosts.png');
});

test('Export to Ansible… on a group writes an inventory that ansible itself uses', async () => {
  const page = wb.page;
  await page.mouse.move(900, 400);
  await treeItem(page, 'Hosts', 'prod').click({ button: 'right' });
  await chooseContextMenuItem(page, 'Export to Ansible…');
  await waitForQuickInput(page, 'Export prod to Ansible');
  await pickQuickItem(page, 'Ansible INI inventory', 'INI');
  // The save dialog (code-server's simple dialog) proposes <workspace>/prod.ansible.ini: accept it.
  const file = await acceptSaveDialog(page, 'prod.ansible.ini');
  const message = await waitForNotification(page, 'Exported 2 hosts');
  // prod's hosts keep every group they are in: prod, dbs, and lab-3's sshsync groups build and fleet.
  assert.match(message, /Exported 2 hosts in 4 groups to .*prod\.ansible\.ini/);
  await wb.screenshot('ansible-exported.png');
  const written = fs.readFileSync(file, 'utf8');
  assert.match(written, /^\[prod\]\nlab-3\ndb1$/m);
  assert.match(written, /^\[dbs\]\ndb1$/m);
  assert.match(written, /^\[fleet\]\nlab-3$/m);
  assert.match(written, /^db1 ansible_host=\S+ ansible_port=2222 ansible_user=flotilla ansible_ssh_private_key_file=\S+ ansible_ssh_common_args='-F /m);
  if (fs.existsSync('/usr/bin/ansible')) {
    const ansibleCfg = path.join(lab.dir, 'ansible.cfg');
    fs.writeFileSync(ansibleCfg, '');
    const out = execFileSync('ansible', ['-i', file, 'prod', '-m', 'ansible.builtin.raw', '-a', 'echo reached', '--one-line'], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, SSH_AUTH_SOCK: '', ANSIBLE_CONFIG: ansibleCfg, ANSIBLE_HOST_KEY_CHECKING: 'True', ANSIBLE_SSH_ARGS: '-o StrictHostKeyChecking=yes -o ControlMaster=no', ANSIBLE_NOCOLOR: '1', ANSIBLE_LOCAL_TEMP: path.join(lab.dir, 'ansible-tmp') },
      encoding: 'utf8',
    });
    for (const h of ['db1', 'lab-3']) assert.match(out, new RegExp(`^${h} \\| CHANGED \\| rc=0 \\| \\(stdout\\) reached`, 'm'));
  }
});

/** The path code-server's simple save dialog proposes, once it ends with `name`; Enter accepts it. */
async function acceptSaveDialog(page, name) {
  const box = page.locator('.quick-input-widget .quick-input-box input');
  const t0 = Date.now();
  while (!(await box.inputValue()).endsWith(name)) {
    if (Date.now() - t0 > 15000) throw new Error(`save dialog never proposed ${name}: ${await box.inputValue()}`);
    await sleep(100);
  }
  const file = await box.inputValue();
  await page.keyboard.press('Enter');
  await page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
  return file;
}

test('Export to Ansible… on a workflow file writes the playbook and, beside it, the inventory of its hosts', async () => {
  const page = wb.page;
  const pane = (title) => page.locator('.pane-header', { hasText: title }).first();
  await collapsePane(page, 'Hosts');
  if ((await pane('Workflows').getAttribute('aria-expanded')) !== 'true') await pane('Workflows').click();
  await treeLabels(page, 'Workflows', { has: 'rolling', timeout: 60000 });
  await treeItem(page, 'Workflows', 'rolling').click({ button: 'right' });
  await chooseContextMenuItem(page, 'Export to Ansible…');
  const file = await acceptSaveDialog(page, 'rolling.playbook.yml');
  const message = await waitForNotification(page, 'Exported workflow rolling');
  const inventoryFile = file.replace(/\.yml$/, '.inventory.yml');
  assert.ok(message.includes(`Exported workflow rolling (3 hosts) to ${file}, with its inventory ${inventoryFile}`), message);
  await wb.screenshot('ansible-workflow-exported.png');
  const playbook = fs.readFileSync(file, 'utf8');
  assert.match(playbook, /^  hosts: lab-1,lab-2,lab-3,!flotilla_failed\n  gather_facts: false\n  serial: 1$/m);
  assert.match(playbook, /until: flotilla_gate\.rc == 0/);
  assert.match(fs.readFileSync(inventoryFile, 'utf8'), /ansible_ssh_common_args: -F /);
  if (fs.existsSync('/usr/bin/ansible-playbook')) {
    fs.writeFileSync(path.join(lab.dir, 'ansible.cfg'), '');
    const out = execFileSync('ansible-playbook', ['-i', inventoryFile, file, '--list-hosts'], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ANSIBLE_CONFIG: path.join(lab.dir, 'ansible.cfg'), ANSIBLE_NOCOLOR: '1', ANSIBLE_LOCAL_TEMP: path.join(lab.dir, 'ansible-tmp') },
      encoding: 'utf8',
    });
    // (--list-hosts lists them in inventory order; the plays run them in the pattern's order.)
    const listed = /play #1 \(lab-1,lab-2,lab-3,!flotilla_failed\): stage 1\/1 production\s+TAGS: \[\]\s+pattern: \['lab-1,lab-2,lab-3,!flotilla_failed'\]\s+hosts \(3\):\n((?:\s+\S+\n?){3})/.exec(out);
    assert.deepEqual(listed?.[1].trim().split(/\s+/).sort(), ['lab-1', 'lab-2', 'lab-3'], out);
  }
  await collapsePane(page, 'Workflows');
  if ((await pane('Hosts').getAttribute('aria-expanded')) !== 'true') await pane('Hosts').click();
});

test('edits to the inventory and to host_vars beside it show up without a reload', async () => {
  const page = wb.page;
  const lab1 = lab.info.hosts.find((h) => h.alias === 'lab-1');
  fs.mkdirSync(path.join(lab.dir, 'host_vars'), { recursive: true });
  // host_vars beats the inventory's host line (Ansible's precedence): db1 now goes to lab-1's address.
  fs.writeFileSync(path.join(lab.dir, 'host_vars', 'db1.yml'), `ansible_host: ${lab1.address}\n`);
  await waitForRowDescription(page, 'Hosts', 'db1', new RegExp(`^flotilla@${lab1.address.replace(/\./g, '\\.')}:2222 `));
  fs.appendFileSync(inventory, '[extra]\nlab-1\n');
  await treeLabels(page, 'Hosts', { has: 'extra' });
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
