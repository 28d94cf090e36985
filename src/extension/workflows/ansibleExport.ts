// "Export to Ansible…" on a workflow file: the core's playbook (src/core/ansible/playbook.ts) and the
// inventory it needs, written where the user chooses (the inventory beside the playbook).
import * as vscode from 'vscode';
import { inventoryBeside, type WorkflowAnsibleExport } from '../../core/ansible/playbook';

export async function saveAnsibleExport(exported: WorkflowAnsibleExport & { name: string }): Promise<void> {
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
  const uri = await vscode.window.showSaveDialog({
    title: `Export workflow ${exported.name} to Ansible`,
    defaultUri: folder ? vscode.Uri.joinPath(folder, `${exported.name}.playbook.yml`) : undefined,
    filters: { 'Ansible playbook': ['yml', 'yaml'] },
  });
  if (!uri) return;
  const inventory = vscode.Uri.file(inventoryBeside(uri.fsPath));
  // The save dialog asked about the playbook; the inventory beside it is never replaced silently.
  const exists = await vscode.workspace.fs.stat(inventory).then(() => true, () => false);
  if (exists) {
    const replace = await vscode.window.showWarningMessage(`${inventory.fsPath} exists. Replace it with the inventory of the workflow's hosts?`, { modal: true }, 'Replace');
    if (replace !== 'Replace') return;
  }
  await vscode.workspace.fs.writeFile(uri, Buffer.from(exported.playbook.text, 'utf8'));
  await vscode.workspace.fs.writeFile(inventory, Buffer.from(exported.inventory, 'utf8'));
  const left = exported.leftOut.length ? ` (${exported.leftOut.length} group member${exported.leftOut.length === 1 ? '' : 's'} that name no host left out)` : '';
  const open = await vscode.window.showInformationMessage(
    `Exported workflow ${exported.name} (${exported.playbook.hosts.length} hosts) to ${uri.fsPath}, with its inventory ${inventory.fsPath}${left}. Run: ansible-playbook -i ${inventory.fsPath} ${uri.fsPath}`,
    'Open',
  );
  if (open) await vscode.window.showTextDocument(uri);
}
