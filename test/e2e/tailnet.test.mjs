// Tailscale in the editor, with the tailnet read from a stand-in `tailscale` executable (flotilla.tailscale.path:
// the extension host's PATH is the login shell's, not the test's) that prints a recorded `tailscale status
// --json` (there is no tailnet here; the ssh hosts are the lab's real sshds). The peer behind the lab's unknown-key host publishes that host's key (`sshHostKeys`): the
// host-key review offers exactly that key, marked as coming from the tailnet, and trusting it turns the host online.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  flotillaVsix, startLabFleet, labSettings, startWorkbench, openViewContainer, treeLabels, treeItem, treeRows,
  expandTreeItem, collapsePane, collapseTreeItem, waitForRowDescription, runCommand, stopwatch,
} from './harness.mjs';

const mark = stopwatch();
let lab, wb, fakeDir, presented;

before(async () => {
  const vsix = await flotillaVsix();
  lab = await startLabFleet({ hosts: 1, name: 'tailnet' });
  mark('lab up');
  const host = lab.info.hosts.find((h) => h.alias === 'unknown-key');
  presented = fs.readFileSync(path.join(lab.info.dir, 'hosts', 'unknown-key', 'ssh_host_ed25519_key.pub'), 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  fakeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flotilla-e2e-tailscale-'));
  const status = {
    BackendState: 'Running',
    Self: { HostName: 'devbox', DNSName: 'devbox.tail1a2b3c.ts.net.', TailscaleIPs: ['100.101.102.103'], OS: 'linux', Online: true },
    Peer: {
      'nodekey:k1': {
        HostName: 'keybox', DNSName: 'keybox.tail1a2b3c.ts.net.', TailscaleIPs: [host.address], OS: 'linux', Online: true, Active: true,
        CurAddr: '', Relay: 'fra', LastSeen: '0001-01-01T00:00:00Z', sshHostKeys: [`${presented} root@keybox`],
      },
      'nodekey:k2': {
        HostName: 'laptop', DNSName: 'laptop.tail1a2b3c.ts.net.', TailscaleIPs: ['100.64.1.2'], OS: 'macOS', Online: false,
        LastSeen: '2026-11-30T22:15:00Z',
      },
    },
  };
  fs.writeFileSync(path.join(fakeDir, 'status.json'), JSON.stringify(status));
  fs.writeFileSync(path.join(fakeDir, 'tailscale'), `#!/bin/sh\n[ "$1 $2" = "status --json" ] && exec cat '${fakeDir}/status.json'\nexit 2\n`, { mode: 0o755 });
  wb = await startWorkbench({
    name: 'tailnet',
    vsix: [vsix],
    userSettings: { ...labSettings(lab), 'flotilla.tailscale.enabled': true, 'flotilla.tailscale.path': path.join(fakeDir, 'tailscale'), 'flotilla.connectTimeoutSeconds': 2, 'flotilla.health.intervalSeconds': 600 },
  });
  mark('workbench loaded');
});

after(async () => {
  await wb?.stop();
  await lab?.stop();
  if (fakeDir) fs.rmSync(fakeDir, { recursive: true, force: true });
});

test('the Hosts view lists the tailnet peer without an ssh entry with its last-seen time', async () => {
  const page = wb.page;
  await openViewContainer(page, 'Flotilla');
  for (const pane of ['Runs', 'Workflows', 'Agents']) await collapsePane(page, pane);
  await treeLabels(page, 'Hosts', { has: 'Tailscale peers' });
  for (const g of ['web', 'build', 'fleet', 'Ungrouped']) await collapseTreeItem(page, 'Hosts', g);
  await expandTreeItem(page, 'Hosts', 'Tailscale peers');
  const laptop = (await treeRows(page, 'Hosts')).find((r) => r.label === 'laptop');
  assert.match(laptop?.description ?? '', /laptop\.tail1a2b3c\.ts\.net · macOS · last seen 2026-11-30T22:15:00Z/);
  // keybox is the unknown-key alias's peer (matched by address): listed under its alias, not as a bare peer
  assert.ok(!(await treeRows(page, 'Hosts')).some((r) => r.label === 'keybox'), 'a matched peer is shown as its ssh alias');
  mark('peers shown');
});

test('the host-key review offers the key the tailnet publishes, marked as from the tailnet; trusting it turns the host online', async () => {
  const page = wb.page;
  await collapseTreeItem(page, 'Hosts', 'Tailscale peers');
  await expandTreeItem(page, 'Hosts', 'Ungrouped');
  await waitForRowDescription(page, 'Hosts', 'unknown-key', /not accepted|unknown/);
  assert.match(await treeItem(page, 'Hosts', 'unknown-key').getAttribute('aria-label'), /unknown-key, unusable/);
  await runCommand(page, 'Flotilla: Review Host Keys…', { opensPicker: true });
  const input = page.locator('.quick-input-widget');
  const row = input.locator('.quick-input-list .monaco-list-row', { hasText: 'unknown-key' }).first();
  await row.waitFor({ timeout: 15000 });
  const text = await row.innerText();
  assert.match(text, /keys from the tailnet \(peer keybox\)/);
  assert.match(text, /trusts the key the tailnet publishes, the presented ssh-ed25519 among them: ssh-ed25519 SHA256:/);
  assert.ok(await row.locator('.codicon-globe').count(), 'marked with the tailnet icon');
  await row.locator('input[type=checkbox], .monaco-checkbox, .quick-input-list-checkbox').first().click();
  await wb.screenshot('tailnet-review.png');
  await input.getByRole('button', { name: 'OK' }).click();
  await waitForRowDescription(page, 'Hosts', 'unknown-key', /load \d/);
  assert.match(await treeItem(page, 'Hosts', 'unknown-key').getAttribute('aria-label'), /unknown-key, online/);
  const known = fs.readFileSync(lab.info.knownHosts, 'utf8');
  const host = lab.info.hosts.find((h) => h.alias === 'unknown-key');
  const written = known.split('\n').filter((l) => l.startsWith(`[${host.address}]:${host.port} `));
  assert.deepEqual(written, [`[${host.address}]:${host.port} ${presented}`], 'exactly the published key, once');
  await wb.screenshot('tailnet-trusted.png');
});
