// Activation wires adapters to the core; nothing else happens here.
import * as vscode from 'vscode';
import { registerAgents } from './agents/agentCommands';
import { registerAgentTools } from './agentTools';
import { registerBalance } from './balance';
import { registerPush } from './push';
import { registerRuns, runStoreRoot } from './runs';
import { registerAnsibleExport } from './hosts/ansibleExport';
import { registerHostCommands } from './hosts/hostCommands';
import { Fleet } from './fleet';
import { HostKeyReview } from './hosts/hostKeys';
import { HostsTree, type HostsNode } from './hosts/hostsTree';
import { vscodePrompter } from './prompts';
import { registerReport } from './report';
import { registerWorkflows } from './workflows';
import { createStatusBar, showProblemHosts } from './hosts/statusBar';

export interface ExtensionApi {
  fleet: Fleet;
}

export function activate(context: vscode.ExtensionContext): ExtensionApi {
  const enteredAt = Date.now();
  const log = vscode.window.createOutputChannel('Flotilla', { log: true });
  // The `activation` benchmark reads this line (and the workbench's DOM for the status-bar item).
  log.info(`activate() entered at ${enteredAt} (epoch ms)`);
  // The run store's root (the CLI's too), so the health history is one for both.
  const fleet = new Fleet(vscodePrompter, log, runStoreRoot());
  const hostsTree = new HostsTree(fleet);
  const hostsView = vscode.window.createTreeView<HostsNode>('flotilla.hosts', { treeDataProvider: hostsTree, canSelectMany: true, showCollapseAll: true });
  const review = new HostKeyReview(fleet);
  context.subscriptions.push(
    log,
    fleet,
    hostsView,
    review,
    createStatusBar(fleet),
    ...registerHostCommands(fleet, hostsTree, hostsView),
    registerAnsibleExport(fleet),
    vscode.commands.registerCommand('flotilla.showProblemHosts', () => showProblemHosts(fleet)),
    vscode.commands.registerCommand('flotilla.reviewHostKeys', () => review.review()),
  );
  const runStore = registerRuns(context, fleet, hostsView, log);
  registerAgents(context, fleet);
  registerBalance(context, fleet, runStore, log);
  registerPush(context, fleet);
  registerReport(context, fleet);
  registerWorkflows(context, fleet, runStore, log);
  registerAgentTools(context, fleet, runStore);
  // Reading and resolving the ssh config (500 hosts: ~100 ms before its first await) starts after activate()
  // returns, so the views and the status-bar item reach the workbench first.
  setImmediate(() => void fleet.reload());
  log.info(`activate() returned after ${Date.now() - enteredAt} ms`);
  return { fleet };
}

export function deactivate(): void {}
