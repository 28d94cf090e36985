// The Agents view: per host, tmux sessions → panes with attention (waiting / working / idle). One
// remote command per host per refresh; a badge counts panes waiting for input.
import * as vscode from 'vscode';
import { sanitizeForView } from '../../core/exec/output';
import { compilePatterns, DEFAULT_PATTERNS, type AttentionPatterns } from '../../core/tmux/attention';
import { listAgents, panesOf, type AgentPane, type AgentSession, type HostAgents } from '../../core/tmux/sessions';
import type { Fleet } from '../fleet';
import type { Pool } from '../../core/ssh/pool';

export type AgentsNode =
  | { kind: 'host'; alias: string }
  | { kind: 'session'; alias: string; session: AgentSession }
  | { kind: 'pane'; alias: string; pane: AgentPane }
  | { kind: 'quiet'; aliases: string[] }
  | { kind: 'message'; text: string };

const ATTENTION_ICON = {
  waiting: new vscode.ThemeIcon('bell-dot', new vscode.ThemeColor('list.warningForeground')),
  working: new vscode.ThemeIcon('sync~spin', new vscode.ThemeColor('testing.iconPassed')),
  idle: new vscode.ThemeIcon('circle-outline', new vscode.ThemeColor('disabledForeground')),
} as const;

function ago(ms: number): string {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
}

export function readAgentPatterns(): { patterns: AttentionPatterns; error?: string } {
  const c = vscode.workspace.getConfiguration('flotilla.agents');
  const prompts = c.get<string[]>('promptPatterns', []);
  const busy = c.get<string[]>('busyPatterns', []);
  if (!prompts.length && !busy.length) return { patterns: DEFAULT_PATTERNS };
  try {
    return { patterns: compilePatterns({ prompts: prompts.length ? prompts : undefined, busy: busy.length ? busy : undefined }) };
  } catch (err) {
    return { patterns: DEFAULT_PATTERNS, error: err instanceof Error ? err.message : String(err) };
  }
}

function hostStateText(h: HostAgents, sessions: number): string {
  switch (h.state) {
    case 'ok': return `${sessions} session${sessions === 1 ? '' : 's'}`;
    case 'no-server': return 'no tmux server running';
    case 'no-tmux': return 'tmux not installed';
    case 'error': return `error: ${sanitizeForView(h.message).split('\n')[0]}`;
  }
}

