// Group exec in the extension ("Seeing results"): the Runs view, run output documents and the run
// commands. main.ts calls registerRuns once; everything created here is disposed with the extension. It
// returns the shared run store, which tasks and least-loaded runs record into too.
import * as vscode from 'vscode';
import { importLegacyHistory } from '../../core/jobs/legacy';
import { defaultStoreRoot, RunStore as CoreRunStore } from '../../core/jobs/store';
import type { Fleet } from '../fleet';
import type { Pool } from '../../core/ssh/pool';
import type { HostsNode } from '../hosts/hostsTree';
import { RunLauncher } from './executeRun';
import { registerRunCommands } from './runCommands';
import { RunMemory } from './runMemory';
import { RUN_OUTPUT_SCHEME, RunOutputProvider } from './runOutput';
import { RunsTree, type RunsNode } from './runsTree';
import { RunStore } from './runStore';

export function registerRuns(
  context: vscode.ExtensionContext,
  fleet: Fleet,
  pool: Pool,
  hostsView: vscode.TreeView<HostsNode>,
  log?: vscode.LogOutputChannel,
): CoreRunStore {
  const runLog = log ?? vscode.window.createOutputChannel('Flotilla Runs', { log: true });
  const historySize = () => Math.max(1, vscode.workspace.getConfiguration('flotilla').get<number>('run.historySize', 50));
  const core = new CoreRunStore(runStoreRoot());
  const store = new RunStore(core, historySize);
  const tree = new RunsTree(store);
  const view = vscode.window.createTreeView<RunsNode>('flotilla.runs', { treeDataProvider: tree });
  const outputs = new RunOutputProvider(store);
  // A run started here is shown in the Runs view, which is opened (and expanded) if it is not in sight;
  // the focus stays where it was (the editor, usually). The newest run is the view's first row.
  const reveal = () => {
    if (!view.visible) revealViewQuietly(view, (err) => runLog.warn(`could not reveal the Runs view: ${String(err)}`));
  };
  const launcher = new RunLauncher(fleet, pool, store, runLog, reveal);
  const memory = new RunMemory(context.globalState);

  context.subscriptions.push(
    ...(log ? [] : [runLog]),
    store,
    tree,
    view,
    tree.follow(view),
    outputs,
    vscode.workspace.registerTextDocumentContentProvider(RUN_OUTPUT_SCHEME, outputs),
    ...registerRunCommands({ fleet, store, memory, launcher, hostsView }),
    // Runs of this window are cancelled (and their remote process groups stopped) when it goes away;
    // runs of other processes (the CLI, agents) go on.
    { dispose: () => store.active.forEach((r) => r.job?.cancel()) },
    store.watch(),
  );

  // Runs this extension recorded before the shared store existed are imported once.
  void importLegacyHistory(core, context.globalStorageUri.fsPath)
    .catch((err) => runLog.warn(`could not import the old run history: ${String(err)}`))
    .then(() => core.prune(pruneOptions()))
    .then(() => store.reload())
    .then(
      () => { if (store.damagedRecords.length) runLog.warn(`run store: ${store.damagedRecords.length} unreadable record(s) skipped`); },
      (err) => runLog.error(`cannot read the run store: ${String(err)}`),
    );
  return core;
}

/**
 * Opens a tree view (its container too, and expands its pane) without moving the focus. The extension
 * host reveals the view itself for an undefined element; an element the tree has not drawn yet (a run
 * just added) would be refused.
 */
function revealViewQuietly<T>(view: vscode.TreeView<T>, onError: (err: unknown) => void): void {
  view.reveal(undefined as unknown as T, { select: false, focus: false }).then(undefined, onError);
}

/** `flotilla.runs.store`, or the store the CLI uses by default, so both see the same runs. */
export function runStoreRoot(): string {
  const configured = vscode.workspace.getConfiguration('flotilla').get<string>('runs.store', '').trim();
  return configured || defaultStoreRoot();
}

function pruneOptions() {
  const c = vscode.workspace.getConfiguration('flotilla');
  return {
    maxAgeMs: Math.max(1, c.get<number>('runs.keepDays', 30)) * 86_400_000,
    maxRuns: Math.max(1, c.get<number>('runs.keepCount', 1000)),
    maxBytes: Math.max(1, c.get<number>('runs.keepMegabytes', 1024)) * 1024 * 1024,
  };
}
