// Agents: attach, new session, peek (read-only, with follow), send, broadcast.
import * as vscode from 'vscode';
import { registerCommand } from '../commands/register';
import { sanitizeForView } from '../../core/exec/output';
import { agentProgramMissing, capturePane, broadcast, sendText, spawnAgent, MissingDirectoryError } from '../../core/tmux/sessions';
import { defaultSessionName, parseAgentTarget, sessionNameProblem } from '../../core/tmux/names';
import type { Fleet } from '../fleet';
import type { Pool } from '../../core/ssh/pool';
import type { HostsNode } from '../hosts/hostsTree';
import { openRemoteTerminal, shellOpener, tmuxOpener } from '../terminal';
import { AgentsTree, type AgentsNode } from './agentsTree';

const PEEK_SCHEME = 'flotilla-pane';
const PEEK_LINES = 200;

function targetOf(node: AgentsNode | string | undefined): string | undefined {
  if (typeof node === 'string') return node;
  if (node?.kind === 'pane') return node.pane.target;
  if (node?.kind === 'session') return `${node.alias}:${node.session.name}`;
  return undefined;
}

function peekUri(target: string): vscode.Uri {
  return vscode.Uri.from({ scheme: PEEK_SCHEME, path: `/${target}`, query: `lines=${PEEK_LINES}` });
}

/**
 * Read-only pane captures; "follow" refreshes open peeks every 2 s. A follow belongs to the connection it
 * captures over: it stops when that connection closes (and the peek says so), instead of reconnecting
 * every 2 s to a host that went away.
 */
class PeekProvider implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly following = new Map<string, { timer: NodeJS.Timeout; scoped: { dispose(): void } }>();
  private readonly endedBy = new Map<string, string>();
  constructor(private readonly pool: Pool) {}

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const target = uri.path.slice(1);
    const ended = this.endedBy.get(uri.toString());
    this.endedBy.delete(uri.toString());
    try {
      const text = await capturePane(this.pool, target, PEEK_LINES);
      const follow = this.following.has(uri.toString()) ? 'following, refreshed every 2 s' : ended ? `snapshot (stopped following: ${ended})` : 'snapshot';
      return `# ${target} — ${follow} at ${new Date().toLocaleTimeString()}\n${sanitizeForView(text)}`;
    } catch (err) {
      return `# ${target}${ended ? ` — stopped following: ${ended}` : ''}\ncannot capture this pane: ${err instanceof Error ? err.message : String(err)}\n`;
    }
  }

  async toggleFollow(uri: vscode.Uri): Promise<boolean> {
    const key = uri.toString();
    if (this.following.has(key)) {
      this.stopFollowing(uri);
      return false;
    }
    const host = parseAgentTarget(uri.path.slice(1)).host;
    const scope = await this.pool.scope(host);
    const timer = setInterval(() => this.changed.fire(uri), 2000);
    const scoped = scope.add({
      dispose: () => {
        this.stopFollowing(uri);
        this.endedBy.set(key, `the connection to ${host} closed`);
        this.changed.fire(uri);
      },
    });
    this.following.set(key, { timer, scoped });
    this.changed.fire(uri);
    return true;
  }

  stopFollowing(uri: vscode.Uri): void {
    const f = this.following.get(uri.toString());
    if (!f) return;
    clearInterval(f.timer);
    f.scoped.dispose();
    this.following.delete(uri.toString());
  }

  dispose(): void {
    for (const f of this.following.values()) {
      clearInterval(f.timer);
      f.scoped.dispose();
    }
    this.following.clear();
    this.changed.dispose();
  }
}

