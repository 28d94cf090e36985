// The Workflows view: the workspace's workflow files (Run / Dry Run), then recorded workflow runs of any
// process with their stages, hosts and steps, live. It only renders the core's records.
import { basename } from 'node:path';
import * as vscode from 'vscode';
import { sanitizeForView } from '../../core/exec/output';
import type { StageRecord, StageState, WorkflowDoc, WorkflowHostState, WorkflowStore } from '../../core/workflows/record';
import { hostCounts } from '../../core/workflows/report';

export type WorkflowsNode =
  | { kind: 'section'; which: 'files' | 'runs' }
  | { kind: 'file'; path: string; name?: string; error?: string }
  | { kind: 'run'; id: string }
  | { kind: 'stage'; id: string; stage: number }
  | { kind: 'host'; id: string; stage: number; host: string }
  | { kind: 'step'; id: string; step: number };

const HOST_ICON: Record<WorkflowHostState, [string, string?]> = {
  pending: ['circle-outline'],
  running: ['sync~spin', 'charts.blue'],
  done: ['pass', 'testing.iconPassed'],
  failed: ['error', 'testing.iconFailed'],
  'rolled-back': ['discard', 'charts.orange'],
  'rollback-failed': ['error', 'testing.iconFailed'],
  cancelled: ['circle-slash', 'charts.yellow'],
  skipped: ['dash', 'disabledForeground'],
};
const STAGE_ICON: Record<StageState, [string, string?]> = {
  pending: ['circle-outline'],
  'waiting-confirm': ['question', 'charts.yellow'],
  running: ['sync~spin', 'charts.blue'],
  ok: ['pass', 'testing.iconPassed'],
  failed: ['error', 'testing.iconFailed'],
  cancelled: ['circle-slash', 'charts.yellow'],
  declined: ['circle-slash', 'charts.yellow'],
  skipped: ['dash', 'disabledForeground'],
};

const icon = ([id, color]: [string, string?]) => new vscode.ThemeIcon(id, color ? new vscode.ThemeColor(color) : undefined);
const text = (s: string) => sanitizeForView(s).replace(/\s*\n\s*/g, ' ');

