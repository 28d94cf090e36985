// Commands on hosts and groups in the Hosts view: check, copy ssh command, open config at host,
// add host, filter, and group editing (writes the sshsync YAML, keeping its comments).
import * as vscode from 'vscode';
import { errorText, registerCommand } from '../commands/register';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { sshArgv } from '../../core/ansible';
import { addToGroup, createGroup, defaultGroupsPaths, deleteGroup, removeFromGroup, renameGroup, validateGroupName } from '../../core/config/groups';
import { validateHostToken } from '../../core/config/sshConfig';
import { shellCommandFromArgv, shQuote } from '../../core/ssh/quote';
import type { Fleet } from '../fleet';
import type { HostsNode, HostsTree } from './hostsTree';
import { selectedAliases } from './targets';
import { checkAndReport } from './statusBar';

type HostNode = Extract<HostsNode, { kind: 'host' }>;
type GroupNode = Extract<HostsNode, { kind: 'group' }>;

/** Hosts a command applies to: the clicked node plus the rest of the multi-selection. */

function groupsPath(fleet: Fleet): string {
  return fleet.snapshot.inventory?.groupsFile ?? fleet.settings.groupsFile ?? defaultGroupsPaths(homedir())[1]!;
}

function sshConfigPath(fleet: Fleet): string {
  return fleet.settings.sshConfigFile ?? join(homedir(), '.ssh', 'config');
}

async function pickHost(fleet: Fleet, title: string): Promise<string | undefined> {
  return vscode.window.showQuickPick(fleet.aliases, { title });
}

