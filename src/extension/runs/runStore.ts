// The runs this window knows about: live ones and the recent history (JSONL in global storage), newest
// first. Changes are announced through one event; listeners debounce.
import * as vscode from 'vscode';
import { readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { mkdirSync, watch } from 'node:fs';
import { appendRun, HISTORY_FILE, readHistory, type StoredRun } from '../../core/exec/history';
import type { RunRecord } from '../../core/exec/run';
import type { RunEntry } from './runModel';

export function entryFromStored(run: StoredRun, outputDir?: string): RunEntry {
  return {
    id: run.id,
    command: run.command,
    targets: [...run.targets],
    cwd: run.cwd,
    timeoutMs: run.timeoutMs,
    origin: run.origin,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    outputDir,
    rows: new Map(run.results.map((r) => [r.host, { host: r.host, state: r.state, result: r }])),
  };
}

export class RunStore implements vscode.Disposable {
  private readonly runs: RunEntry[] = [];
  private readonly changed = new vscode.EventEmitter<RunEntry | undefined>();
  /** Fires with the run that changed, or undefined when the list itself changed. */
  readonly onDidChange = this.changed.event;
  damagedHistoryLines: number[] = [];

  constructor(readonly historyDir: string, private readonly outputDirOf: (id: string) => string) {}

  get all(): readonly RunEntry[] {
    return this.runs;
  }

  get(id: string): RunEntry | undefined {
    return this.runs.find((r) => r.id === id);
  }

  get latest(): RunEntry | undefined {
    return this.runs[0];
  }

  get active(): RunEntry[] {
    return this.runs.filter((r) => r.controller && !r.finishedAt);
  }

  async loadHistory(limit: number): Promise<void> {
    const { runs, damagedLines } = await readHistory(this.historyDir, limit);
    this.damagedHistoryLines = damagedLines;
    const known = new Set(this.runs.map((r) => r.id));
    for (const stored of runs) if (!known.has(stored.id)) this.runs.push(entryFromStored(stored, this.outputDirOf(stored.id)));
    this.runs.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
    this.changed.fire(undefined);
  }

  /**
   * Picks up runs appended by others (tasks, least-loaded runs) by watching the history folder;
   * debounced, since every run appends one line.
   */
  watchHistory(limit: () => number): vscode.Disposable {
    mkdirSync(this.historyDir, { recursive: true });
    let timer: NodeJS.Timeout | undefined;
    const watcher = watch(this.historyDir, (_event, name) => {
      if (name !== HISTORY_FILE) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => void this.loadHistory(limit()).catch(() => {}), 200);
    });
    watcher.on('error', () => {});
    return new vscode.Disposable(() => { if (timer) clearTimeout(timer); watcher.close(); });
  }

  add(run: RunEntry): void {
    this.runs.unshift(run);
    this.changed.fire(undefined);
  }

  touch(run: RunEntry): void {
    this.changed.fire(run);
  }

  async record(record: RunRecord): Promise<void> {
    await appendRun(this.historyDir, record);
  }

  /** Forgets finished runs and deletes the history file and every stored output except live runs'. */
  async clearHistory(): Promise<void> {
    const finished = this.runs.filter((r) => r.finishedAt);
    for (const r of finished) this.runs.splice(this.runs.indexOf(r), 1);
    await rm(join(this.historyDir, HISTORY_FILE), { force: true });
    const live = new Set(this.runs.map((r) => r.id));
    const runsDir = dirname(this.outputDirOf('x'));
    const ids = await readdir(runsDir).catch(() => [] as string[]);
    await Promise.all(ids.filter((id) => !live.has(id)).map((id) => rm(join(runsDir, id), { recursive: true, force: true })));
    this.changed.fire(undefined);
  }

  dispose(): void {
    this.changed.dispose();
  }
}
