// The Runs view: runs newest first, each with its hosts. State is shown as icon + theme colour and
// encoded in contextValue (`run.running`, `run.done`, `run.done.partial`, `runHost.<state>`) so menus
// differ; ids are stable (no state in them) so expansion and selection survive refreshes.
import * as vscode from 'vscode';
import { hostDescription, isRunning, notOkHosts, runDescription, sortedRows, type HostRow, type RowState, type RunEntry } from './runModel';
import { mdEscape, oneLine } from '../../core/text';
import type { RunStore } from './runStore';

export type RunsNode = { kind: 'run'; runId: string } | { kind: 'host'; runId: string; host: string } | { kind: 'message'; text: string };

const REFRESH_DEBOUNCE_MS = 100;
/** While a run is going and the view is visible, its running hosts' elapsed time is redrawn this often. */
const TICK_MS = 1000;
/** Long command lines are cut so the state summary (the description) stays visible. */
const TREE_LABEL_MAX = 56;

function icon(id: string, color?: string): vscode.ThemeIcon {
  return new vscode.ThemeIcon(id, color ? new vscode.ThemeColor(color) : undefined);
}

export function hostStateIcon(state: RowState): vscode.ThemeIcon {
  switch (state) {
    case 'pending': return icon('circle-outline', 'disabledForeground');
    case 'running': return icon('loading~spin');
    case 'ok': return icon('pass-filled', 'testing.iconPassed');
    case 'failed': return icon('error', 'errorForeground');
    case 'killed':
    case 'cancelled': return icon('circle-slash', 'list.warningForeground');
    case 'timeout': return icon('watch', 'list.warningForeground');
    case 'lost': return icon('question', 'list.warningForeground');
    case 'unreachable': return icon('debug-disconnect', 'disabledForeground');
    case 'auth-failed': return icon('lock', 'errorForeground');
    case 'hostkey-rejected': return icon('workspace-untrusted', 'errorForeground');
  }
}

export function runIcon(run: RunEntry): vscode.ThemeIcon {
  if (isRunning(run)) return icon('loading~spin');
  const states = [...run.rows.values()].map((r) => r.state);
  if (states.every((s) => s === 'ok')) return icon('pass-filled', 'testing.iconPassed');
  if (states.some((s) => s === 'failed' || s === 'killed')) return icon('error', 'errorForeground');
  return icon('warning', 'list.warningForeground');
}

export function runContextValue(run: RunEntry): string {
  if (isRunning(run)) return 'run.running';
  return notOkHosts(run).length ? 'run.done.partial' : 'run.done';
}

function nodeKey(node: RunsNode): string {
  return node.kind === 'message' ? `message:${node.text}` : node.kind === 'run' ? `run:${node.runId}` : `run:${node.runId}:${node.host}`;
}

