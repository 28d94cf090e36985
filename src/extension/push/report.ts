// The push report: a read-only document (scheme `flotilla-push`) listing every host's plan and result in
// full, rsync `-i` style, with every skipped path, warning and per-file error. It follows the live session.
import * as vscode from 'vscode';
import { sanitizeForView } from '../../core/exec/output';
import { itemLine } from './planView';
import { formatBytes, planCounts, resultCounts, type PushSession, type SessionStore } from './session';

export const REPORT_SCHEME = 'flotilla-push';

export function reportUri(s: PushSession): vscode.Uri {
  return vscode.Uri.from({ scheme: REPORT_SCHEME, path: `/${s.id}/Push report · ${s.source.label.replace(/[/\\?#]/g, '∕')}` });
}

export function renderReport(s: PushSession): string {
  const lines: string[] = [];
  const when = s.plannedAt ? new Date(s.plannedAt).toLocaleString() : 'not planned yet';
  lines.push(`Flotilla push: ${s.source.root}${s.source.files ? ` (${s.source.files.join(', ')})` : ''}`);
  lines.push(`  → ${s.remote} on ${s.targetLabel} (${s.hosts.length} host${s.hosts.length === 1 ? '' : 's'})`);
  lines.push(`  deletion ${s.delete ? `enabled (at most ${s.maxDelete} per host)` : 'off'} · planned ${when} · ${s.state}${s.note ? ` · ${s.note}` : ''}`);
  lines.push('');
  for (const host of s.hosts) {
    const plan = s.plans.get(host);
    const result = s.results.get(host);
    if (!plan) {
      lines.push(`━━━━ ${host} · not planned`, '');
      continue;
    }
    lines.push(`━━━━ ${host} → ${plan.absDest ?? plan.dest} · ${result ? `${resultCounts(result)} · ${formatBytes(result.bytes)} in ${result.durationMs} ms` : `plan: ${planCounts(plan)}`}`);
    if (plan.fatal) lines.push(`  ${sanitizeForView(plan.fatal)}`);
    if (result?.reason && result.state !== 'ok') lines.push(`  ${result.state}: ${sanitizeForView(result.reason)}`);
    if (plan.destMissing) lines.push(`  (the destination does not exist yet and will be created${plan.parents.length ? `, with ${plan.parents.map(sanitizeForView).join(', ')}` : ''})`);
    if (plan.leftovers.length) lines.push(`  leftovers of an interrupted push (removed by the apply): ${plan.leftovers.map(sanitizeForView).join(', ')}`);
    if (plan.extraneous && !plan.delete.length) lines.push(`  ${plan.extraneous} remote entr${plan.extraneous === 1 ? 'y' : 'ies'} not in the workspace; deletions are off`);
    if (plan.contentCheck) lines.push(`  same-size files compared with ${sanitizeForView(plan.contentCheck)}`);
    const byKey = new Map((result?.results ?? []).map((r) => [`${r.action}\0${r.path}`, r]));
    const items = [...plan.delete, ...[...plan.create, ...plan.update].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))];
    for (const item of items) {
      const r = byKey.get(`${item.action}\0${item.path}`);
      const status = r ? (r.ok ? '  ✓' : `  ✗ ${sanitizeForView(r.error ?? 'failed')}`) : item.action === 'delete' && plan.deleteBlocked ? '  (blocked)' : '';
      lines.push(`  ${itemLine(item)}${status}`);
    }
    if (plan.deleteBlocked) lines.push(`  deletions not done: ${sanitizeForView(plan.deleteBlocked)}`);
    for (const sk of plan.skipped) lines.push(`  skipped ${sanitizeForView(sk.path)}: ${sanitizeForView(sk.reason)}`);
    for (const w of s.scan?.warnings ?? []) lines.push(`  warning ${sanitizeForView(w.path)}: ${sanitizeForView(w.reason)}`);
    for (const e of plan.errors) lines.push(`  error ${sanitizeForView(e.path)}: ${sanitizeForView(e.message)}`);
    const listed = new Set(items.map((i) => `${i.action}\0${i.path}`));
    const errorPaths = new Set(plan.errors.map((e) => e.path));
    for (const r of result?.results ?? []) {
      if (!r.ok && !listed.has(`${r.action}\0${r.path}`) && !errorPaths.has(r.path)) lines.push(`  failed ${sanitizeForView(r.path)}: ${sanitizeForView(r.error ?? '')}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

export class ReportProvider implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly subscription: vscode.Disposable;
  private timer: NodeJS.Timeout | undefined;
  private readonly pullReports = new Map<string, string>();
  private pullCount = 0;

  constructor(private readonly store: SessionStore) {
    this.subscription = store.onDidChange((s) => {
      if (!s || this.timer) return;
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.changed.fire(reportUri(s));
      }, 300);
    });
  }

  /** Keeps a pull report (the last few) and returns its URI. */
  putPullReport(text: string): vscode.Uri {
    const uri = vscode.Uri.from({ scheme: REPORT_SCHEME, path: `/pull-${++this.pullCount}/Pull report` });
    this.pullReports.set(uri.toString(), text);
    for (const k of [...this.pullReports.keys()].slice(0, -10)) this.pullReports.delete(k);
    return uri;
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    const pulled = this.pullReports.get(uri.toString());
    if (pulled !== undefined) return pulled;
    const s = this.store.current;
    if (!s || reportUri(s).toString() !== uri.toString()) return 'This push plan was dismissed or replaced.';
    return renderReport(s);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.subscription.dispose();
    this.changed.dispose();
  }
}
