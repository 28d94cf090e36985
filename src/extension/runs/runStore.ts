// The runs this window shows, newest first: the shared run store's records (runs of this window, of the
// CLI, of agents and tasks), kept current by watching the store. Changes are announced through one
// event; listeners debounce.
import * as vscode from 'vscode';
import { CappedBuffer } from '../../core/exec/output';
import type { JobEvent } from '../../core/jobs/job';
import { isFinal } from '../../core/jobs/outcome';
import type { RunDoc, RunStore as CoreRunStore } from '../../core/jobs/store';
import type { HostRow, RunEntry } from './runModel';
import { oneAtATime } from '../../core/rerun';

function rowOf(store: CoreRunStore, doc: RunDoc, h: RunDoc['hosts'][number], previous?: HostRow): HostRow {
  const row: HostRow = { host: h.host, state: h.state, files: store.outputFiles(doc.id, h.host), live: previous?.live };
  if (h.state === 'running') row.startedAt = Date.parse(h.startedAt);
  else if (isFinal(h.state)) row.result = h as HostRow['result'];
  return row;
}

export function entryFromDoc(store: CoreRunStore, doc: RunDoc, previous?: RunEntry): RunEntry {
  return {
    id: doc.id,
    command: doc.command,
    targets: doc.hosts.map((h) => h.host),
    targetKey: previous?.targetKey ?? doc.target,
    cwd: doc.cwd,
    timeoutMs: doc.timeoutMs,
    origin: doc.origin,
    startedBy: doc.startedBy,
    startedAt: doc.startedAt,
    finishedAt: doc.state === 'done' ? doc.finishedAt : undefined,
    placement: doc.placement,
    ownerDied: doc.ownerDied,
    rows: new Map(doc.hosts.map((h) => [h.host, rowOf(store, doc, h, previous?.rows.get(h.host))])),
    job: previous?.job,
    outputDir: store.dirOf(doc.id),
  };
}

export class RunStore implements vscode.Disposable {
  private runs: RunEntry[] = [];
  private readonly changed = new vscode.EventEmitter<RunEntry | undefined>();
  /** Fires with the run that changed, or undefined when the list itself changed. */
  readonly onDidChange = this.changed.event;
  damagedRecords: string[] = [];
  private readonly runWatchers = new Map<string, () => void>();
  private readonly reloadOnce = oneAtATime(() => this.readNewest());

  constructor(readonly core: CoreRunStore, private readonly limit: () => number) {}

  get all(): readonly RunEntry[] {
    return this.runs;
  }

  get(id: string): RunEntry | undefined {
    return this.runs.find((r) => r.id === id);
  }

  get latest(): RunEntry | undefined {
    return this.runs[0];
  }

  /** Runs not finished yet, of this window or of any other process. */
  get active(): RunEntry[] {
    return this.runs.filter((r) => !r.finishedAt);
  }

  /** Re-reads the newest runs from the store (one reload at a time; a request during one runs once after it). */
  reload(): Promise<void> {
    return this.reloadOnce();
  }

  private async readNewest(): Promise<void> {
    const { runs, damaged } = await this.core.list({ limit: this.limit() });
    this.damagedRecords = damaged;
    const known = new Map(this.runs.map((r) => [r.id, r]));
    // Runs of this window stay even when older than the limit.
    const mine = this.runs.filter((r) => r.job && !runs.some((d) => d.id === r.id));
    this.runs = [...runs.map((d) => (known.get(d.id)?.job ? known.get(d.id)! : entryFromDoc(this.core, d, known.get(d.id)))), ...mine]
      .sort((a, b) => b.startedAt.localeCompare(a.startedAt));
    this.watchLiveForeignRuns();
    this.changed.fire(undefined);
  }

  /** Follows new runs (and deleted ones) in the store. */
  watch(): vscode.Disposable {
    let timer: NodeJS.Timeout | undefined;
    const stop = this.core.watchRuns(() => {
      timer ??= setTimeout(() => { timer = undefined; void this.reload().catch(() => {}); }, 150);
    });
    return new vscode.Disposable(() => {
      if (timer) clearTimeout(timer);
      stop();
      for (const unwatch of this.runWatchers.values()) unwatch();
      this.runWatchers.clear();
    });
  }

  /** A running run of another process is re-read whenever its record changes. */
  private watchLiveForeignRuns(): void {
    for (const run of this.runs) {
      if (run.job || run.finishedAt || this.runWatchers.has(run.id)) continue;
      let timer: NodeJS.Timeout | undefined;
      const unwatch = this.core.watchRun(run.id, () => {
        timer ??= setTimeout(() => { timer = undefined; void this.refreshForeign(run.id); }, 100);
      });
      this.runWatchers.set(run.id, () => { if (timer) clearTimeout(timer); unwatch(); });
    }
  }

  private async refreshForeign(id: string): Promise<void> {
    const doc = await this.core.read(id).catch(() => undefined);
    const index = this.runs.findIndex((r) => r.id === id);
    if (!doc || index < 0 || this.runs[index]!.job) return;
    const entry = entryFromDoc(this.core, doc, this.runs[index]);
    this.runs[index] = entry;
    if (entry.finishedAt) {
      this.runWatchers.get(id)?.();
      this.runWatchers.delete(id);
    }
    this.changed.fire(entry);
  }

  /** A run this window started: shown at once, kept current from its job's events. */
  adopt(entry: RunEntry): void {
    this.runs = [entry, ...this.runs.filter((r) => r.id !== entry.id)];
    this.changed.fire(undefined);
  }

  /** Applies one job event to a run of this window. */
  apply(entry: RunEntry, e: JobEvent, capBytes: number): void {
    if (e.type === 'host-output') {
      const row = entry.rows.get(e.host);
      if (row) {
        row.live ??= { stdout: new CappedBuffer(capBytes), stderr: new CappedBuffer(capBytes) };
        row.live[e.stream].push(e.chunk);
      }
    } else {
      this.refreshOwn(entry);
    }
    this.changed.fire(entry);
  }

  /** Re-reads a run of this window from its job (the record it keeps in memory). */
  refreshOwn(entry: RunEntry): void {
    if (!entry.job) return;
    const fresh = entryFromDoc(this.core, entry.job.doc(), entry);
    Object.assign(entry, { ...fresh, targetKey: entry.targetKey, job: entry.job });
  }

  /** Cancels a run (or one host) wherever it runs: in this window directly, elsewhere through the store. */
  async cancel(run: RunEntry, host?: string): Promise<void> {
    if (run.job) run.job.cancel(host);
    else await this.core.requestCancel(run.id, host);
  }

  touch(run: RunEntry): void {
    this.changed.fire(run);
  }

  /** Deletes every finished run from the store. */
  async clearHistory(): Promise<void> {
    await this.core.clear();
    await this.reload();
  }

  dispose(): void {
    for (const unwatch of this.runWatchers.values()) unwatch();
    this.changed.dispose();
  }
}
