// The Hosts view: groups → hosts, "Ungrouped", Tailscale peers; state as icon + colour, the reason and
// latency/load in the description, and an "explain" tooltip naming the file:line behind each setting.
import * as vscode from 'vscode';
import { basename } from 'node:path';
import { viewLine } from '../../core/exec/output';
import { mdEscape, sanitizeForView } from '../../core/text';
import type { HostHealth } from '../../core/health/probe';
import { linkText, type TailscalePeer } from '../../core/config/tailscale';
import type { Fleet } from '../fleet';

export type HostsNode =
  | { kind: 'group'; name: string; ungrouped?: boolean; ansible?: boolean; path?: string }
  | { kind: 'host'; alias: string; group?: string; unknownMember?: boolean; path?: string; ansibleGroup?: boolean }
  | { kind: 'tailscale' }
  | { kind: 'peer'; peer: TailscalePeer }
  | { kind: 'message'; text: string; icon: string; command?: vscode.Command };

const UNGROUPED = 'Ungrouped';

const STATE_ICON: Record<HostHealth['state'], vscode.ThemeIcon> = {
  checking: new vscode.ThemeIcon('loading~spin'),
  online: new vscode.ThemeIcon('pass-filled', new vscode.ThemeColor('testing.iconPassed')),
  degraded: new vscode.ThemeIcon('warning', new vscode.ThemeColor('list.warningForeground')),
  // Answers, but nothing can be done on it (auth failed, host key not trusted): an error, not a warning.
  unusable: new vscode.ThemeIcon('circle-slash', new vscode.ThemeColor('errorForeground')),
  offline: new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground')),
};

/** `file:line`, or the file alone when the line is not known (an inventory read through ansible-inventory). */
function sourceText(source: { file: string; line: number }): string {
  return source.line ? `${source.file}:${source.line}` : source.file;
}

/** A node's identity: the same id for the same row across refreshes (and the tree item's id). */
function nodeId(node: HostsNode): string {
  switch (node.kind) {
    case 'group': return `group:${node.path ?? node.name}`;
    case 'host': return `host:${node.path ?? node.group ?? ''}:${node.alias}`;
    case 'tailscale': return 'tailscale';
    case 'peer': return `peer:${node.peer.name}`;
    case 'message': return `message:${node.text}`;
  }
}

