// Activation's first step: the status-bar item reaches the workbench first and alone. The workbench handles an
// extension host's messages in order, a batch at a time, so views, commands and tools registered in the same turn
// as the item would be handled (and drawn) before it, and the ssh config read after them (500 hosts: hundreds of
// ms of resolving without a break) would hold up even the writing of its batch.
import * as vscode from 'vscode';
import { showStatusItem } from './hosts/statusBar';

/**
 * Shows the status-bar item (disposed with the extension) and resolves once the workbench has handled it, with
 * when (epoch ms) the extension host sent it.
 */
export async function showStatusFirst(subscriptions: vscode.Disposable[]): Promise<{ item: vscode.StatusBarItem; sentAt: number }> {
  const item = showStatusItem();
  subscriptions.push(item);
  // The extension host sends a shown item from a 0 ms timer armed by show(); one armed now runs after it.
  await new Promise((resolve) => setTimeout(resolve, 0));
  const sentAt = Date.now();
  // A request sent behind the item: its answer (or error) means the workbench has handled the item. The key is the
  // Hosts view's filter, which starts off (an extension host restarted in the same window must not keep a stale one).
  await Promise.resolve(vscode.commands.executeCommand('setContext', 'flotilla.filtered', false)).catch(() => undefined);
  return { item, sentAt };
}
