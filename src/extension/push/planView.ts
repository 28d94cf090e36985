// The Push Plan view: hosts whose plans (and, once applied, results) are identical share one row, as run
// output does; each row has its counts or outcome, and under it every item in words ("new file", "content
// changed", "time only"; the rsync `-i` code is in the tooltip), then what the apply will also do (create
// parents, remove leftovers), what it will not (remote files not in the workspace while deletions are off),
// skipped paths, warnings and errors, so nothing is dropped silently.
import * as vscode from 'vscode';
import type { HostPushResult, ItemResult } from '../../core/push/apply';
import { describeItem, itemize, type PlannedHost } from '../../core/push/plan';
import type { PlanItem } from '../../core/push/types';
import { sanitizeForView } from '../../core/exec/output';
import { formatBytes, planCounts, resultCounts, type PushSession, type SessionStore } from './session';

/** Items listed under a host before "… N more" (the report lists everything). */
export const MAX_ITEMS_SHOWN = 500;

export type PlanNode =
  /** One or more hosts with the same plan and result; `host` is the first (the one items and diffs refer to). */
  | { kind: 'host'; session: PushSession; host: string; hosts: string[] }
  | { kind: 'item'; session: PushSession; host: string; item: PlanItem; result?: ItemResult }
  | { kind: 'note'; session: PushSession; host: string; text: string; detail?: string; icon: string; color?: string; command?: vscode.Command };

const icon = (id: string, color?: string) => new vscode.ThemeIcon(id, color ? new vscode.ThemeColor(color) : undefined);

const ITEM_ICON: Record<PlanItem['action'], [string, string]> = {
  create: ['diff-added', 'gitDecoration.addedResourceForeground'],
  update: ['diff-modified', 'gitDecoration.modifiedResourceForeground'],
  delete: ['diff-removed', 'gitDecoration.deletedResourceForeground'],
};

/** rsync `-i` style line (reports and tooltips). */
export function itemLine(item: PlanItem): string {
  return `${itemize(item)} ${sanitizeForView(item.path)}${item.type === 'dir' ? '/' : ''}`;
}

/** What makes two hosts' rows the same: everything shown under them except absolute paths. */
function signature(plan: PlannedHost | undefined, result: HostPushResult | undefined, planning: boolean): string {
  if (!plan) return planning ? 'planning' : 'none';
  const items = (list: readonly PlanItem[]) => list.map((i) => [i.action, i.path, i.type, i.size, i.changes]);
  return JSON.stringify([
    plan.fatal, plan.unreachable, plan.deleteBlocked, plan.destMissing, plan.parents.length, plan.leftovers.length, plan.extraneous,
    plan.contentCheck, items(plan.create), items(plan.update), items(plan.delete), plan.unchanged, plan.errors, plan.skipped,
    result && [result.state, result.reason, result.bytes, result.results.map((r) => [r.action, r.path, r.ok, r.error])],
  ]);
}

/** Hosts grouped by identical rows, in the session's host order. */
export function groupHosts(s: PushSession): string[][] {
  const groups = new Map<string, string[]>();
  for (const host of s.hosts) {
    const key = signature(s.plans.get(host), s.results.get(host), s.state === 'planning');
    groups.set(key, [...(groups.get(key) ?? []), host]);
  }
  return [...groups.values()];
}

export function hostsLabel(hosts: readonly string[]): string {
  return hosts.length <= 4 ? hosts.join(', ') : `${hosts.slice(0, 3).join(', ')} +${hosts.length - 3} more`;
}

