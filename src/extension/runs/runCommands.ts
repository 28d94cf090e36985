// Commands of group exec: Run Command… (palette or Hosts tree), Run on Group, Dry Run, and the Runs
// view's cancel / re-run / output / diff / clear.
import * as vscode from 'vscode';
import { registerCommand } from '../commands/register';
import type { Fleet } from '../fleet';
import type { HostsNode } from '../hosts/hostsTree';
import { showDryRun } from './dryRun';
import { defaultTimeoutMs, type RunLauncher } from './executeRun';
import { hostRan } from './outputSource';
import { notOkHosts, type RunEntry } from './runModel';
import { escapeIcons, oneLine } from '../../core/text';
import type { RunMemory } from './runMemory';
import { majority, runOutputUri, showRunDocument } from './runOutput';
import { groupMembers, pickTargets, targetsFromNodes, type Targets } from '../hosts/targets';
import { askCommand, confirmOptions } from './runPrompts';
import type { RunsNode } from './runsTree';
import type { RunStore } from './runStore';

export interface RunCommandDeps {
  fleet: Fleet;
  store: RunStore;
  memory: RunMemory;
  launcher: RunLauncher;
  hostsView: vscode.TreeView<HostsNode>;
}

function isHostsNode(arg: unknown): arg is HostsNode {
  return !!arg && typeof arg === 'object' && ((arg as HostsNode).kind === 'host' || (arg as HostsNode).kind === 'group') && !('runId' in arg);
}

type RunRef = Exclude<RunsNode, { kind: 'message' }>;

function isRunsNode(arg: unknown): arg is RunRef {
  return !!arg && typeof arg === 'object' && 'runId' in arg && typeof (arg as RunRef).runId === 'string';
}

