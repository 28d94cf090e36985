// "Export to Ansible…" on a group (or the whole fleet): the core's inventory export, written where the
// user chooses.
import * as vscode from 'vscode';
import { formatAnsibleExport, planAnsibleExport, type AnsibleExportFormat } from '../../core/ansible/export';
import { registerCommand } from '../commands/register';
import type { Fleet } from '../fleet';
import type { HostsNode } from './hostsTree';

const FORMATS: { label: string; format: AnsibleExportFormat; ext: string }[] = [
  { label: 'Ansible YAML inventory', format: 'ansible-yaml', ext: 'yml' },
  { label: 'Ansible INI inventory', format: 'ansible-ini', ext: 'ini' },
];

/** The export's target: the clicked group, every ungrouped host, or (from the view title) all. */
function targetOf(fleet: Fleet, node: HostsNode | undefined): { target: string; name: string } {
  if (node?.kind !== 'group') return { target: 'all', name: 'fleet' };
  if (!node.ungrouped) return { target: `group:${node.name}`, name: node.name };
  const grouped = new Set([...(fleet.snapshot.inventory?.groups.values() ?? [])].flat());
  return { target: fleet.aliases.filter((a) => !grouped.has(a)).join(','), name: 'ungrouped' };
}

export function registerAnsibleExport(fleet: Fleet): vscode.Disposable {
  return registerCommand('flotilla.exportAnsibleInventory', async (node?: HostsNode) => {
    await fleet.ready;
    const { inventory, problem } = fleet.snapshot;
    if (!inventory) throw new Error(problem?.message ?? 'the fleet could not be read');
    const { target, name } = targetOf(fleet, node);
    const plan = planAnsibleExport(inventory, target);
    const picked = await vscode.window.showQuickPick(FORMATS, { title: `Export ${name} to Ansible (${plan.hosts.size} hosts)` });
    if (!picked) return;
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const uri = await vscode.window.showSaveDialog({
      title: `Export ${name} to Ansible`,
      defaultUri: folder ? vscode.Uri.joinPath(folder, `${name}.ansible.${picked.ext}`) : undefined,
      filters: { [picked.label]: [picked.ext] },
    });
    if (!uri) return;
    await vscode.workspace.fs.writeFile(uri, Buffer.from(formatAnsibleExport(plan, picked.format), 'utf8'));
    const left = plan.leftOut.length ? ` (${plan.leftOut.length} group member${plan.leftOut.length === 1 ? '' : 's'} that name no host left out)` : '';
    const open = await vscode.window.showInformationMessage(`Exported ${plan.hosts.size} hosts in ${plan.groups.size} groups to ${uri.fsPath}${left}.`, 'Open');
    if (open) await vscode.window.showTextDocument(uri);
  });
}
