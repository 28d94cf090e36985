// The extension is installed, activates, and contributes its view, command and settings.
import * as assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import * as vscode from 'vscode';
import { COMMAND_IDS } from '../../src/extension/commands/ids';

const EXTENSION_ID = 'flotilla.flotilla';

describe('Flotilla activation (inside the extension host)', () => {
  it('is present', () => {
    assert.ok(vscode.extensions.getExtension(EXTENSION_ID), `${EXTENSION_ID} is installed`);
  });

  it('activates when flotilla.refresh is executed', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    await vscode.commands.executeCommand('flotilla.refresh');
    await ext.activate();
    assert.equal(ext.isActive, true);
  });

  it('registers its commands and the Hosts view', async () => {
    const cmds = await vscode.commands.getCommands(true);
    assert.ok(cmds.includes('flotilla.refresh'), 'flotilla.refresh');
    // VS Code registers "<view id>.focus" for each contributed view.
    assert.ok(cmds.includes('flotilla.hosts.focus'), 'flotilla.hosts.focus');
    await vscode.commands.executeCommand('flotilla.hosts.focus');
  });

  it('registers every command of its one command list', async () => {
    const cmds = new Set(await vscode.commands.getCommands(true));
    assert.deepEqual(COMMAND_IDS.filter((id) => !cmds.has(id)), [], 'listed but not registered');
  });

  it('contributes its configuration keys', () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    const props = Object.keys(ext.packageJSON.contributes.configuration.properties as Record<string, unknown>);
    for (const key of ['flotilla.sshConfigFile', 'flotilla.groupsFile']) assert.ok(props.includes(key), key);
    const cfg = vscode.workspace.getConfiguration('flotilla');
    for (const key of props) {
      const info = cfg.inspect(key.replace(/^flotilla\./, ''));
      assert.ok(info && info.defaultValue !== undefined, `${key} has a default`);
    }
  });

  it('sees the seeded user settings (when the runner sets FLOTILLA_E2E_EXPECT_*)', function () {
    const expected = {
      sshConfigFile: process.env.FLOTILLA_E2E_EXPECT_SSH_CONFIG,
      groupsFile: process.env.FLOTILLA_E2E_EXPECT_GROUPS,
    };
    if (!expected.sshConfigFile && !expected.groupsFile) this.skip();
    const cfg = vscode.workspace.getConfiguration('flotilla');
    for (const [key, value] of Object.entries(expected)) if (value) assert.equal(cfg.get(key), value, key);
  });

  it('runs in a Node extension host', () => {
    assert.equal(typeof process.versions.node, 'string');
    console.log(`      extension host: node ${process.versions.node} | vscode ${vscode.version} | uiKind ${
      vscode.UIKind[vscode.env.uiKind]} | remoteName ${vscode.env.remoteName} | appName ${vscode.env.appName}`);
  });
});