export class PlanTree implements vscode.TreeDataProvider<PlanNode> {
  private readonly changed = new vscode.EventEmitter<PlanNode | undefined | void>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly store: SessionStore) {}

  refresh(): void { this.changed.fire(); }

  getChildren(node?: PlanNode): PlanNode[] {
    const s = this.store.current;
    if (!s) return [];
    if (!node) return groupHosts(s).map((hosts) => ({ kind: 'host', session: s, host: hosts[0]!, hosts }));
    if (node.kind !== 'host') return [];
    return this.hostChildren(node.session, node.host);
  }

  private hostChildren(s: PushSession, host: string): PlanNode[] {
    const plan = s.plans.get(host);
    const result = s.results.get(host);
    const note = (text: string, iconId: string, color?: string, detail?: string): PlanNode => ({ kind: 'note', session: s, host, text, icon: iconId, color, detail });
    if (!plan) return [note(s.state === 'planning' ? 'listing the destination…' : 'not planned', s.state === 'planning' ? 'loading~spin' : 'circle-slash')];
    const out: PlanNode[] = [];
    if (plan.fatal) out.push(note(sanitizeForView(plan.fatal), 'error', 'errorForeground'));
    if (result?.reason && result.state !== 'ok') out.push(note(`${result.state}: ${sanitizeForView(result.reason)}`, result.state === 'partial' ? 'warning' : 'error', result.state === 'partial' ? 'list.warningForeground' : 'errorForeground'));
    if (plan.deleteBlocked) out.push(note(`deletions not done: ${sanitizeForView(plan.deleteBlocked)}`, 'warning', 'list.warningForeground'));
    if (plan.destMissing && !plan.fatal && !result) {
      const parents = plan.parents.length ? ` (and ${plan.parents.length} missing parent director${plan.parents.length === 1 ? 'y' : 'ies'}: ${plan.parents.map(sanitizeForView).join(', ')})` : '';
      out.push(note(`${sanitizeForView(plan.dest)} does not exist yet: it will be created${parents}`, 'new-folder'));
    }
    if (plan.leftovers.length && !result) {
      out.push(note(`${plan.leftovers.length} leftover temp file(s) of an interrupted push: Apply removes them`, 'trash', 'list.warningForeground', plan.leftovers.slice(0, 5).map(sanitizeForView).join(', ')));
    }
    if (plan.extraneous && !plan.delete.length && !plan.fatal) {
      out.push(note(`${plan.extraneous} remote ${plan.extraneous === 1 ? 'entry' : 'entries'} not in the workspace; deletions are off`, 'info', undefined, 'Toggle deletion in the view title to plan removing them'));
    }
    if (plan.contentCheck && plan.contentCheck !== 'sha256sum -z') out.push(note(`same-size files compared with ${sanitizeForView(plan.contentCheck)}`, 'info'));
    const byKey = new Map((result?.results ?? []).map((r) => [`${r.action}\0${r.path}`, r]));
    const items = [...plan.delete, ...[...plan.create, ...plan.update].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))];
    for (const item of items.slice(0, MAX_ITEMS_SHOWN)) out.push({ kind: 'item', session: s, host, item, result: byKey.get(`${item.action}\0${item.path}`) });
    if (items.length > MAX_ITEMS_SHOWN) {
      out.push({ ...note(`… ${items.length - MAX_ITEMS_SHOWN} more item(s): Show Push Report lists all`, 'ellipsis'), command: { command: 'flotilla.push.showReport', title: 'Show Push Report' } } as PlanNode);
    }
    for (const sk of plan.skipped) out.push(note(`skipped ${sanitizeForView(sk.path)}`, 'debug-step-over', 'disabledForeground', sanitizeForView(sk.reason)));
    for (const w of s.scan?.warnings ?? []) out.push(note(`warning ${sanitizeForView(w.path)}`, 'warning', 'list.warningForeground', sanitizeForView(w.reason)));
    for (const e of plan.errors) out.push(note(`error ${sanitizeForView(e.path)}`, 'error', 'errorForeground', sanitizeForView(e.message)));
    // Failures of items the plan did not list (should not happen, but never drop one).
    const planned = new Set(items.map((i) => `${i.action}\0${i.path}`));
    const errorPaths = new Set(plan.errors.map((e) => e.path));
    for (const r of result?.results ?? []) {
      if (!r.ok && !planned.has(`${r.action}\0${r.path}`) && !errorPaths.has(r.path)) out.push(note(`failed ${sanitizeForView(r.path)}`, 'error', 'errorForeground', sanitizeForView(r.error ?? 'failed')));
    }
    if (!out.length && !plan.fatal) out.push(note(`nothing to do: ${plan.unchanged} unchanged`, 'check', 'testing.iconPassed'));
    return out;
  }

  getTreeItem(node: PlanNode): vscode.TreeItem {
    if (node.kind === 'host') return this.hostItem(node.session, node.host, node.hosts);
    if (node.kind === 'note') {
      const item = new vscode.TreeItem(node.text);
      item.description = node.detail;
      item.tooltip = node.detail ? `${node.text}\n${node.detail}` : node.text;
      item.iconPath = icon(node.icon, node.color);
      item.contextValue = 'pushNote';
      item.command = node.command;
      return item;
    }
    return this.itemItem(node);
  }

  private hostItem(s: PushSession, host: string, hosts: readonly string[]): vscode.TreeItem {
    const plan = s.plans.get(host);
    const result = s.results.get(host);
    const progress = s.progress.get(host);
    // A few rows open with their items listed; a big fleet starts as an overview of counts.
    const item = new vscode.TreeItem(hostsLabel(hosts), s.hosts.length <= 5 ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
    item.id = `${s.id}/${hosts.join(',')}`;
    if (!plan) {
      item.description = s.state === 'planning' ? 'planning…' : s.note ?? 'not planned';
      item.iconPath = icon(s.state === 'planning' ? 'loading~spin' : 'circle-slash', s.state === 'planning' ? undefined : 'disabledForeground');
      item.contextValue = 'pushHost.pending';
      return item;
    }
    if (result) {
      item.description = `${resultCounts(result)} · ${formatBytes(result.bytes)}`;
      const [id, color] =
        result.state === 'ok' ? ['pass-filled', 'testing.iconPassed'] :
        result.state === 'partial' ? ['warning', 'list.warningForeground'] :
        result.state === 'cancelled' ? ['circle-slash', 'disabledForeground'] : ['error', 'errorForeground'];
      item.iconPath = icon(id, color);
      item.contextValue = `pushHost.${result.state}`;
    } else if (s.state === 'applying') {
      item.description = progress ? `${progress.done}/${progress.total} · ${formatBytes(progress.bytes)} · ${planCounts(plan)}` : `waiting · ${planCounts(plan)}`;
      item.iconPath = icon('loading~spin');
      item.contextValue = 'pushHost.applying';
    } else {
      item.description = planCounts(plan);
      item.iconPath =
        plan.fatal ? icon('error', 'errorForeground') :
        plan.deleteBlocked || plan.errors.length ? icon('warning', 'list.warningForeground') :
        plan.create.length + plan.update.length + plan.delete.length ? icon('cloud-upload') : icon('pass', 'testing.iconPassed');
      item.contextValue = plan.fatal ? 'pushHost.fatal' : 'pushHost.planned';
    }
    const tip = new vscode.MarkdownString(undefined, false);
    tip.isTrusted = false;
    tip.appendText(`${hosts.length > 1 ? `${hosts.length} hosts with the same plan: ${hosts.join(', ')}\n\n` : ''}${host} → ${plan.absDest ?? plan.dest}\n\n${planCounts(plan)}`);
    if (plan.deleteBlocked) tip.appendText(`\n\nDeletions blocked: ${sanitizeForView(plan.deleteBlocked)}`);
    if (result?.reason) tip.appendText(`\n\n${result.state}: ${sanitizeForView(result.reason)}`);
    item.tooltip = tip;
    return item;
  }

  private itemItem(node: Extract<PlanNode, { kind: 'item' }>): vscode.TreeItem {
    const { item: p, result } = node;
    const plan = node.session.plans.get(node.host);
    const t = new vscode.TreeItem(`${sanitizeForView(p.path)}${p.type === 'dir' ? '/' : ''}`);
    const blocked = p.action === 'delete' && !!plan?.deleteBlocked;
    if (result) {
      t.iconPath = result.ok ? icon('pass', 'testing.iconPassed') : icon('error', 'errorForeground');
      t.description = result.ok ? 'done' : sanitizeForView(result.error ?? 'failed');
    } else if (blocked) {
      t.iconPath = icon(ITEM_ICON.delete[0], 'disabledForeground');
      t.description = 'blocked';
    } else {
      const [id, color] = ITEM_ICON[p.action];
      t.iconPath = icon(id, color);
      t.description = `${describeItem(p)}${p.type === 'file' && p.action !== 'delete' && (p.action === 'create' || p.changes.content) ? ` · ${formatBytes(p.size)}` : ''}`;
    }
    const isFile = p.type === 'file';
    t.contextValue = isFile ? `pushItem.${p.action}` : `pushEntry.${p.action}`;
    t.tooltip = `${itemLine(p)}\n${describe(p)}${result && !result.ok ? `\nfailed: ${sanitizeForView(result.error ?? '')}` : ''}`;
    if (isFile) t.command = { command: 'flotilla.push.openDiff', title: 'Open Diff', arguments: [node] };
    return t;
  }
}

function describe(p: PlanItem): string {
  if (p.action === 'create') return `new ${p.type}: will be created`;
  if (p.action === 'delete') return `exists only remotely: will be deleted`;
  const c = p.changes;
  const what = [c.type && 'type', c.content && 'content', c.size && 'size', c.time && 'modification time', c.perms && 'permissions', c.link && 'link target'].filter(Boolean);
  return `differs in ${what.join(', ') || 'metadata'}`;
}