export class AgentsTree implements vscode.TreeDataProvider<AgentsNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  readonly hosts = new Map<string, HostAgents>();
  private timer: NodeJS.Timeout | undefined;
  private refreshing = false;
  private view?: vscode.TreeView<AgentsNode>;
  private readonly waitingSeen = new Set<string>();

  constructor(private readonly fleet: Fleet, private readonly pool: Pool, private readonly intervalMs = 5000) {}

  attach(view: vscode.TreeView<AgentsNode>): void {
    this.view = view;
    view.onDidChangeVisibility((e) => (e.visible ? void this.refresh() : this.whileHidden()));
    if (view.visible) void this.refresh();
  }

  /** Hosts worth asking: online or degraded (logged in) ones, never offline or unusable (auth failed, untrusted key). */
  private candidates(): string[] {
    // Aliases of the same account on the same machine (user@hostname:port) share one tmux server: list it once.
    const seen = new Set<string>();
    return this.fleet.aliases.filter((a) => {
      const h = this.fleet.health.get(a);
      if (!(h?.state === 'online' || h?.state === 'degraded')) return false;
      const r = this.fleet.snapshot.resolved.get(a);
      const account = r ? `${r.user}@${r.hostname}:${r.port}` : a;
      if (seen.has(account)) return false;
      seen.add(account);
      return true;
    });
  }

  async refresh(): Promise<void> {
    if (this.refreshing) return;
    this.refreshing = true;
    if (this.timer) clearTimeout(this.timer);
    try {
      const { patterns } = readAgentPatterns();
      const aliases = this.candidates();
      await Promise.all(aliases.map(async (alias) => {
        this.hosts.set(alias, await listAgents(this.pool, alias, this.hosts.get(alias), { patterns }));
      }));
      for (const a of [...this.hosts.keys()]) if (!aliases.includes(a)) this.hosts.delete(a);
      this.updateBadge();
      this.changed.fire();
    } finally {
      this.refreshing = false;
      if (this.keepLooking()) this.timer = setTimeout(() => void this.refresh(), this.intervalMs);
      else this.stop();
    }
  }

  /**
   * The badge shows on the activity bar with the view collapsed or hidden, so it must never outlive what
   * it counts: panes keep being looked at while it is lit (it goes out when nothing waits any more).
   */
  private keepLooking(): boolean {
    return (this.view?.visible ?? true) || !!this.view?.badge;
  }

  private whileHidden(): void {
    if (!this.keepLooking()) this.stop();
  }

  private stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private updateBadge(): void {
    const waiting = [...this.hosts.values()].flatMap(panesOf).filter((p) => p.attention === 'waiting');
    if (this.view) {
      this.view.badge = waiting.length ? { value: waiting.length, tooltip: `${waiting.length} agent session${waiting.length === 1 ? '' : 's'} waiting for input` } : undefined;
    }
    const notify = vscode.workspace.getConfiguration('flotilla.agents').get<boolean>('notifyWhenWaiting', false);
    const now = new Set(waiting.map((p) => p.target));
    for (const target of now) {
      if (!this.waitingSeen.has(target) && notify) {
        void vscode.window.showInformationMessage(`Agent ${sanitizeForView(target)} is waiting for input`, 'Attach').then((c) => {
          if (c) void vscode.commands.executeCommand('flotilla.agents.attach', target);
        });
      }
    }
    this.waitingSeen.clear();
    for (const t of now) this.waitingSeen.add(t);
  }

  allPanes(): { alias: string; pane: AgentPane }[] {
    return [...this.hosts].flatMap(([alias, h]) => panesOf(h).map((pane) => ({ alias, pane })));
  }

  getChildren(node?: AgentsNode): AgentsNode[] {
    if (!node) {
      const aliases = [...this.hosts.keys()];
      if (!aliases.length) return [{ kind: 'message', text: this.fleet.aliases.length ? 'Looking for tmux sessions on online hosts…' : 'No hosts' }];
      // Hosts with sessions (in fleet order) are what this view is about; hosts without any are folded into one row.
      const order = this.fleet.aliases;
      const byOrder = (a: string, b: string) => order.indexOf(a) - order.indexOf(b);
      const quiet = (a: string) => { const h = this.hosts.get(a)!; return h.state === 'no-server' || h.state === 'no-tmux' || (h.state === 'ok' && !h.sessions.length); };
      const nodes: AgentsNode[] = aliases.filter((a) => !quiet(a)).sort(byOrder).map((alias) => ({ kind: 'host', alias }));
      const rest = aliases.filter(quiet).sort(byOrder);
      if (rest.length) nodes.push({ kind: 'quiet', aliases: rest });
      if (!nodes.some((n) => n.kind === 'host')) nodes.unshift({ kind: 'message', text: 'No tmux sessions on online hosts — New Agent Session… starts one' });
      return nodes;
    }
    if (node.kind === 'quiet') return node.aliases.map((alias) => ({ kind: 'host', alias }));
    if (node.kind === 'host') {
      const h = this.hosts.get(node.alias);
      return h?.state === 'ok' ? h.sessions.map((session) => ({ kind: 'session', alias: node.alias, session })) : [];
    }
    if (node.kind === 'session') {
      return node.session.windows.flatMap((w) => w.panes).map((pane) => ({ kind: 'pane', alias: node.alias, pane }));
    }
    return [];
  }

  getTreeItem(node: AgentsNode): vscode.TreeItem {
    switch (node.kind) {
      case 'message':
        return new vscode.TreeItem(node.text);
      case 'quiet': {
        const item = new vscode.TreeItem(`${node.aliases.length} host${node.aliases.length === 1 ? '' : 's'} without tmux sessions`, vscode.TreeItemCollapsibleState.Collapsed);
        item.id = 'agents-quiet';
        item.iconPath = new vscode.ThemeIcon('circle-slash', new vscode.ThemeColor('disabledForeground'));
        return item;
      }
      case 'host': {
        const h = this.hosts.get(node.alias)!;
        const count = h.state === 'ok' ? h.sessions.length : 0;
        const item = new vscode.TreeItem(node.alias, count ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None);
        item.id = `agents-host:${node.alias}`;
        item.iconPath = new vscode.ThemeIcon('server');
        item.description = hostStateText(h, count);
        item.contextValue = `agentsHost.${h.state}`;
        return item;
      }
      case 'session': {
        const s = node.session;
        const item = new vscode.TreeItem(sanitizeForView(s.name), vscode.TreeItemCollapsibleState.Expanded);
        item.id = `agents-session:${node.alias}:${s.name}`;
        item.iconPath = new vscode.ThemeIcon('terminal-tmux');
        item.description = `${s.attachedClients ? `${s.attachedClients} attached · ` : ''}active ${ago(s.lastActivityMs)}`;
        item.contextValue = 'agentSession';
        return item;
      }
      case 'pane': {
        const p = node.pane;
        const window = p.target.split(':').slice(2).join(':');
        const item = new vscode.TreeItem(`${window} ${sanitizeForView(p.command)}`);
        item.id = `agents-pane:${p.target}`;
        item.iconPath = ATTENTION_ICON[p.attention];
        item.description = `${p.attention} · ${sanitizeForView(p.cwd)}`;
        item.contextValue = `agent.${p.attention}`;
        item.command = { command: 'flotilla.agents.peek', title: 'Peek', arguments: [node] };
        const md = new vscode.MarkdownString();
        md.isTrusted = false;
        md.appendText(`${p.target} — ${p.attention}\n`);
        md.appendCodeblock(sanitizeForView(p.capture).split('\n').slice(-12).join('\n'), 'text');
        item.tooltip = md;
        return item;
      }
    }
  }

  dispose(): void {
    this.stop();
    this.changed.dispose();
  }
}