export function registerHostCommands(fleet: Fleet, tree: HostsTree, view: vscode.TreeView<HostsNode>): vscode.Disposable[] {
  const editGroups = async (edit: (path: string) => Promise<void>) => {
    await edit(groupsPath(fleet));
    await fleet.reload();
  };

  return [
    registerCommand('flotilla.refresh', () => fleet.reload()),
    registerCommand('flotilla.checkNow', async (node?: HostNode, selection?: HostsNode[]) => {
      const aliases = selectedAliases(node, selection);
      await checkAndReport(fleet, aliases.length ? aliases : fleet.aliases);
    }),
    registerCommand('flotilla.copySshCommand', async (node?: HostNode) => {
      const alias = node?.alias ?? (await pickHost(fleet, 'Copy ssh command for…'));
      if (!alias) return;
      const custom = fleet.settings.sshConfigFile ? `-F ${shQuote(fleet.settings.sshConfigFile)} ` : '';
      // A host only an Ansible inventory knows needs its connection settings on the command line.
      const ansible = fleet.snapshot.inventory?.hosts.find((h) => h.alias === alias)?.ansible;
      const command = ansible ? shellCommandFromArgv(sshArgv(ansible, fleet.settings.sshConfigFile)) : `ssh ${custom}${shQuote(alias)}`;
      await vscode.env.clipboard.writeText(command);
      void vscode.window.setStatusBarMessage(`Copied: ${command}`, 3000);
    }),
    registerCommand('flotilla.openSshConfig', async (node?: HostNode) => {
      const entry = node && fleet.snapshot.inventory?.hosts.find((h) => h.alias === node.alias);
      const file = entry?.source.file ?? sshConfigPath(fleet);
      const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
      const line = Math.max(0, (entry?.source.line ?? 1) - 1);
      await vscode.window.showTextDocument(doc, { selection: new vscode.Range(line, 0, line, 0) });
    }),
    // The target of a problem row in the Hosts view: the file and line to fix.
    registerCommand('flotilla.openFileAt', async (file: string, line?: number) => {
      const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
      const at = Math.max(0, (line ?? 1) - 1);
      await vscode.window.showTextDocument(doc, { selection: new vscode.Range(at, 0, at, 0) });
    }),
    registerCommand('flotilla.filter', async () => {
      const value = await vscode.window.showInputBox({ title: 'Filter hosts', prompt: 'Show hosts whose alias contains…', value: tree.filter, ignoreFocusOut: true });
      if (value === undefined) return;
      tree.filter = value.trim();
      view.description = tree.filter ? `filter: ${tree.filter}` : undefined;
      await vscode.commands.executeCommand('setContext', 'flotilla.filtered', !!tree.filter);
      tree.refresh();
    }),
    registerCommand('flotilla.clearFilter', async () => {
      tree.filter = '';
      view.description = undefined;
      await vscode.commands.executeCommand('setContext', 'flotilla.filtered', false);
      tree.refresh();
    }),
    registerCommand('flotilla.addHost', async () => {
      const alias = await vscode.window.showInputBox({ title: 'Add Host (1/4): alias', prompt: 'The name you will use (ssh ALIAS)', validateInput: (v) => aliasProblem(v, fleet.aliases) });
      if (!alias) return;
      const hostname = await vscode.window.showInputBox({ title: 'Add Host (2/4): HostName', prompt: 'DNS name or address', validateInput: (v) => check(v, 'hostname') });
      if (!hostname) return;
      const user = await vscode.window.showInputBox({ title: 'Add Host (3/4): User', prompt: 'Leave empty for your local user name', validateInput: (v) => (v ? check(v, 'user') : undefined) });
      if (user === undefined) return;
      const port = await vscode.window.showInputBox({ title: 'Add Host (4/4): Port', value: '22', validateInput: (v) => (/^\d+$/.test(v) && +v > 0 && +v < 65536 ? undefined : 'a port number 1–65535') });
      if (!port) return;
      const block = `\nHost ${alias}\n  HostName ${hostname}\n${user ? `  User ${user}\n` : ''}${port !== '22' ? `  Port ${port}\n` : ''}`;
      const file = sshConfigPath(fleet);
      const ok = await vscode.window.showInformationMessage(`Append this Host block to ${file}?`, { modal: true, detail: block.trim() }, 'Append');
      if (ok !== 'Append') return;
      await mkdir(dirname(file), { recursive: true, mode: 0o700 });
      const existing = await readFile(file, 'utf8').catch(() => '');
      await appendFile(file, (existing && !existing.endsWith('\n') ? '\n' : '') + block, { mode: 0o600 });
      await fleet.reload();
    }),
    registerCommand('flotilla.addToGroup', async (node?: HostNode, selection?: HostsNode[]) => {
      const aliases = selectedAliases(node, selection);
      if (!aliases.length) return;
      const existing = [...(fleet.snapshot.inventory?.groups.keys() ?? [])];
      const NEW = '$(add) New group…';
      const choice = await vscode.window.showQuickPick([...existing, NEW], { title: `Add ${aliases.join(', ')} to group` });
      if (!choice) return;
      const group = choice === NEW ? await askGroupName('New group name') : choice;
      if (!group) return;
      await editGroups((p) => addToGroup(p, group, aliases));
    }),
    registerCommand('flotilla.removeFromGroup', async (node?: HostNode, selection?: HostsNode[]) => {
      const nodes = (selection?.length ? selection : node ? [node] : []).filter((n): n is HostNode => n.kind === 'host' && !!n.group);
      for (const n of nodes) await removeFromGroup(groupsPath(fleet), n.group!, [n.alias]);
      await fleet.reload();
    }),
    registerCommand('flotilla.newGroup', async () => {
      const name = await askGroupName('New group name');
      if (name) await editGroups((p) => createGroup(p, name));
    }),
    registerCommand('flotilla.renameGroup', async (node?: GroupNode) => {
      if (!node || node.kind !== 'group' || node.ungrouped) return;
      const to = await askGroupName(`Rename group ${node.name} to`, node.name);
      if (to && to !== node.name) await editGroups((p) => renameGroup(p, node.name, to));
    }),
    registerCommand('flotilla.deleteGroup', async (node?: GroupNode) => {
      if (!node || node.kind !== 'group' || node.ungrouped) return;
      const ok = await vscode.window.showWarningMessage(`Delete group ${node.name}? Its hosts stay in the ssh config.`, { modal: true }, 'Delete');
      if (ok === 'Delete') await editGroups((p) => deleteGroup(p, node.name));
    }),
  ];
}

/** Why a new alias cannot be used: taken already, or an address typed where a name belongs. */
export function aliasProblem(value: string, existing: readonly string[]): string | undefined {
  const v = value.trim();
  if (existing.includes(v)) return `${v} is already a Host in the ssh config: pick another name, or edit that entry (Open ssh Config)`;
  if (/[@:]/.test(v)) return 'an alias is a short name such as "web-1"; the user, address and port are asked for next';
  return check(v, 'alias');
}

function check(value: string, what: 'alias' | 'hostname' | 'user'): string | undefined {
  try {
    validateHostToken(value, what);
    return undefined;
  } catch (err) {
    return errorText(err);
  }
}

async function askGroupName(title: string, value?: string): Promise<string | undefined> {
  return vscode.window.showInputBox({
    title,
    value,
    validateInput: (v) => {
      try {
        validateGroupName(v);
        return undefined;
      } catch (err) {
        return errorText(err);
      }
    },
  });
}