export class HostsTree implements vscode.TreeDataProvider<HostsNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<HostsNode | HostsNode[] | undefined | void>();
  readonly onDidChangeTreeData = this.changed.event;
  filter = '';
  /**
   * The node objects handed to VS Code, by id. The workbench knows elements by identity, so a row is
   * refreshed alone only when it is fired with the same object getChildren returned for it.
   */
  private readonly nodes = new Map<string, HostsNode>();
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly fleet: Fleet) {
    this.subscriptions.push(
      this.changed,
      fleet.onDidChange(() => this.refresh()),
      fleet.onDidChangeHealth((aliases) => this.refreshHosts(aliases)),
    );
  }

  refresh(): void {
    this.nodes.clear();
    this.changed.fire();
  }

  /** Redraws only the rows of these hosts (a host can sit in several groups). */
  private refreshHosts(aliases: readonly string[]): void {
    const wanted = new Set(aliases);
    const rows = [...this.nodes.values()].filter((n) => n.kind === 'host' && wanted.has(n.alias));
    if (rows.length) this.changed.fire(rows);
  }

  /** Keeps the Hosts view's health current while it is visible; nothing is probed on a schedule otherwise. */
  showHealthWhileVisible(view: vscode.TreeView<HostsNode>): vscode.Disposable {
    let unsubscribe: (() => void) | undefined;
    const follow = () => {
      if (view.visible && !unsubscribe) unsubscribe = this.fleet.health.subscribe();
      else if (!view.visible && unsubscribe) {
        unsubscribe();
        unsubscribe = undefined;
      }
    };
    const sub = view.onDidChangeVisibility(follow);
    follow();
    return { dispose: () => { sub.dispose(); unsubscribe?.(); } };
  }

  private intern(node: HostsNode): HostsNode {
    const id = nodeId(node);
    const known = this.nodes.get(id);
    if (known && JSON.stringify(known) === JSON.stringify(node)) return known;
    this.nodes.set(id, node);
    return node;
  }

  getChildren(node?: HostsNode): HostsNode[] {
    return this.children(node).map((n) => this.intern(n));
  }

  dispose(): void {
    for (const d of this.subscriptions) d.dispose();
  }

  private matches(alias: string): boolean {
    return !this.filter || alias.toLowerCase().includes(this.filter.toLowerCase());
  }

  private problemRow(): HostsNode[] {
    const problem = this.fleet.snapshot.problem;
    if (!problem) return [];
    const command = problem.file
      ? { command: 'flotilla.openFileAt', title: 'Open', arguments: [problem.file, problem.line] }
      : { command: 'flotilla.openSshConfig', title: 'Open ssh config' };
    return [{ kind: 'message', text: sanitizeForView(problem.message).split('\n')[0]!, icon: 'error', command }];
  }

  private children(node?: HostsNode): HostsNode[] {
    const inv = this.fleet.snapshot.inventory;
    if (!node) {
      // A broken groups file leaves the hosts listed (ungrouped) under the row that says what is wrong.
      const problem = this.problemRow();
      if (!inv) return problem.length ? problem : [{ kind: 'message', text: 'Reading ssh config…', icon: 'loading~spin' }];
      // What is wrong in the config files comes first, each row opening the file at the line; the hosts that
      // resolved are listed below it as usual.
      const problems = [...problem, ...inv.configProblems.map((p): HostsNode => ({
        kind: 'message',
        text: viewLine(`${basename(p.file)}${p.line ? `:${p.line}` : ''}: ${p.message}`),
        icon: p.severity === 'error' ? 'error' : 'warning',
        command: {
          command: 'vscode.open',
          title: 'Open the config file at the problem',
          arguments: [vscode.Uri.file(p.file), { selection: new vscode.Range(Math.max(0, (p.line ?? 1) - 1), 0, Math.max(0, (p.line ?? 1) - 1), 0) }],
        },
      }))];
      if (!inv.hosts.length) {
        return [...problems, { kind: 'message', text: 'No Host entries in the ssh config — add one', icon: 'add', command: { command: 'flotilla.addHost', title: 'Add Host' } }];
      }
      // Ansible groups nest under their parents; the top shows sshsync groups and Ansible's top-level groups.
      const groups: HostsNode[] = [...inv.groups.keys()]
        .filter((name) => !inv.ansibleGroups.get(name)?.parents.length)
        .map((name) => this.groupNode(name));
      const grouped = new Set([...inv.groups.values()].flat());
      if (inv.hosts.some((h) => !grouped.has(h.alias))) groups.push({ kind: 'group', name: UNGROUPED, ungrouped: true });
      if (inv.tailscalePeers.length) groups.push({ kind: 'tailscale' });
      return [...problems, ...groups];
    }
    if (!inv) return [];
    if (node.kind === 'group') {
      const known = new Set(inv.hosts.map((h) => h.alias));
      const grouped = new Set([...inv.groups.values()].flat());
      const children = (inv.ansibleGroups.get(node.name)?.children ?? []).filter((c) => inv.groups.has(c));
      const inChildren = new Set(children.flatMap((c) => inv.groups.get(c)!));
      const members = node.ungrouped ? inv.hosts.map((h) => h.alias).filter((a) => !grouped.has(a)) : (inv.groups.get(node.name) ?? []).filter((a) => !inChildren.has(a));
      const path = node.path ?? node.name;
      const subgroups = children.map((c) => this.groupNode(c, path)).filter((g) => !this.filter || this.children(g).length > 0);
      const hosts = members.filter((a) => this.matches(a)).map((alias): HostsNode => ({
        kind: 'host', alias, group: node.ungrouped ? undefined : node.name, unknownMember: !known.has(alias), path, ansibleGroup: node.ansible,
      }));
      return [...subgroups, ...hosts];
    }
    if (node.kind === 'tailscale') {
      const matched = new Set(inv.hosts.filter((h) => h.tailscale).map((h) => h.tailscale!.name));
      return inv.tailscalePeers.filter((p) => !matched.has(p.name) && this.matches(p.name)).map((peer) => ({ kind: 'peer', peer }));
    }
    return [];
  }

  private groupNode(name: string, parentPath?: string): HostsNode {
    const path = parentPath ? `${parentPath}/${name}` : name;
    const fromFile = !this.fleet.snapshot.inventory?.ansibleGroups.has(name) || this.fleet.snapshot.inventory.fileGroups.has(name);
    return { kind: 'group', name, path, ansible: !fromFile };
  }

  getTreeItem(node: HostsNode): vscode.TreeItem {
    switch (node.kind) {
      case 'message': {
        const item = new vscode.TreeItem(node.text);
        item.iconPath = new vscode.ThemeIcon(node.icon);
        item.command = node.command;
        return item;
      }
      case 'group': {
        const members = node.ungrouped ? this.children(node).length : (this.fleet.snapshot.inventory?.groups.get(node.name) ?? []).filter((a) => this.matches(a)).length;
        const item = new vscode.TreeItem(node.name, vscode.TreeItemCollapsibleState.Expanded);
        item.id = nodeId(node);
        item.iconPath = new vscode.ThemeIcon(node.ungrouped ? 'server-environment' : node.ansible ? 'symbol-namespace' : 'folder-library');
        item.description = `${members} host${members === 1 ? '' : 's'}${node.ansible ? ' · Ansible inventory' : ''}`;
        // Ansible groups are edited in their inventory, not through the groups-file commands.
        item.contextValue = node.ungrouped ? 'ungrouped' : node.ansible ? 'ansibleGroup' : 'group';
        const source = this.fleet.snapshot.inventory?.ansibleGroups.get(node.name)?.source;
        if (source) item.tooltip = `Ansible group from ${sourceText(source)}`;
        return item;
      }
      case 'tailscale': {
        const item = new vscode.TreeItem('Tailscale peers', vscode.TreeItemCollapsibleState.Collapsed);
        item.iconPath = new vscode.ThemeIcon('globe');
        item.contextValue = 'tailscale';
        return item;
      }
      case 'peer': {
        const p = node.peer;
        const item = new vscode.TreeItem(p.name);
        item.iconPath = p.online ? new vscode.ThemeIcon('circle-filled', new vscode.ThemeColor('testing.iconPassed')) : new vscode.ThemeIcon('circle-outline', new vscode.ThemeColor('disabledForeground'));
        item.description = `${p.dnsName ?? p.ips[0] ?? ''}${p.os ? ` · ${p.os}` : ''}${p.online ? (p.link ? ` · ${linkText(p.link)}` : '') : p.lastSeen ? ` · last seen ${p.lastSeen}` : ' · offline'}`;
        item.tooltip = new vscode.MarkdownString(`**Tailscale peer** (no ssh config entry)\n\nIPs: ${mdEscape(p.ips.join(', '))}`);
        item.contextValue = 'peer';
        return item;
      }
      case 'host':
        return this.hostItem(node);
    }
  }

  private hostItem(node: Extract<HostsNode, { kind: 'host' }>): vscode.TreeItem {
    const item = new vscode.TreeItem(node.alias);
    item.id = nodeId(node);
    const h = this.fleet.health.get(node.alias);
    const r = this.fleet.snapshot.resolved.get(node.alias);
    const state = h?.state ?? 'checking';
    item.iconPath = node.unknownMember ? new vscode.ThemeIcon('question', new vscode.ThemeColor('list.warningForeground')) : STATE_ICON[state];
    const parts: string[] = [];
    if (r) parts.push(`${r.user}@${r.hostname}:${r.port}`);
    if (node.unknownMember) parts.push('not in ssh config');
    if (this.fleet.snapshot.inventory?.hosts.find((x) => x.alias === node.alias)?.ansible) parts.push('Ansible inventory');
    if (h?.state === 'online' || h?.state === 'degraded') {
      // The keepalive round trip, not the probe's duration (the tooltip shows every layer).
      if (h.layers.rtt?.ok) parts.push(`${h.layers.rtt.ms} ms`);
      if (h.metrics) parts.push(`load ${h.metrics.load1.toFixed(2)}`);
    }
    if (h?.reason && state !== 'online') parts.push(sanitizeForView(h.reason).split('\n')[0]!);
    item.description = parts.join(' · ');
    item.contextValue = `host.${state}${node.group && !node.ansibleGroup ? '.grouped' : ''}${h?.hostKey?.verdict.kind === 'unknown' ? '.unknownKey' : ''}`;
    item.accessibilityInformation = { label: `${node.alias}, ${state}${h?.reason ? `: ${sanitizeForView(h.reason)}` : ''}` };
    return item;
  }

  resolveTreeItem(item: vscode.TreeItem, node: HostsNode): vscode.TreeItem {
    if (node.kind === 'host') item.tooltip = this.explain(node.alias);
    return item;
  }

  /**
   * The "explain" tooltip: state and why, the probe layers and load first (what a glance is for), then
   * the settings that matter, each with the file:line it came from on its own line (a table would hide
   * that column behind a scrollbar once paths get long).
   */
  explain(alias: string): vscode.MarkdownString {
    const md = new vscode.MarkdownString(undefined, false);
    md.isTrusted = false;
    const r = this.fleet.snapshot.resolved.get(alias);
    const h = this.fleet.health.get(alias);
    md.appendMarkdown(`**${mdEscape(alias)}** — ${mdEscape(h?.state ?? 'checking')}`);
    if (h?.reason) md.appendMarkdown(`: ${mdEscape(h.reason)}`);
    md.appendMarkdown('\n\n');
    if (h?.layers) {
      const layer = (name: string, l?: { ok: boolean; ms: number; detail?: string }) =>
        l ? `${name} ${l.ok ? '✓' : '✗'} ${l.ms} ms${l.detail && !l.ok ? ` (${mdEscape(l.detail)})` : ''}` : undefined;
      const line = [layer('TCP', h.layers.tcp), layer('SSH', h.layers.ssh), layer('round trip', h.layers.rtt), layer('metrics', h.layers.metrics)].filter(Boolean).join(' → ');
      if (line) md.appendMarkdown(`${line}\n\n`);
      const ping = h.layers.tailscale;
      if (ping) md.appendMarkdown(`tailscale ping ${ping.ok ? `✓ ${ping.ms} ms ${mdEscape(ping.detail ?? '')}` : `✗ ${mdEscape(ping.detail ?? 'no reply')}`}\n\n`);
    }
    if (h?.metrics) {
      const m = h.metrics;
      md.appendMarkdown(`load ${m.load1.toFixed(2)} / ${m.cores} cores · mem ${(m.memAvailableKb / 1048576).toFixed(1)} of ${(m.memTotalKb / 1048576).toFixed(1)} GiB free · disk ${m.diskUsedPct}% used · up ${Math.round(m.uptimeSec / 3600)} h\n\n`);
    }
    const fromInventory = this.fleet.snapshot.inventory?.hosts.find((x) => x.alias === alias && x.ansible);
    if (fromInventory) md.appendMarkdown(`Not in the ssh config: known from the Ansible inventory ${mdEscape(sourceText(fromInventory.source))}\n\n`);
    if (r) {
      const rows: [string, string][] = [
        ['HostName', 'hostname'], ['User', 'user'], ['Port', 'port'], ['IdentityFile', 'identityfile'],
        ['ProxyJump', 'proxyjump'], ['ProxyCommand', 'proxycommand'], ['UserKnownHostsFile', 'userknownhostsfile'], ['StrictHostKeyChecking', 'stricthostkeychecking'],
      ];
      for (const [label, key] of rows) {
        const opt = r.options.get(key);
        if (!opt || (key.startsWith('proxy') && !opt.values.length)) continue;
        const from = opt.source ? sourceText(opt.source) : 'default';
        md.appendMarkdown(`- **${label}** ${mdEscape(opt.values.join(' '))}  \n  *${mdEscape(from)}*\n`);
      }
    }
    return md;
  }
}
