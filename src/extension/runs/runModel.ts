// What the Runs view and the output document show about one run, live or from the history. Pure data
// and formatting: no `vscode` here, so it can be tested without a workbench.
import type { RunOrigin } from '../../core/exec/run';
import { compareHostNames, type CappedBuffer } from '../../core/exec/output';
import { oneLine } from '../../core/text';
import type { Job } from '../../core/jobs/job';
import { stateSummary, type LiveState } from '../../core/jobs/outcome';
import type { HostEntry, Placement } from '../../core/jobs/store';

/** A host's row state: not started yet, running, or one of the core's final outcomes. */
export type RowState = LiveState;

/** A final host outcome as recorded in the run store (the output heads live in files). */
export type StoredResult = Exclude<HostEntry, { state: 'pending' | 'running' }>;

export interface HostRow {
  host: string;
  state: RowState;
  startedAt?: number;
  result?: StoredResult;
  /** Only while the run is live in this window: what arrived so far (capped). */
  live?: { stdout: CappedBuffer; stderr: CappedBuffer };
  /** Where the full output is written (also while a run of another process is going). */
  files?: { stdout: string; stderr: string };
}

export interface RunEntry {
  id: string;
  command: string;
  targets: string[];
  /** How the targets were chosen, e.g. `group:web`, `all`, `lab-1,lab-2`: the key for remembered options. */
  targetKey?: string;
  cwd?: string;
  timeoutMs: number;
  origin: RunOrigin;
  /** user@machine that started it. */
  startedBy?: string;
  startedAt: string;
  finishedAt?: string;
  /** Why a least-loaded run went where it did. */
  placement?: Placement;
  /** The process that ran it ended before it finished. */
  ownerDied?: boolean;
  rows: Map<string, HostRow>;
  /** Present while the run is in progress in this window (runs of other processes have none). */
  job?: Job;
  outputDir?: string;
}

export function isRunning(run: RunEntry): boolean {
  return run.finishedAt === undefined;
}

export function doneCount(run: RunEntry): number {
  let n = 0;
  for (const row of run.rows.values()) if (row.state !== 'pending' && row.state !== 'running') n++;
  return n;
}

export function sortedRows(run: RunEntry): HostRow[] {
  return [...run.rows.values()].sort((a, b) => compareHostNames(a.host, b.host));
}

/** Hosts whose outcome was anything but ok (what "Re-run on Failed Hosts" targets). */
export function notOkHosts(run: RunEntry): string[] {
  return sortedRows(run).filter((r) => r.state !== 'ok').map((r) => r.host);
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 120) return `${Math.round(s)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

/** `3 ok · 1 failed · 1 unreachable`: one count per state present, in a fixed order. */
export function stateCounts(run: RunEntry): string {
  return stateSummary([...run.rows.values()].map((r) => r.state));
}

export function runDurationMs(run: RunEntry, now = Date.now()): number {
  const end = run.finishedAt ? Date.parse(run.finishedAt) : now;
  return Math.max(0, end - Date.parse(run.startedAt));
}

/** Tree description of a run: `3 ok · 1 failed · 12 s · 14:03`, or progress while it runs. */
export function runDescription(run: RunEntry, now = Date.now()): string {
  const at = new Date(run.startedAt);
  const time = sameDay(at, new Date(now))
    ? at.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })
    : at.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  if (isRunning(run)) return `${doneCount(run)}/${run.rows.size} done · running · ${time}`;
  return `${stateCounts(run)} · ${formatDuration(runDurationMs(run, now))} · ${time}`;
}

function sameDay(a: Date, b: Date): boolean {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

/** Tree description of a host: `exit 2 · 340 ms`, or why it has no exit status. */
export function hostDescription(row: HostRow, now = Date.now()): string {
  const r = row.result;
  if (row.state === 'pending') return 'queued';
  if (row.state === 'running') return `running · ${formatDuration(now - (row.startedAt ?? now))}`;
  if (!r) return row.state;
  const took = formatDuration(r.durationMs);
  const reason = r.reason ? oneLine(r.reason, 120) : undefined;
  switch (r.state) {
    case 'ok':
    case 'failed':
      return `exit ${r.exit ?? '?'} · ${took}`;
    case 'killed':
      return `killed by SIG${r.signal ?? '?'} · ${took}`;
    case 'timeout':
    case 'cancelled':
    case 'lost': {
      const remote = r.remoteStopped === true ? 'remote stopped' : r.remoteStopped === false ? 'remote may still run' : undefined;
      return [r.state === 'timeout' ? `timed out after ${took}` : `${r.state} · ${took}`, remote].filter(Boolean).join(' · ');
    }
    default:
      return reason ?? r.state;
  }
}

