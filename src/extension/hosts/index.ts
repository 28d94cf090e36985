// The hosts feature: the Hosts view, the status bar item (shown before everything, see startup.ts), host-key
// review and the host and group commands. main.ts calls registerHosts once; it returns the Hosts view, which
// other features take their targets from.
import * as vscode from 'vscode';
import { registerCommand } from '../commands/register';
import type { Fleet } from '../fleet';
import { registerAnsibleExport } from './ansibleExport';
import { registerHostCommands } from './hostCommands';
import { HostKeyReview } from './hostKeys';
import { HostsTree, type HostsNode } from './hostsTree';
import { createStatusBar, showProblemHosts } from './statusBar';

export function registerHosts(context: vscode.ExtensionContext, fleet: Fleet, statusItem: vscode.StatusBarItem): vscode.TreeView<HostsNode> {
  const tree = new HostsTree(fleet);
  const view = vscode.window.createTreeView<HostsNode>('flotilla.hosts', { treeDataProvider: tree, canSelectMany: true, showCollapseAll: true });
  const review = new HostKeyReview(fleet);
  context.subscriptions.push(
    tree,
    view,
    tree.showHealthWhileVisible(view),
    review,
    createStatusBar(fleet, statusItem),
    ...registerHostCommands(fleet, tree, view),
    registerAnsibleExport(fleet),
    registerCommand('flotilla.showProblemHosts', () => showProblemHosts(fleet)),
    registerCommand('flotilla.reviewHostKeys', () => review.review()),
  );
  return view;
}
