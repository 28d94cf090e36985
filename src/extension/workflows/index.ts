// Workflows in the editor: the Workflows view, Run / Dry Run / New / Cancel / Export to Ansible commands and problems of
// workflow files. main.ts calls registerWorkflows once; the work is the core's (src/core/workflows).
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { registerCommand } from '../commands/register';
import type { RunStore } from '../../core/jobs/store';
import { readWorkflow } from '../../core/workflows/parse';
import { watchWorkflows, WorkflowStore } from '../../core/workflows/record';
import { BUILTIN_PREFIX, findWorkflowFiles, TEMPLATES, templateWorkflow, WORKFLOWS_DIR } from '../../core/workflows/templates';
import type { Fleet } from '../fleet';
import { registerWorkflowCompletion } from './completion';
import type { Pool } from '../../core/ssh/pool';
import { registerWorkflowDiagnostics, WORKFLOW_FILE } from './diagnostics';
import { showRecord, WorkflowLauncher } from './launch';
import { WorkflowsTree, type WorkflowsNode } from './workflowsTree';

async function workspaceFiles(): Promise<string[]> {
  const lists = await Promise.all((vscode.workspace.workspaceFolders ?? []).map((f) => findWorkflowFiles(f.uri.fsPath)));
  return lists.flat();
}

/** A node, a file URI (explorer, editor title), or a pick among the workspace's files and the built-ins. */
async function fileOf(arg: unknown, title: string): Promise<string | undefined> {
  if (arg instanceof vscode.Uri) return arg.fsPath;
  if (arg && typeof arg === 'object' && (arg as WorkflowsNode).kind === 'file') return (arg as { path: string }).path;
  const files = await workspaceFiles();
  const active = vscode.window.activeTextEditor?.document;
  if (active?.uri.scheme === 'file' && /\.ya?ml$/i.test(active.uri.fsPath) && !files.includes(active.uri.fsPath)) files.unshift(active.uri.fsPath);
  type Item = vscode.QuickPickItem & { file: string };
  const items: Item[] = [
    ...files.map((file) => ({ file, label: vscode.workspace.asRelativePath(file), description: WORKFLOW_FILE.test(file) ? undefined : 'open in the editor' })),
    { file: '', label: 'Built-in', kind: vscode.QuickPickItemKind.Separator },
    ...Object.keys(TEMPLATES).map((name) => ({ file: `${BUILTIN_PREFIX}${name}`, label: `${BUILTIN_PREFIX}${name}`, detail: templateWorkflow(name).description })),
  ];
  return (await vscode.window.showQuickPick(items, { title, placeHolder: `a file in ${WORKFLOWS_DIR}, or a built-in workflow`, ignoreFocusOut: true }))?.file;
}

async function newWorkflow(): Promise<void> {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) {
    void vscode.window.showErrorMessage('Flotilla: open a folder first; workflows live in its .flotilla/workflows.');
    return;
  }
  const pick = await vscode.window.showQuickPick(
    Object.keys(TEMPLATES).map((name) => ({ label: name, detail: templateWorkflow(name).description })),
    { title: 'New Workflow from…', ignoreFocusOut: true },
  );
  if (!pick) return;
  const dir = join(folder.uri.fsPath, WORKFLOWS_DIR);
  let path = join(dir, `${pick.label}.yaml`);
  for (let n = 2; existsSync(path); n++) path = join(dir, `${pick.label}-${n}.yaml`);
  await mkdir(dir, { recursive: true });
  await writeFile(path, TEMPLATES[pick.label]!, { flag: 'wx' });
  await vscode.window.showTextDocument(vscode.Uri.file(path));
}

export function registerWorkflows(context: vscode.ExtensionContext, fleet: Fleet, pool: Pool, store: RunStore, log: vscode.LogOutputChannel): void {
  const records = new WorkflowStore(store.root);
  const tree = new WorkflowsTree(records);
  const view = vscode.window.createTreeView<WorkflowsNode>('flotilla.workflows', { treeDataProvider: tree });
  const launcher = new WorkflowLauncher(fleet, pool, store, tree, log);
  const refreshFiles = async () => {
    const files = await workspaceFiles();
    tree.setFiles(await Promise.all(files.map(async (path) => {
      try {
        return { path, name: (await readWorkflow(path)).name };
      } catch (err) {
        return { path, error: (err as Error).message };
      }
    })));
  };
  const fileWatcher = vscode.workspace.createFileSystemWatcher(`**/${WORKFLOWS_DIR.replace(/\\/g, '/')}/*.{yaml,yml}`);
  const trusted = () => {
    if (vscode.workspace.isTrusted) return true;
    void vscode.window.showErrorMessage('Flotilla: workflows run commands on hosts; trust this workspace first (Restricted Mode runs nothing from workspace files).');
    return false;
  };
  const runId = (arg: unknown) => (arg && typeof arg === 'object' && (arg as WorkflowsNode).kind === 'run' ? (arg as { id: string }).id : undefined);

  context.subscriptions.push(
    tree,
    view,
    fileWatcher,
    fileWatcher.onDidCreate(refreshFiles),
    fileWatcher.onDidChange(refreshFiles),
    fileWatcher.onDidDelete(refreshFiles),
    vscode.workspace.onDidChangeWorkspaceFolders(refreshFiles),
    registerWorkflowDiagnostics(),
    registerWorkflowCompletion(log),
    { dispose: watchWorkflows(records, () => tree.soon()) },
    { dispose: () => launcher.cancelAll() },
    registerCommand('flotilla.workflows.run', async (arg?: unknown) => {
      if (!trusted()) return;
      const file = await fileOf(arg, 'Run Workflow');
      if (file) await launcher.run(file);
    }),
    registerCommand('flotilla.workflows.dryRun', async (arg?: unknown) => {
      const file = await fileOf(arg, 'Dry Run Workflow');
      if (file) await launcher.dryRun(file);
    }),
    registerCommand('flotilla.workflows.exportAnsible', async (arg?: unknown) => {
      const file = await fileOf(arg, 'Export Workflow to Ansible');
      if (file) await launcher.exportAnsible(file);
    }),
    registerCommand('flotilla.workflows.new', newWorkflow),
    registerCommand('flotilla.workflows.refresh', async () => { await refreshFiles(); await tree.reload(); }),
    registerCommand('flotilla.workflows.cancel', async (arg?: unknown) => {
      const id = runId(arg) ?? tree.getChildren({ kind: 'section', which: 'runs' }).map((n) => runId(n)).find((i) => i && tree.doc(i)?.state === 'running');
      if (!id) return;
      // This window's run stops at once; another process's run gets a request it acts on.
      if (!launcher.cancel(id)) await records.requestCancel(id);
    }),
    registerCommand('flotilla.workflows.showRecord', async (arg?: unknown) => {
      const id = runId(arg);
      const doc = id ? tree.doc(id) : undefined;
      if (doc) await showRecord(doc);
    }),
  );
  void refreshFiles();
  void tree.reload();
}
