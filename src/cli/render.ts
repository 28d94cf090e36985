// How runs look on a terminal and in --json: one place for the run/status/history verbs.
import { coalesce, prefixLines, sanitizeForView, viewLine } from '../core/exec/output';
import type { HostResult } from '../core/exec/run';
import { outcomeDetail, stateSummary, type HostOutcome } from '../core/jobs/outcome';
import type { HostEntry, RunDoc } from '../core/jobs/store';

export const oneLine = viewLine;

export function catHint(id: string, host: string): string {
  return `flotilla cat ${id} ${/^[A-Za-z0-9._@:-]+$/.test(host) ? host : JSON.stringify(host)}`;
}

/** The `--json` shape of one host, promised to scripts and agents. */
export function hostJson(id: string, h: HostEntry | HostResult) {
  const r = h as HostEntry & Partial<Pick<HostResult, 'stdout' | 'stderr'>>;
  return {
    host: r.host,
    state: r.state,
    exit: r.exit ?? null,
    signal: r.signal ?? null,
    durationMs: r.durationMs ?? null,
    ...(r.state === 'running' ? { startedAt: r.startedAt } : {}),
    ...(r.stdout !== undefined ? { stdout: r.stdout, stderr: r.stderr } : {}),
    stdoutBytes: r.stdoutBytes ?? 0,
    stderrBytes: r.stderrBytes ?? 0,
    truncated: r.truncated ?? false,
    ...(r.stdoutFile ? { stdoutFile: r.stdoutFile, stderrFile: r.stderrFile } : {}),
    ...(r.truncated ? { fullOutput: catHint(id, r.host) } : {}),
    ...(r.reason ? { reason: r.reason } : {}),
    ...(r.remoteStopped !== undefined ? { remoteStopped: r.remoteStopped } : {}),
  };
}

/** The `--json` shape of a run (status, history, the end of `run`). */
export function runJson(doc: RunDoc, results?: readonly HostResult[]) {
  const byHost = new Map(results?.map((r) => [r.host, r]));
  return {
    id: doc.id,
    state: doc.state,
    ...(doc.phase ? { phase: doc.phase } : {}),
    kind: doc.kind,
    origin: doc.origin,
    startedBy: doc.startedBy,
    startedAt: doc.startedAt,
    finishedAt: doc.finishedAt ?? null,
    durationMs: doc.finishedAt ? Date.parse(doc.finishedAt) - Date.parse(doc.startedAt) : null,
    target: doc.target ?? null,
    command: doc.command,
    ...(doc.argv ? { argv: doc.argv } : {}),
    ...(doc.cwd ? { cwd: doc.cwd } : {}),
    timeoutMs: doc.timeoutMs,
    ...(doc.files ? { files: doc.files, keepFiles: !!doc.keepFiles } : {}),
    ...(doc.placement ? { placement: doc.placement } : {}),
    ...(doc.ownerDied ? { ownerDied: true } : {}),
    hosts: doc.hosts.map((h) => hostJson(doc.id, byHost.get(h.host) ?? h)),
  };
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms - m * 60_000) / 1000)} s`;
}

function hostLine(h: HostEntry, width: number, now: number): string {
  const name = `${oneLine(h.host)}:`.padEnd(width + 1);
  if (h.state === 'pending') return `${name} pending`;
  if (h.state === 'running') return `${name} running ${formatMs(now - Date.parse(h.startedAt))}`;
  const detail = outcomeDetail(h as HostOutcome);
  return `${name} ${h.state}${detail ? ` (${oneLine(detail)})` : ''} ${formatMs(h.durationMs)}`;
}

/** Per-host status lines and a summary: never starting with `[`, so no remote text can pass for them. */
export function statusLines(doc: RunDoc, now = Date.now()): string {
  const width = Math.max(4, ...doc.hosts.map((h) => oneLine(h.host).length));
  const lines = doc.hosts.map((h) => hostLine(h, width, now));
  const took = formatMs((doc.finishedAt ? Date.parse(doc.finishedAt) : now) - Date.parse(doc.startedAt));
  const summary = doc.hosts.length ? stateSummary(doc.hosts.map((h) => h.state), ', ') : 'no host';
  lines.push(`${doc.hosts.length} host${doc.hosts.length === 1 ? '' : 's'}: ${summary} · ${doc.state === 'running' ? `${doc.phase ?? 'running'} for` : 'took'} ${took} · run ${doc.id}`);
  if (doc.ownerDied) lines.push('the process that ran it ended before it finished (killed?): hosts without an outcome are lost');
  return lines.join('\n') + '\n';
}

/**
 * Human output of a finished run. Every line of remote text starts with `[host] ` (dshbak-style groups
 * get a `== ... ==` header and `[first-host +N] ` prefixes); the notice for a capped output names the
 * command that prints all of it.
 */
export function humanRun(doc: RunDoc, results: readonly HostResult[]): string {
  let text = '';
  const outputs = results.filter((r) => r.stdout || r.stderr).map((r) => ({ host: r.host, text: sanitizeForView(r.stdout + r.stderr) }));
  for (const group of coalesce(outputs)) {
    const hosts = group.hosts.map(oneLine);
    const label = hosts.length === 1 ? hosts[0]! : `${hosts[0]} +${hosts.length - 1}`;
    text += `== ${hosts.join(',')} (${hosts.length} host${hosts.length === 1 ? '' : 's'}) ==\n`;
    text += prefixLines(label, group.text);
  }
  for (const r of results.filter((x) => x.truncated)) {
    text += `output of ${oneLine(r.host)} cut at the in-memory cap (${r.stdoutBytes + r.stderrBytes} bytes in all): ${catHint(doc.id, r.host)}\n`;
  }
  return text + statusLines(doc);
}

export function historyLine(doc: RunDoc, now = Date.now()): string {
  const took = formatMs((doc.finishedAt ? Date.parse(doc.finishedAt) : now) - Date.parse(doc.startedAt));
  const states = doc.hosts.length ? stateSummary(doc.hosts.map((h) => h.state), ', ') : doc.state === 'running' ? doc.phase ?? 'running' : 'no host';
  const owner = doc.ownerDied ? ' (owner died)' : '';
  return `${doc.id}  ${doc.startedAt.replace(/\.\d+Z$/, 'Z')}  ${took.padStart(8)}  ${doc.state}${owner}  [${doc.origin} ${oneLine(doc.startedBy)}]  ${oneLine(doc.command).slice(0, 80)}  →  ${states}\n`;
}
