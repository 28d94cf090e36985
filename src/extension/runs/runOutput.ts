// Read-only virtual documents (scheme `flotilla-run`) for a run's output: the grouped document, one
// host's output, and the majority output (for the diff editor). Open documents follow a live run.
import * as vscode from 'vscode';
import { outputGroups, plainText, renderRunDocument } from './outputDocument';
import { hostRan, loadHostOutputs, type HostOutputs } from './outputSource';
import { hostDescription, sortedRows, type RunEntry } from './runModel';
import { oneLine } from '../../core/text';
import type { RunStore } from './runStore';

export const RUN_OUTPUT_SCHEME = 'flotilla-run';
const LIVE_UPDATE_MS = 300;

type View = { view: 'run' } | { view: 'host'; host: string } | { view: 'majority' };

export function viewCapBytes(): number {
  const kb = vscode.workspace.getConfiguration('flotilla').get<number>('run.viewCapKB', 128);
  return Math.max(1, Math.floor(kb)) * 1024;
}

function titleSafe(text: string): string {
  return text.replace(/[/\\?#]/g, '∕');
}

export function runOutputUri(run: RunEntry, view: View = { view: 'run' }): vscode.Uri {
  const title =
    view.view === 'run' ? `Output · ${oneLine(run.command, 40)}` :
    view.view === 'host' ? `${view.host} · ${oneLine(run.command, 30)}` :
    `majority · ${oneLine(run.command, 30)}`;
  const query = new URLSearchParams(view.view === 'host' ? { view: 'host', host: view.host } : { view: view.view });
  return vscode.Uri.from({ scheme: RUN_OUTPUT_SCHEME, path: `/${run.id}/${titleSafe(title)}`, query: query.toString() });
}

function parseUri(uri: vscode.Uri): { runId: string; view: View } {
  const runId = uri.path.split('/')[1] ?? '';
  const q = new URLSearchParams(uri.query);
  const view = q.get('view');
  if (view === 'host') return { runId, view: { view: 'host', host: q.get('host') ?? '' } };
  return { runId, view: view === 'majority' ? { view: 'majority' } : { view: 'run' } };
}

export async function loadAllOutputs(run: RunEntry, capBytes: number): Promise<Map<string, HostOutputs>> {
  const rows = sortedRows(run);
  const outputs = await Promise.all(rows.map((r) => loadHostOutputs(r, capBytes)));
  return new Map(rows.map((r, i) => [r.host, outputs[i]!]));
}

/** The hosts whose output most hosts share (ties: the group with the first host name). */
export async function majority(run: RunEntry, capBytes = viewCapBytes()): Promise<{ hosts: string[]; outputs: Map<string, HostOutputs> }> {
  const outputs = await loadAllOutputs(run, capBytes);
  return { hosts: outputGroups(run, outputs)[0]?.hosts ?? [], outputs };
}

export class RunOutputProvider implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private readonly subscription: vscode.Disposable;

  constructor(private readonly store: RunStore) {
    this.subscription = store.onDidChange((run) => {
      if (run) this.scheduleUpdate(run.id);
    });
  }

  /** Open documents of a changed run are re-rendered at most every LIVE_UPDATE_MS. */
  private scheduleUpdate(runId: string): void {
    this.pending.add(runId);
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      for (const doc of vscode.workspace.textDocuments) {
        if (doc.uri.scheme === RUN_OUTPUT_SCHEME && this.pending.has(parseUri(doc.uri).runId)) this.changed.fire(doc.uri);
      }
      this.pending.clear();
    }, LIVE_UPDATE_MS);
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const { runId, view } = parseUri(uri);
    const run = this.store.get(runId);
    if (!run) return `Run ${runId} is not in the loaded history (cleared, or older than flotilla.run.historySize).\n`;
    const cap = viewCapBytes();
    if (view.view === 'run') return renderRunDocument(run, await loadAllOutputs(run, cap), { capBytes: cap });
    if (view.view === 'host') {
      const row = run.rows.get(view.host);
      if (!row) return `No host ${view.host} in run ${runId}.\n`;
      if (!hostRan(row)) return `${view.host} did not run the command: ${row.state} · ${hostDescription(row)}\n`;
      return plainText(await loadHostOutputs(row, cap));
    }
    const { hosts, outputs } = await majority(run, cap);
    return hosts.length ? plainText(outputs.get(hosts[0]!)!) : '(no host produced output)\n';
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.subscription.dispose();
    this.changed.dispose();
  }
}

/**
 * Opens a run's output. A run document takes the place of the one shown before (runs do not pile up as
 * tabs; a pinned one stays); one host's output opens as a preview, replaced by the next row clicked.
 */
export async function showRunDocument(run: RunEntry, view: View = { view: 'run' }): Promise<void> {
  const uri = runOutputUri(run, view);
  const doc = await vscode.workspace.openTextDocument(uri);
  await vscode.window.showTextDocument(doc, { preview: view.view !== 'run' });
  if (view.view !== 'run') return;
  // Every other run-output tab goes, in any editor group — also this run's own document where it is open
  // in a group other than the one just shown.
  const isThis = (tab: vscode.Tab) => tab.input instanceof vscode.TabInputText && tab.input.uri.toString() === uri.toString();
  const shown = vscode.window.tabGroups.activeTabGroup.tabs.find(isThis);
  const older = vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((tab) => {
    if (tab === shown || (!shown && isThis(tab)) || tab.isPinned || tab.isDirty || !(tab.input instanceof vscode.TabInputText)) return false;
    const other = tab.input.uri;
    return other.scheme === RUN_OUTPUT_SCHEME && parseUri(other).view.view === 'run';
  });
  if (older.length) await vscode.window.tabGroups.close(older, true);
}
