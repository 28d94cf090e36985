// The terminal of a flotilla task (and of "Run on Least-Loaded Host…"): prints the placement decision,
// optionally pushes the workspace, streams the remote output (filtered: colours pass, OSC/title/clipboard
// sequences do not), cancels the remote process when closed or on Ctrl+C, and closes with the exit code.
import * as vscode from 'vscode';
import { constants as osConstants } from 'node:os';
import { appendRun, runOutputDir } from '../../core/exec/history';
import { sanitizeForView } from '../../core/exec/output';
import { newRunId, startRun, type HostResult, type RunController, type RunOrigin, type RunRecord } from '../../core/exec/run';
import { measureCandidates, placeHost, type Decision, type PlaceOptions } from '../../core/balance/place';
import { push } from '../../core/push/push';
import type { HerdGuard } from '../../core/balance/place';
import type { Fleet } from '../fleet';
import { crlf, TerminalFilter } from './terminalFilter';

export type Placement = 'least-loaded' | 'all';

export interface BalanceDeps {
  fleet: Fleet;
  /** Where run history (JSONL) and output files go: the extension's global storage. */
  historyDir: string;
  herd(): HerdGuard;
  placeOptions(): Omit<PlaceOptions, 'herd' | 'now'>;
  log?: vscode.LogOutputChannel;
}

export interface RunJob {
  /** As the user wrote it (shown in messages). */
  target: string;
  hosts: readonly string[];
  placement: Placement;
  command: string;
  cwd?: string;
  /** Local folder to push to `cwd` on the host(s) first. */
  pushFrom?: string;
  timeoutMs: number;
  origin: RunOrigin;
  /** A decision already made (the palette command shows it before running); skips placement. */
  decision?: Decision;
  /** The host to run on when the user picked one other than the decision's choice. */
  chosen?: string;
}

const DIM = '\x1b[2m', BOLD = '\x1b[1m', RED = '\x1b[31m', GREEN = '\x1b[32m', YELLOW = '\x1b[33m', RESET = '\x1b[0m';

/** The exit code a task reports for one host's outcome (shell conventions). */
export function exitCodeOf(r: HostResult): number {
  switch (r.state) {
    case 'ok': return 0;
    case 'failed': return r.exit ?? 1;
    case 'killed': {
      const n = (osConstants.signals as Record<string, number>)[`SIG${r.signal ?? ''}`];
      return n ? 128 + n : 137;
    }
    case 'cancelled': return 130;
    case 'timeout': return 124;
    default: return 255; // unreachable, auth-failed, hostkey-rejected, lost: like ssh
  }
}

export function recordExitCode(record: RunRecord): number {
  for (const r of record.results) {
    const code = exitCodeOf(r);
    if (code !== 0) return code;
  }
  return 0;
}

function describe(r: HostResult): string {
  const detail = r.state === 'failed' ? `exit ${r.exit}` : r.state === 'killed' ? `signal ${r.signal}` : r.reason ?? '';
  const stopped = r.remoteStopped === undefined ? '' : r.remoteStopped ? ', remote process stopped' : ', remote process may still run';
  return `${r.state}${detail ? ` (${detail}${stopped})` : stopped ? ` (${stopped.slice(2)})` : ''} after ${(r.durationMs / 1000).toFixed(1)} s`;
}

export class RunTerminal implements vscode.Pseudoterminal {
  private readonly writeEmitter = new vscode.EventEmitter<string>();
  private readonly closeEmitter = new vscode.EventEmitter<number>();
  readonly onDidWrite = this.writeEmitter.event;
  readonly onDidClose = this.closeEmitter.event;

  private controller?: RunController;
  private readonly abort = new AbortController();
  private closed = false;
  private finished = false;

  constructor(private readonly deps: BalanceDeps, private readonly job: RunJob) {}

  open(): void {
    void this.start().then(
      (code) => this.finish(code),
      (err: unknown) => {
        this.print(`${RED}Flotilla: ${err instanceof Error ? err.message : String(err)}${RESET}\n`);
        this.finish(1);
      },
    );
  }

  /** The terminal was closed or the task terminated: stop the remote command (or the placement). */
  close(): void {
    this.closed = true;
    this.abort.abort();
    this.controller?.cancel();
  }

  handleInput(data: string): void {
    if (data.includes('\x03') && !this.finished) {
      this.print(`${YELLOW}^C — cancelling; the remote process group is being stopped…${RESET}\n`);
      this.abort.abort();
      this.controller?.cancel();
    }
  }

  private print(text: string): void {
    if (!this.closed) this.writeEmitter.fire(crlf(text));
  }

  private raw(text: string): void {
    if (!this.closed && text) this.writeEmitter.fire(text);
  }

  private finish(code: number): void {
    if (this.finished) return;
    this.finished = true;
    if (!this.closed) this.closeEmitter.fire(code);
  }

