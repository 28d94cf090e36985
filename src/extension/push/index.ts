// Push and pull in the extension: the Push Plan view, the remote-file and report documents, and the
// commands. main.ts calls registerPush once; everything created here is disposed with the extension.
import * as vscode from 'vscode';
import { registerCommand } from '../commands/register';
import type { Fleet } from '../fleet';
import type { Pool } from '../../core/ssh/pool';
import type { HostsNode } from '../hosts/hostsTree';
import { PlanTree, type PlanNode } from './planView';
import { pullCommand } from './pullCommand';
import { PathMemory } from './pushPrompts';
import { PLAN_VIEW, PushController } from './pushController';
import { REMOTE_SCHEME, RemoteFileProvider } from './remoteDocs';
import { REPORT_SCHEME, ReportProvider } from './report';
import { formatBytes, type PushSession, SessionStore } from './session';

function viewMessage(s: PushSession): string {
  switch (s.state) {
    case 'planning': return 'Dry run: listing the destination on every host… nothing is written.';
    case 'planned': return `Dry run${s.delete ? ' with deletion' : ''} — nothing written yet. Click a changed file to diff it; ✓ applies, ✕ dismisses.`;
    case 'applying': return 'Applying… (■ cancels; files already sent stay in place)';
    case 'applied': {
      const bytes = [...s.results.values()].reduce((n, r) => n + r.bytes, 0);
      const states = s.hosts.map((h) => s.results.get(h)?.state ?? 'failed');
      const ok = states.filter((x) => x === 'ok').length;
      return `Applied: ${ok}/${s.hosts.length} host(s) ok · ${formatBytes(bytes)} sent.${ok < s.hosts.length ? ' Expand a host for its errors.' : ''}`;
    }
  }
}

export function registerPush(context: vscode.ExtensionContext, fleet: Fleet, pool: Pool): void {
  const store = new SessionStore();
  const tree = new PlanTree(store);
  const view = vscode.window.createTreeView<PlanNode>(PLAN_VIEW, { treeDataProvider: tree, showCollapseAll: true });
  const reports = new ReportProvider(store);
  const memory = new PathMemory(context.globalState);
  const remoteDocs = new RemoteFileProvider(fleet, pool);
  const push = new PushController(fleet, pool, store, memory, remoteDocs);

  let refreshTimer: NodeJS.Timeout | undefined;
  let lastState: string | undefined;
  const sync = () => {
    refreshTimer = undefined;
    const s = store.current;
    void vscode.commands.executeCommand('setContext', 'flotilla.pushPlanActive', !!s);
    const state = s?.state ?? 'none';
    if (state !== lastState) {
      lastState = state;
      void vscode.commands.executeCommand('setContext', 'flotilla.pushPlanState', state);
    }
    view.description = s ? `${s.source.label} → ${s.remote} · ${s.targetLabel}` : undefined;
    view.message = s ? viewMessage(s) : undefined;
    tree.refresh();
  };
  const onChange = store.onDidChange(() => {
    // State changes show at once; progress events are coalesced.
    if ((store.current?.state ?? 'none') !== lastState) {
      if (refreshTimer) clearTimeout(refreshTimer);
      sync();
    } else if (!refreshTimer) refreshTimer = setTimeout(sync, 200);
  });


  context.subscriptions.push(
    store,
    view,
    reports,
    onChange,
    { dispose: () => { if (refreshTimer) clearTimeout(refreshTimer); } },
    remoteDocs,
    vscode.workspace.registerTextDocumentContentProvider(REMOTE_SCHEME, remoteDocs),
    vscode.workspace.registerTextDocumentContentProvider(REPORT_SCHEME, reports),
    registerCommand('flotilla.pushWorkspace', (node?: HostsNode, selection?: HostsNode[], remoteDir?: string) => push.pushWorkspace(node, selection, typeof remoteDir === 'string' ? remoteDir : undefined)),
    registerCommand('flotilla.pushWorkspaceHere', (node?: HostsNode, selection?: HostsNode[]) => push.pushWorkspace(node, selection)),
    registerCommand('flotilla.pushToGroup', (node?: HostsNode, selection?: HostsNode[]) => push.pushWorkspace(node, selection)),
    registerCommand('flotilla.pushFolder', (uri?: vscode.Uri, uris?: vscode.Uri[]) => push.pushFolder(uri, uris)),
    registerCommand('flotilla.pull', (node?: HostsNode, selection?: HostsNode[]) => pullCommand(fleet, pool, memory, reports, node, selection)),
    registerCommand('flotilla.push.apply', () => push.apply()),
    registerCommand('flotilla.push.cancel', () => push.cancel()),
    registerCommand('flotilla.push.dismiss', () => push.dismiss()),
    registerCommand('flotilla.push.replan', () => push.replan()),
    registerCommand('flotilla.push.toggleDelete', () => push.toggleDelete()),
    registerCommand('flotilla.push.openDiff', (node?: PlanNode) => push.openDiff(node)),
    registerCommand('flotilla.push.showReport', () => push.showReport()),
  );
  sync();
}