export function registerRunCommands(deps: RunCommandDeps): vscode.Disposable[] {
  const { fleet, store, memory, launcher, hostsView } = deps;


  /** The Hosts-tree targets of a context-menu invocation; an inline click on a selected row acts on the whole selection. */
  const treeTargets = (node: unknown, selection: unknown): Targets | undefined => {
    if (!isHostsNode(node)) return undefined;
    let nodes = Array.isArray(selection) ? (selection.filter(isHostsNode) as HostsNode[]) : undefined;
    if (!nodes?.length && hostsView.selection.some((n) => sameNode(n, node))) nodes = [...hostsView.selection];
    return targetsFromNodes(fleet, node, nodes);
  };

  const askAndRun = async (targets: Targets, command?: string) => {
    const line = command ?? (await askCommand(memory, targets));
    if (!line) return;
    const opts = await confirmOptions(memory, targets, line, defaultTimeoutMs());
    if (!opts) return;
    await memory.rememberCommand(line);
    await launcher.launch({ command: line, targets: targets.hosts, targetKey: targets.key, cwd: opts.cwd, timeoutMs: opts.timeoutMs });
  };

  /** A run from a Runs-tree node, or the newest run when invoked from the palette. */
  const runOf = (arg: unknown): RunEntry | undefined => {
    const run = isRunsNode(arg) ? store.get(arg.runId) : store.latest;
    if (!run) void vscode.window.showInformationMessage('Flotilla: no runs yet.');
    return run;
  };

  const rerun = async (run: RunEntry, hosts: string[]) => {
    await launcher.launch({
      command: run.command,
      targets: hosts,
      targetKey: hosts.length === run.targets.length ? run.targetKey : undefined,
      cwd: run.cwd,
      timeoutMs: run.timeoutMs,
    });
  };

  return [
    registerCommand('flotilla.runCommand', async (node?: unknown, selection?: unknown) => {
      const fromTree = treeTargets(node, selection);
      const targets = fromTree ?? (await pickTargets(fleet, { title: 'Run Command…', placeHolder: 'Run on which hosts?' }));
      if (targets) await askAndRun(targets);
    }),
    registerCommand('flotilla.runOnGroup', async (node?: unknown) => {
      if (isHostsNode(node) && node.kind === 'group') {
        const members = groupMembers(fleet, node);
        const key = node.ungrouped ? 'ungrouped' : `group:${node.name}`;
        return askAndRun({ hosts: members, key, label: node.ungrouped ? 'Ungrouped' : node.name });
      }
      const targets = await pickTargets(fleet, { title: 'Run Command on Group…', placeHolder: 'Run on which group?', groupsOnly: true });
      if (targets) await askAndRun(targets);
    }),
    registerCommand('flotilla.runDryRun', async (node?: unknown, selection?: unknown) => {
      const fromTree = treeTargets(node, selection);
      const targets = fromTree ?? (await pickTargets(fleet, { title: 'Dry Run: Show Targets', placeHolder: 'Run on which hosts?' }));
      if (targets && (await showDryRun(fleet, targets))) await askAndRun(targets);
    }),
    registerCommand('flotilla.cancelRun', async (arg?: unknown) => {
      const run = isRunsNode(arg) ? store.get(arg.runId) : store.active[0];
      if (run) await store.cancel(run);
    }),
    registerCommand('flotilla.cancelHost', async (arg?: unknown) => {
      if (!isRunsNode(arg) || arg.kind !== 'host') return;
      const run = store.get(arg.runId);
      if (run) await store.cancel(run, arg.host);
    }),
    registerCommand('flotilla.rerun', async (arg?: unknown) => {
      const run = runOf(arg);
      if (run) await rerun(run, [...run.targets]);
    }),
    registerCommand('flotilla.rerunFailed', async (arg?: unknown) => {
      const run = runOf(arg);
      if (!run) return;
      const hosts = notOkHosts(run);
      if (!hosts.length) return void vscode.window.showInformationMessage(`Flotilla: every host was ok in “${oneLine(run.command, 50)}”.`);
      await rerun(run, hosts);
    }),
    registerCommand('flotilla.showRunOutput', async (arg?: unknown) => {
      if (isRunsNode(arg) && arg.kind === 'host') {
        const run = store.get(arg.runId);
        if (run) await showRunDocument(run, { view: 'host', host: arg.host });
        return;
      }
      const run = isRunsNode(arg) ? store.get(arg.runId) : await pickRun(store);
      if (run) await showRunDocument(run);
    }),
    registerCommand('flotilla.diffWithMajority', async (arg?: unknown) => {
      if (!isRunsNode(arg) || arg.kind !== 'host') return;
      const run = store.get(arg.runId);
      const row = run?.rows.get(arg.host);
      if (!run || !row) return;
      if (!hostRan(row)) return void vscode.window.showInformationMessage(`Flotilla: ${arg.host} did not run the command (${row.state}).`);
      const { hosts } = await majority(run);
      if (hosts.includes(arg.host)) {
        return void vscode.window.showInformationMessage(`Flotilla: ${arg.host} has the majority output (${hosts.length} of ${run.rows.size} hosts).`);
      }
      await vscode.commands.executeCommand(
        'vscode.diff',
        runOutputUri(run, { view: 'majority' }),
        runOutputUri(run, { view: 'host', host: arg.host }),
        `majority (${hosts.length} hosts) ↔ ${arg.host} · ${oneLine(run.command, 40)}`,
        { preview: true },
      );
    }),
    registerCommand('flotilla.clearHistory', async () => {
      const ok = await vscode.window.showWarningMessage(
        'Clear the run history and delete the stored output of past runs? Runs in progress are kept.',
        { modal: true },
        'Clear',
      );
      if (ok !== 'Clear') return;
      await store.clearHistory();
      await memory.forgetCommands();
    }),
  ];
}

function sameNode(a: HostsNode, b: HostsNode): boolean {
  if (a.kind === 'host' && b.kind === 'host') return a.alias === b.alias && a.group === b.group;
  if (a.kind === 'group' && b.kind === 'group') return a.name === b.name;
  return false;
}

async function pickRun(store: RunStore): Promise<RunEntry | undefined> {
  if (!store.all.length) {
    void vscode.window.showInformationMessage('Flotilla: no runs yet.');
    return undefined;
  }
  const items = store.all.map((run) => ({ label: escapeIcons(oneLine(run.command)), description: `${run.rows.size} hosts · ${run.startedAt}`, run }));
  return (await vscode.window.showQuickPick(items, { title: 'Show Run Output', matchOnDescription: true }))?.run;
}