  private async start(): Promise<number> {
    const { fleet } = this.deps;
    const job = this.job;
    if (!vscode.workspace.isTrusted) throw new Error('this workspace is not trusted: flotilla tasks run nothing in Restricted Mode');
    if (!job.hosts.length) throw new Error(`target ${JSON.stringify(job.target)} has no hosts`);
    this.print(`${DIM}$ ${job.command}${job.cwd ? `   (in ${job.cwd})` : ''}${RESET}\n`);

    let hosts: string[];
    if (job.placement === 'least-loaded') {
      let decision = job.decision;
      if (!decision) {
        this.print(`${DIM}Measuring ${job.hosts.length} host${job.hosts.length === 1 ? '' : 's'} of ${job.target}…${RESET}\n`);
        const candidates = await measureCandidates(fleet.pool, job.hosts, {
          metrics: fleet.metrics,
          connectTimeoutMs: fleet.settings.connectTimeoutSeconds * 1000,
          diskPath: job.cwd,
          check: (alias) => fleet.checkHost(alias),
        });
        if (this.abort.signal.aborted) return 130;
        decision = placeHost(candidates, { ...this.deps.placeOptions(), herd: this.deps.herd() });
      }
      this.print(`${sanitizeForView(decision.explanation)}\n\n`);
      const chosen = job.chosen ?? decision.chosen;
      if (!chosen) {
        this.print(`${RED}No host of ${job.target} can take this run; nothing was started.${RESET}\n`);
        return 3;
      }
      if (job.chosen && job.chosen !== decision.chosen) this.print(`${YELLOW}Running on ${chosen} (your choice) instead of ${decision.chosen ?? 'none'}.${RESET}\n`);
      this.print(`${BOLD}placed on ${chosen}${RESET}\n`);
      hosts = [chosen];
    } else {
      hosts = [...job.hosts];
      this.print(`${DIM}Running on ${hosts.length} host${hosts.length === 1 ? '' : 's'}: ${hosts.join(', ')}${RESET}\n`);
    }

    if (job.pushFrom) {
      if (!job.cwd) throw new Error('"push": true needs "cwd": the remote folder the workspace is pushed to (e.g. "~/src/app")');
      this.print(`${DIM}Pushing ${job.pushFrom} to ${job.cwd} on ${hosts.join(', ')}…${RESET}\n`);
      const pushed = await push(fleet.pool, hosts, job.pushFrom, job.cwd, { signal: this.abort.signal });
      const bad = (pushed.results ?? []).filter((r) => r.state !== 'ok');
      if (this.abort.signal.aborted) return 130;
      if (bad.length) {
        for (const r of bad) this.print(`${RED}push to ${r.host}: ${r.state}${r.reason ? ` (${r.reason})` : ''}${RESET}\n`);
        return 1;
      }
      const bytes = (pushed.results ?? []).reduce((s, r) => s + r.bytes, 0);
      this.print(`${DIM}Pushed (${bytes} bytes sent).${RESET}\n`);
    }
    if (this.abort.signal.aborted) return 130;

    const id = newRunId();
    const multi = hosts.length > 1;
    const filters = new Map<string, TerminalFilter>();
    const lineStart = new Map<string, boolean>();
    const controller = startRun(
      hosts,
      { command: job.command, cwd: job.cwd, timeoutMs: job.timeoutMs, origin: job.origin, outputDir: runOutputDir(this.deps.historyDir, id) },
      fleet.pool,
      (e) => {
        if (e.type !== 'host-output') return;
        const key = `${e.host}\0${e.stream}`;
        let f = filters.get(key);
        if (!f) filters.set(key, (f = new TerminalFilter()));
        const text = f.push(e.chunk);
        if (!multi) return this.raw(text);
        // Several hosts: prefix every line with its host.
        let out = '';
        let start = lineStart.get(key) ?? true;
        for (const part of text.split(/(?<=\n)/)) {
          if (!part) continue;
          if (start) out += `${DIM}[${e.host}]${RESET} `;
          out += part;
          start = part.endsWith('\n');
        }
        lineStart.set(key, start);
        this.raw(out);
      },
      id,
    );
    this.controller = controller;
    if (this.abort.signal.aborted) controller.cancel();
    const record = await controller.done;
    for (const f of filters.values()) this.raw(f.end());
    await appendRun(this.deps.historyDir, record).catch((err) => this.deps.log?.error(`run ${id}: cannot write the history: ${String(err)}`));
    this.print('\n');
    for (const r of record.results) {
      const colour = r.state === 'ok' ? GREEN : r.state === 'failed' || r.state === 'killed' ? RED : YELLOW;
      this.print(`${colour}${r.host}: ${describe(r)}${RESET}\n`);
    }
    this.print(`${DIM}run ${record.id} — in the Runs history${RESET}\n`);
    this.deps.log?.info(`task run ${record.id}: ${record.results.map((r) => `${r.host} ${r.state}`).join(', ')}`);
    return recordExitCode(record);
  }
}