export function registerAgents(context: vscode.ExtensionContext, fleet: Fleet, pool: Pool): AgentsTree {
  const tree = new AgentsTree(fleet, pool);
  const view = vscode.window.createTreeView<AgentsNode>('flotilla.agents', { treeDataProvider: tree, canSelectMany: true });
  tree.attach(view);
  const peeks = new PeekProvider(pool);

  const pickPane = async (title: string): Promise<string | undefined> => {
    const panes = tree.allPanes();
    if (!panes.length) {
      void vscode.window.showInformationMessage('Flotilla: no tmux sessions found on online hosts.');
      return undefined;
    }
    const pick = await vscode.window.showQuickPick(
      panes.map(({ pane }) => ({ label: sanitizeForView(pane.target), description: `${pane.attention} · ${sanitizeForView(pane.command)}`, target: pane.target })),
      { title },
    );
    return pick?.target;
  };

  const attach = (target: string, create = false, cwd?: string) => {
    const t = parseAgentTarget(target);
    openRemoteTerminal(`tmux ${t.host}:${t.session}`, `${t.host}:${t.session}`, tmuxOpener(() => pool, target, create, cwd));
  };

  context.subscriptions.push(
    tree,
    view,
    peeks,
    vscode.workspace.registerTextDocumentContentProvider(PEEK_SCHEME, peeks),
    vscode.workspace.onDidCloseTextDocument((d) => d.uri.scheme === PEEK_SCHEME && peeks.stopFollowing(d.uri)),
    fleet.onDidChange(() => tree.watchFleet()),
    fleet.onDidChangeHealth(() => tree.watchFleet()),
    registerCommand('flotilla.agents.refresh', () => tree.refresh()),
    registerCommand('flotilla.agents.attach', async (node?: AgentsNode | string) => {
      const target = targetOf(node) ?? (await pickPane('Attach to agent session'));
      if (target) attach(target);
    }),
    registerCommand('flotilla.agents.peek', async (node?: AgentsNode | string) => {
      const target = targetOf(node) ?? (await pickPane('Peek at agent pane'));
      if (!target) return;
      const doc = await vscode.workspace.openTextDocument(peekUri(target));
      await vscode.window.showTextDocument(doc, { preview: true, preserveFocus: true });
    }),
    registerCommand('flotilla.agents.toggleFollow', async () => {
      const uri = vscode.window.activeTextEditor?.document.uri;
      if (uri?.scheme !== PEEK_SCHEME) return;
      const on = await peeks.toggleFollow(uri);
      void vscode.window.setStatusBarMessage(on ? 'Flotilla: following pane' : 'Flotilla: stopped following', 2000);
    }),
    registerCommand('flotilla.agents.send', async (node?: AgentsNode | string) => {
      const target = targetOf(node) ?? (await pickPane('Send text to agent pane'));
      if (!target) return;
      const text = await vscode.window.showInputBox({ title: `Send to ${target}`, prompt: 'Typed into the pane literally, then Enter' });
      if (text === undefined) return;
      await sendText(pool, target, text, { enter: true });
      setTimeout(() => void tree.refresh(), 800);
    }),
    registerCommand('flotilla.agents.broadcast', async (node?: AgentsNode, selection?: AgentsNode[]) => {
      const nodes = selection?.length ? selection : node ? [node] : [];
      let targets = nodes.filter((n): n is Extract<AgentsNode, { kind: 'pane' }> => n.kind === 'pane').map((n) => n.pane.target);
      // One pane (a right-click on it, or the view's menu) is where a broadcast starts, not all it reaches:
      // the panes are listed with that one ticked, so the receivers are chosen, never assumed.
      if (targets.length <= 1) {
        const start = new Set(targets);
        const picks = await vscode.window.showQuickPick(
          tree.allPanes().map(({ pane }) => ({ label: sanitizeForView(pane.target), description: pane.attention, target: pane.target, picked: start.has(pane.target) })),
          { canPickMany: true, title: 'Broadcast to which panes?', placeHolder: 'Tick every pane that should receive the text' },
        );
        targets = picks?.map((p) => p.target) ?? [];
      }
      if (!targets.length) return;
      const text = await vscode.window.showInputBox({ title: `Broadcast to ${targets.length} pane${targets.length === 1 ? '' : 's'}`, prompt: 'Typed into every pane literally, then Enter' });
      if (text === undefined) return;
      const ok = await vscode.window.showWarningMessage(
        `Send this text to ${targets.length} pane${targets.length === 1 ? '' : 's'}?`,
        { modal: true, detail: `${JSON.stringify(text)}\n\nReceivers:\n${targets.map(sanitizeForView).join('\n')}` },
        'Send to All',
      );
      if (ok !== 'Send to All') return;
      const results = await broadcast(pool, targets, text, { enter: true });
      const failed = results.filter((r) => !r.ok);
      if (failed.length) {
        void vscode.window.showErrorMessage(`Flotilla: broadcast failed on ${failed.map((f) => `${f.target} (${'error' in f ? f.error : ''})`).join(', ')}`);
      }
      setTimeout(() => void tree.refresh(), 800);
    }),
    registerCommand('flotilla.agents.newSession', async (hostNode?: HostsNode) => {
      const alias = hostNode?.kind === 'host' ? hostNode.alias : await vscode.window.showQuickPick(fleet.aliases.filter((a) => fleet.health.get(a)?.state === 'online'), { title: 'New agent session on which host?' });
      if (!alias) return;
      // The command first, checked on the host at once: a missing agent is said before any more questions.
      const configured = vscode.workspace.getConfiguration('flotilla.agents').get<string>('command', 'claude');
      const command = await vscode.window.showInputBox({
        title: `Agent command to run on ${alias}`,
        prompt: 'The default comes from the setting flotilla.agents.command',
        value: configured,
      });
      if (!command) return;
      const missing = await agentProgramMissing(pool, alias, command);
      if (missing) {
        const OPEN = 'Open Setting';
        const choice = await vscode.window.showErrorMessage(
          `Flotilla: ${sanitizeForView(missing)} is not installed on ${alias} (not on its PATH). Install it there, or set flotilla.agents.command to the agent you use.`,
          OPEN,
        );
        if (choice === OPEN) await vscode.commands.executeCommand('workbench.action.openSettings', 'flotilla.agents.command');
        return;
      }
      const dir = await vscode.window.showInputBox({ title: `Project directory on ${alias}`, prompt: 'Absolute or ~/ path; it must exist on the host', value: '~/' });
      if (!dir) return;
      const session = await vscode.window.showInputBox({
        title: 'Session name',
        value: defaultSessionName(dir, command),
        validateInput: (v) => sessionNameProblem(v),
      });
      if (!session) return;
      try {
        const target = await spawnAgent(pool, alias, { dir, command, session });
        attach(target);
        void tree.refresh();
      } catch (err) {
        if (err instanceof MissingDirectoryError) {
          const push = await vscode.window.showErrorMessage(err.message, 'Push Workspace There…');
          if (push) await vscode.commands.executeCommand('flotilla.pushWorkspace', { kind: 'host', alias }, undefined, dir);
          return;
        }
        throw err;
      }
    }),
    registerCommand('flotilla.openTerminal', async (node?: HostsNode) => {
      const alias = node?.kind === 'host' ? node.alias : await vscode.window.showQuickPick(fleet.aliases, { title: 'Open a terminal on…' });
      if (alias) openRemoteTerminal(`ssh ${alias}`, alias, shellOpener(() => pool, alias));
    }),
    registerCommand('flotilla.showAgents', async () => {
      await vscode.commands.executeCommand('flotilla.agents.focus');
      await tree.refresh();
    }),
  );
  return tree;
}