export class WorkflowsTree implements vscode.TreeDataProvider<WorkflowsNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<WorkflowsNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private files: Array<{ path: string; name?: string; error?: string }> = [];
  private runs: WorkflowDoc[] = [];
  /** Live records of this window's runs (fresher than the file). */
  private readonly live = new Map<string, WorkflowDoc>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly store: WorkflowStore, private readonly limit = 20) {}

  setFiles(files: Array<{ path: string; name?: string; error?: string }>): void {
    this.files = files;
    this.changed.fire(undefined);
  }

  /** A record from this window's runner. */
  update(doc: WorkflowDoc): void {
    this.live.set(doc.id, doc);
    if (!this.runs.some((r) => r.id === doc.id)) this.runs = [doc, ...this.runs].slice(0, this.limit);
    this.soon();
  }

  /** Re-reads the store (other processes' runs), at most every 100 ms. */
  soon(): void {
    this.timer ??= setTimeout(() => { this.timer = undefined; void this.reload(); }, 100);
  }

  async reload(): Promise<void> {
    const stored = await this.store.list(this.limit).catch(() => [] as WorkflowDoc[]);
    for (const [id, doc] of this.live) if (doc.state === 'done' && stored.some((s) => s.id === id && s.state === 'done')) this.live.delete(id);
    this.runs = stored.map((d) => this.live.get(d.id) ?? d);
    for (const d of this.live.values()) if (!this.runs.some((r) => r.id === d.id)) this.runs.unshift(d);
    this.changed.fire(undefined);
  }

  doc(id: string): WorkflowDoc | undefined {
    return this.live.get(id) ?? this.runs.find((r) => r.id === id);
  }

  getChildren(node?: WorkflowsNode): WorkflowsNode[] {
    if (!node) return [{ kind: 'section', which: 'files' }, { kind: 'section', which: 'runs' }];
    if (node.kind === 'section') {
      return node.which === 'files' ? this.files.map((f) => ({ kind: 'file', ...f })) : this.runs.map((r) => ({ kind: 'run', id: r.id }));
    }
    const doc = 'id' in node ? this.doc(node.id) : undefined;
    if (!doc) return [];
    if (node.kind === 'run') return doc.stages.map((_, stage) => ({ kind: 'stage', id: doc.id, stage }));
    if (node.kind === 'stage') {
      return [
        ...doc.stages[node.stage]!.hosts.map((h): WorkflowsNode => ({ kind: 'host', id: doc.id, stage: node.stage, host: h.host })),
        ...doc.steps.flatMap((s, step): WorkflowsNode[] => (s.stage === node.stage ? [{ kind: 'step', id: doc.id, step }] : [])),
      ];
    }
    return [];
  }

  getTreeItem(node: WorkflowsNode): vscode.TreeItem {
    const None = vscode.TreeItemCollapsibleState.None;
    const Expanded = vscode.TreeItemCollapsibleState.Expanded;
    if (node.kind === 'section') {
      const item = new vscode.TreeItem(node.which === 'files' ? 'Workflow files' : 'Workflow runs', Expanded);
      item.contextValue = `workflowSection.${node.which}`;
      if (node.which === 'files' && !this.files.length) item.description = 'none in .flotilla/workflows — New Workflow…';
      return item;
    }
    if (node.kind === 'file') {
      const item = new vscode.TreeItem(text(node.name ?? basename(node.path)), None);
      item.description = node.error ? 'has errors' : vscode.workspace.asRelativePath(node.path);
      item.tooltip = node.error ? text(node.error) : node.path;
      item.iconPath = icon(node.error ? ['warning', 'problemsWarningIcon.foreground'] : ['file-code']);
      item.resourceUri = vscode.Uri.file(node.path);
      item.contextValue = 'workflowFile';
      item.command = { command: 'vscode.open', title: 'Open', arguments: [vscode.Uri.file(node.path)] };
      return item;
    }
    const doc = this.doc(node.id)!;
    if (node.kind === 'run') {
      const item = new vscode.TreeItem(text(doc.name), doc.state === 'running' ? Expanded : vscode.TreeItemCollapsibleState.Collapsed);
      const current = doc.stages.findIndex((s) => s.state === 'running' || s.state === 'waiting-confirm');
      item.description = doc.state === 'running'
        ? `running · stage ${current + 1}/${doc.stages.length} ${current >= 0 ? text(doc.stages[current]!.name) : ''}`
        : `${doc.result}${doc.reason ? ` · ${text(doc.reason)}` : ''}`;
      item.tooltip = `${doc.id} · started ${doc.startedAt} by ${doc.startedBy} (${doc.origin})${doc.file ? `\n${doc.file}` : ''}`;
      item.iconPath = icon(doc.state === 'running' ? ['sync~spin', 'charts.blue'] : doc.result === 'completed' ? ['pass', 'testing.iconPassed'] : doc.result === 'stopped' ? ['error', 'testing.iconFailed'] : ['circle-slash', 'charts.yellow']);
      item.contextValue = `workflowRun.${doc.state}`;
      item.id = `wf:${doc.id}`;
      return item;
    }
    if (node.kind === 'stage') {
      const s: StageRecord = doc.stages[node.stage]!;
      const item = new vscode.TreeItem(text(s.name), s.state === 'pending' || s.state === 'skipped' ? vscode.TreeItemCollapsibleState.Collapsed : Expanded);
      item.description = `${s.state === 'waiting-confirm' ? 'waiting for confirmation' : s.state}${s.placed ? ` on ${text(s.placed)}` : ''} · ${hostCounts(s)}`;
      item.iconPath = icon(STAGE_ICON[s.state]);
      item.id = `wf:${doc.id}:${node.stage}:${s.state}`;
      return item;
    }
    if (node.kind === 'host') {
      const h = doc.stages[node.stage]!.hosts.find((x) => x.host === node.host)!;
      const item = new vscode.TreeItem(text(h.host), None);
      const state = h.state === 'skipped' ? 'never touched' : h.state;
      item.description = `${state}${h.step && h.state !== 'done' && h.state !== 'skipped' ? ` · ${text(h.step)}` : ''}`;
      item.tooltip = h.reason ? text(h.reason) : state;
      item.iconPath = icon(HOST_ICON[h.state]);
      item.contextValue = 'workflowHost';
      return item;
    }
    const st = doc.steps[node.step]!;
    const item = new vscode.TreeItem(`${st.phase === 'on_failure' ? 'on_failure ' : ''}step ${st.index + 1}${doc.stages[st.stage]!.batches.length > 1 ? ` (batch ${st.batch + 1})` : ''}: ${text(st.label)}`, None);
    item.description = `${st.kind} · ${st.state}`;
    item.iconPath = icon(st.state === 'ok' ? ['pass', 'testing.iconPassed'] : st.state === 'running' ? ['sync~spin', 'charts.blue'] : st.state === 'failed' ? ['error', 'testing.iconFailed'] : ['circle-slash', 'charts.yellow']);
    item.tooltip = Object.entries(st.hosts).map(([h, x]) => `${h}: ${x.state}${x.reason ? ` (${text(x.reason)})` : ''}`).join('\n');
    if (st.runIds[0]) {
      item.command = { command: 'flotilla.showRunOutput', title: 'Show Run Output', arguments: [{ kind: 'run', runId: st.runIds[0] }] };
    }
    return item;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.changed.dispose();
  }
}
