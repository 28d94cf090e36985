// Group exec in the extension ("Seeing results"): the Runs view, run output documents and the run
// commands. main.ts calls registerRuns once; everything created here is disposed with the extension.
import * as vscode from 'vscode';
import { runOutputDir } from '../../core/exec/history';
import type { Fleet } from '../fleet';
import type { HostsNode } from '../hostsTree';
import { RunLauncher } from './executeRun';
import { registerRunCommands } from './runCommands';
import { RunMemory } from './runMemory';
import { RUN_OUTPUT_SCHEME, RunOutputProvider } from './runOutput';
import { RunsTree, type RunsNode } from './runsTree';
import { RunStore } from './runStore';

export function registerRuns(
  context: vscode.ExtensionContext,
  fleet: Fleet,
  hostsView: vscode.TreeView<HostsNode>,
  log?: vscode.LogOutputChannel,
): void {
  const historyDir = context.globalStorageUri.fsPath;
  const runLog = log ?? vscode.window.createOutputChannel('Flotilla Runs', { log: true });
  const store = new RunStore(historyDir, (id) => runOutputDir(historyDir, id));
  const tree = new RunsTree(store);
  const view = vscode.window.createTreeView<RunsNode>('flotilla.runs', { treeDataProvider: tree });
  const outputs = new RunOutputProvider(store);
  const launcher = new RunLauncher(fleet, store, runLog);
  const memory = new RunMemory(context.globalState);

  context.subscriptions.push(
    ...(log ? [] : [runLog]),
    store,
    tree,
    view,
    outputs,
    vscode.workspace.registerTextDocumentContentProvider(RUN_OUTPUT_SCHEME, outputs),
    ...registerRunCommands({ fleet, store, memory, launcher, hostsView }),
    // Live runs are cancelled (and their remote process groups stopped) when the window goes away.
    { dispose: () => store.active.forEach((r) => r.controller?.cancel()) },
  );

  const historySize = Math.max(1, vscode.workspace.getConfiguration('flotilla').get<number>('run.historySize', 50));
  void store.loadHistory(historySize).then(
    () => {
      if (store.damagedHistoryLines.length) runLog.warn(`run history: ${store.damagedHistoryLines.length} damaged line(s) skipped`);
    },
    (err) => runLog.error(`cannot read the run history: ${String(err)}`),
  );
  context.subscriptions.push(store.watchHistory(() => historySize));
}