export class RunsTree implements vscode.TreeDataProvider<RunsNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<RunsNode | RunsNode[] | undefined | void>();
  readonly onDidChangeTreeData = this.changed.event;
  private timer: NodeJS.Timeout | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private visible = false;
  private readonly subscription: vscode.Disposable;
  /** The node objects handed to the workbench, which knows elements by identity: a row is redrawn alone when fired with its own object. */
  private readonly nodes = new Map<string, RunsNode>();

  constructor(private readonly store: RunStore) {
    this.subscription = store.onDidChange(() => this.scheduleRefresh());
  }

  /** Elapsed times tick only while the view is visible and a run is going. */
  follow(view: vscode.TreeView<RunsNode>): vscode.Disposable {
    const update = () => {
      this.visible = view.visible;
      this.updateTicker();
    };
    update();
    return view.onDidChangeVisibility(update);
  }

  private updateTicker(): void {
    const want = this.visible && this.store.active.length > 0;
    if (want && !this.ticker) {
      this.ticker = setInterval(() => this.tick(), TICK_MS);
    } else if (!want && this.ticker) {
      clearInterval(this.ticker);
      this.ticker = undefined;
    }
  }

  /** Redraws the rows whose text depends on the clock: running hosts and their runs. */
  private tick(): void {
    const rows: RunsNode[] = [];
    for (const run of this.store.active) {
      const runNode = this.nodes.get(`run:${run.id}`);
      if (runNode) rows.push(runNode);
      for (const row of run.rows.values()) {
        const hostNode = row.state === 'running' ? this.nodes.get(`run:${run.id}:${row.host}`) : undefined;
        if (hostNode) rows.push(hostNode);
      }
    }
    if (rows.length) this.changed.fire(rows);
    this.updateTicker();
  }

  /** Node objects stay the same across refreshes (the workbench knows rows by object); only runs no longer listed are dropped. */
  private forgetGoneRuns(): void {
    for (const [key, node] of this.nodes) if (node.kind !== 'message' && !this.store.get(node.runId)) this.nodes.delete(key);
  }

  private intern(node: RunsNode): RunsNode {
    const key = nodeKey(node);
    const known = this.nodes.get(key);
    if (known) return known;
    this.nodes.set(key, node);
    return node;
  }

  /** Events arrive per output chunk; the tree redraws at most every REFRESH_DEBOUNCE_MS. */
  private scheduleRefresh(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.forgetGoneRuns();
      this.changed.fire();
      this.updateTicker();
    }, REFRESH_DEBOUNCE_MS);
  }

  getChildren(node?: RunsNode): RunsNode[] {
    return this.children(node).map((n) => this.intern(n));
  }

  private children(node?: RunsNode): RunsNode[] {
    if (!node) {
      if (!this.store.all.length) return [{ kind: 'message', text: 'No runs yet: ▶ Run Command…' }];
      return this.store.all.map((r) => ({ kind: 'run', runId: r.id }));
    }
    if (node.kind !== 'run') return [];
    const run = this.store.get(node.runId);
    return run ? sortedRows(run).map((r) => ({ kind: 'host', runId: run.id, host: r.host })) : [];
  }

  getParent(node: RunsNode): RunsNode | undefined {
    return node.kind === 'host' ? this.intern({ kind: 'run', runId: node.runId }) : undefined;
  }

  getTreeItem(node: RunsNode): vscode.TreeItem {
    if (node.kind === 'message') {
      const item = new vscode.TreeItem(node.text);
      item.iconPath = icon('info');
      item.command = { command: 'flotilla.runCommand', title: 'Run Command…' };
      return item;
    }
    const run = this.store.get(node.runId);
    if (!run) return new vscode.TreeItem('(run no longer available)');
    return node.kind === 'run' ? this.runItem(run) : this.hostItem(run, run.rows.get(node.host)!);
  }

  private runItem(run: RunEntry): vscode.TreeItem {
    const newestLive = run === this.store.latest && (!!run.job || !run.finishedAt);
    const item = new vscode.TreeItem(oneLine(run.command, TREE_LABEL_MAX), newestLive ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
    item.id = `run:${run.id}`;
    item.description = runDescription(run);
    item.iconPath = runIcon(run);
    item.contextValue = runContextValue(run);
    item.accessibilityInformation = { label: `${oneLine(run.command)}: ${item.description}` };
    return item;
  }

  private hostItem(run: RunEntry, row: HostRow): vscode.TreeItem {
    const item = new vscode.TreeItem(row.host);
    item.id = `run:${run.id}:${row.host}`;
    item.description = hostDescription(row);
    item.iconPath = hostStateIcon(row.state);
    item.contextValue = `runHost.${row.state}`;
    item.command = { command: 'flotilla.showRunOutput', title: 'Show Output', arguments: [{ kind: 'host', runId: run.id, host: row.host } satisfies RunsNode] };
    item.accessibilityInformation = { label: `${row.host}, ${row.state}, ${item.description}` };
    return item;
  }

  /** Tooltips are built only when hovered; remote and user text is escaped and never trusted. */
  resolveTreeItem(item: vscode.TreeItem, node: RunsNode): vscode.TreeItem {
    const run = node.kind === 'message' ? undefined : this.store.get(node.runId);
    if (!run) return item;
    const md = new vscode.MarkdownString(undefined, false);
    md.isTrusted = false;
    if (node.kind === 'run') {
      md.appendMarkdown(`**${mdEscape(oneLine(run.command, 300))}**\n\n`);
      md.appendMarkdown(`${run.rows.size} host${run.rows.size === 1 ? '' : 's'} · ${mdEscape(runDescription(run))}\n\n`);
      if (run.cwd) md.appendMarkdown(`in ${mdEscape(run.cwd)}\n\n`);
      if (run.placement) md.appendMarkdown(`${mdEscape(run.placement.explanation)}\n\n`);
      if (run.ownerDied) md.appendMarkdown('The process that ran it ended before it finished: hosts without an outcome are lost.\n\n');
      md.appendMarkdown(`from ${mdEscape(run.origin)}${run.startedBy ? ` (${mdEscape(run.startedBy)})` : ''} · run ${mdEscape(run.id)}`);
    } else if (node.kind === 'host') {
      const row = run.rows.get(node.host)!;
      md.appendMarkdown(`**${mdEscape(row.host)}** — ${mdEscape(row.state)}\n\n${mdEscape(hostDescription(row))}`);
      if (row.result?.reason) md.appendMarkdown(`\n\n${mdEscape(row.result.reason)}`);
      if (row.result?.stdoutFile) md.appendMarkdown(`\n\noutput: ${mdEscape(row.result.stdoutFile)}`);
    }
    item.tooltip = md;
    return item;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.ticker) clearInterval(this.ticker);
    this.subscription.dispose();
    this.changed.dispose();
  }
}
