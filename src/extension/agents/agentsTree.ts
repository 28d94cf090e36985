// The Agents view: per host, tmux sessions → panes with attention (waiting / working / idle). One
// remote command per host per refresh, on the core poller's schedule (the health monitor's too); a
// badge counts panes waiting for input.
import * as vscode from 'vscode';
import { sanitizeForView } from '../../core/exec/output';
import { compilePatterns, DEFAULT_PATTERNS, type AttentionPatterns } from '../../core/tmux/attention';
import { listAgents, panesOf, type AgentPane, type AgentSession, type HostAgents } from '../../core/tmux/sessions';
import type { Fleet } from '../fleet';
import type { Pool } from '../../core/ssh/pool';
import { Poller } from '../../core/schedule/poller';

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

/**
 * Listings across the fleet per second, on average: 100 hosts are each listed every 5 s, 500 every 25 s (one tmux
 * client per listing on each host; a large fleet is not asked 100 times a second while the view is open).
 */
const LISTINGS_PER_SECOND = 20;

/** Unchanged listings still redraw this often, so "active 5s ago" does not stay 5 s for minutes. */
const AGO_REDRAW_MS = 30_000;

export class AgentsTree implements vscode.TreeDataProvider<AgentsNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  readonly hosts = new Map<string, HostAgents>();
  /** The core schedule the health monitor uses too: a host is listed when due, only while subscribed. */
  private readonly poller: Poller<HostAgents>;
  private unsubscribe: (() => void) | undefined;
  private redrawTimer: NodeJS.Timeout | undefined;
  private view?: vscode.TreeView<AgentsNode>;
  private readonly waitingSeen = new Set<string>();
  private drawnAt = 0;

  constructor(private readonly fleet: Fleet, private readonly pool: Pool, intervalMs = 5000) {
    this.poller = new Poller<HostAgents>({
      intervalMs,
      maxRunsPerSecond: LISTINGS_PER_SECOND,
      work: (alias) => listAgents(this.pool, alias, this.hosts.get(alias), { patterns: readAgentPatterns().patterns }),
      onError: (alias, err) => ({ host: alias, state: 'error', message: err instanceof Error ? err.message : String(err), checkedAt: Date.now() }),
      failed: (h) => h.state === 'error',
      onResult: (alias, h) => {
        const before = this.hosts.get(alias);
        this.hosts.set(alias, h);
        // A listing like the last one redraws nothing (an open menu of the view stays open), except for
        // the "active … ago" texts, which are kept roughly current.
        const same = !!before && JSON.stringify({ ...before, checkedAt: 0 }) === JSON.stringify({ ...h, checkedAt: 0 });
        if (!same || Date.now() - this.drawnAt > AGO_REDRAW_MS) this.redrawSoon();
      },
    });
  }

  attach(view: vscode.TreeView<AgentsNode>): void {
    this.view = view;
    view.onDidChangeVisibility(() => this.follow());
    this.watchFleet();
  }

  /** The hosts to list follow the fleet and its health (online hosts only); call on every change. */
  watchFleet(): void {
    const aliases = this.candidates();
    this.follow();
    if (aliases.join('\n') === this.poller.watched.join('\n')) return;
    for (const a of [...this.hosts.keys()]) if (!aliases.includes(a)) this.hosts.delete(a);
    this.poller.setKeys(aliases);
    this.redrawSoon();
  }

  /** Hosts worth asking: online or degraded-by-load ones (never hosts known to be offline or untrusted). */
  private candidates(): string[] {
    // Aliases of the same account on the same machine (user@hostname:port) share one tmux server: list it once.
    const seen = new Set<string>();
    return this.fleet.aliases.filter((a) => {
      const h = this.fleet.health.get(a);
      if (!(h?.state === 'online' || (h?.state === 'degraded' && !h.hostKey && h.layers.ssh?.ok))) return false;
      const r = this.fleet.snapshot.resolved.get(a);
      const account = r ? `${r.user}@${r.hostname}:${r.port}` : a;
      if (seen.has(account)) return false;
      seen.add(account);
      return true;
    });
  }

  /** Lists every host now (work in flight is shared with the schedule). */
  async refresh(): Promise<void> {
    await Promise.all(this.poller.watched.map((alias) => this.poller.run(alias)));
    this.redraw();
  }

  /**
   * Subscribed while the view is visible, and while the badge is lit: the badge shows on the activity bar
   * with the view collapsed or hidden, so it must never outlive what it counts.
   */
  private follow(): void {
    const want = (this.view?.visible ?? true) || !!this.view?.badge;
    if (want && !this.unsubscribe) this.unsubscribe = this.poller.subscribe();
    if (!want && this.unsubscribe) {
      this.unsubscribe();
      this.unsubscribe = undefined;
    }
  }

  /** Results arrive host by host; the tree and the badge are redrawn once for a burst, and only on a change. */
  private redrawSoon(): void {
    if (this.redrawTimer) return;
    this.redrawTimer = setTimeout(() => this.redraw(), 50);
  }

  private redraw(): void {
    if (this.redrawTimer) clearTimeout(this.redrawTimer);
    this.redrawTimer = undefined;
    this.drawnAt = Date.now();
    this.updateBadge();
    this.follow();
    this.changed.fire();
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
    if (this.redrawTimer) clearTimeout(this.redrawTimer);
    this.unsubscribe?.();
    this.poller.dispose();
    this.changed.dispose();
  }
}
