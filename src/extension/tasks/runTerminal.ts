// The terminal of a flotilla task (and of "Run on Least-Loaded Host…"): renders a core job (placement,
// optional push, the run) as it goes — the decision first, then the remote output (filtered: colours pass,
// OSC/title/clipboard sequences do not) — cancels it when closed or on Ctrl+C, and closes with the exit code.
import * as vscode from 'vscode';
import { sanitizeForView } from '../../core/exec/output';
import type { HostResult, RunOrigin } from '../../core/exec/run';
import type { Decision, PlaceOptions } from '../../core/balance/place';
import { startJob, type Job, type JobEvent } from '../../core/jobs/job';
import { outcomeDetail, shellExitCode } from '../../core/jobs/outcome';
import type { RunStore } from '../../core/jobs/store';
import type { Fleet } from '../fleet';
import type { Pool } from '../../core/ssh/pool';
import { crlf, TerminalFilter } from './terminalFilter';

export type Placement = 'least-loaded' | 'all';

export interface BalanceDeps {
  fleet: Fleet;
  pool: Pool;
  /** The shared run store (records, output files, the herd of recent placements). */
  store: RunStore;
  herdDecayMs(): number;
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

/** The exit code a task reports: the first host that was not ok, as a shell would say it. */
export function recordExitCode(results: readonly HostResult[]): number {
  for (const r of results) {
    const code = shellExitCode(r);
    if (code !== 0) return code;
  }
  return 0;
}

function describe(r: HostResult): string {
  const detail = outcomeDetail(r);
  return `${r.state}${detail ? ` (${detail})` : ''} after ${(r.durationMs / 1000).toFixed(1)} s`;
}

export class RunTerminal implements vscode.Pseudoterminal {
  private readonly writeEmitter = new vscode.EventEmitter<string>();
  private readonly closeEmitter = new vscode.EventEmitter<number>();
  readonly onDidWrite = this.writeEmitter.event;
  readonly onDidClose = this.closeEmitter.event;

  private started?: Job;
  private cancelled = false;
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
    this.cancelled = true;
    this.started?.cancel();
  }

  handleInput(data: string): void {
    if (data.includes('\x03') && !this.finished) {
      this.print(`${YELLOW}^C — cancelling; the remote process group is being stopped…${RESET}\n`);
      this.cancelled = true;
      this.started?.cancel();
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
    if (job.pushFrom && !job.cwd) throw new Error('"push": true needs "cwd": the remote folder the workspace is pushed to (e.g. "~/src/app")');
    this.print(`${DIM}$ ${job.command}${job.cwd ? `   (in ${job.cwd})` : ''}${RESET}\n`);
    const leastLoaded = job.placement === 'least-loaded';
    if (leastLoaded && !job.decision) this.print(`${DIM}Measuring ${job.hosts.length} host${job.hosts.length === 1 ? '' : 's'} of ${job.target}…${RESET}\n`);
    if (!leastLoaded) this.print(`${DIM}Running on ${job.hosts.length} host${job.hosts.length === 1 ? '' : 's'}: ${job.hosts.join(', ')}${RESET}\n`);

    const output = new OutputPrinter((text) => this.raw(text), !leastLoaded && job.hosts.length > 1);
    const started = await startJob(
      { store: this.deps.store, pool: this.deps.pool, connectTimeoutMs: fleet.settings.connectTimeoutSeconds * 1000, metrics: fleet.health.metrics, check: (alias) => fleet.checkHost(alias), observe: (h) => fleet.health.observe(h) },
      {
        target: job.target,
        hosts: job.hosts,
        command: job.command,
        cwd: job.cwd,
        timeoutMs: job.timeoutMs,
        origin: job.origin,
        pushFirst: job.pushFrom,
        leastLoaded: leastLoaded ? { options: this.deps.placeOptions(), herd: { decayMs: this.deps.herdDecayMs() }, decision: job.decision, chosen: job.chosen } : undefined,
      },
      { on: (e) => this.onEvent(e, output) },
    );
    this.started = started;
    if (this.cancelled) started.cancel();
    const { doc, results } = await started.done;
    output.end();
    if (leastLoaded && !doc.placement?.chosen) {
      this.print(`${RED}No host of ${job.target} can take this run; nothing was started.${RESET}\n`);
      return 3;
    }
    this.print('\n');
    for (const r of results) {
      const colour = r.state === 'ok' ? GREEN : r.state === 'failed' || r.state === 'killed' ? RED : YELLOW;
      this.print(`${colour}${r.host}: ${describe(r)}${RESET}\n`);
    }
    this.print(`${DIM}run ${doc.id} — in the Runs view${RESET}\n`);
    this.deps.log?.info(`task run ${doc.id}: ${results.map((r) => `${r.host} ${r.state}`).join(', ')}`);
    return recordExitCode(results);
  }

  private onEvent(e: JobEvent, output: OutputPrinter): void {
    const job = this.job;
    if (e.type === 'placed') {
      this.print(`${sanitizeForView(e.placement.explanation)}\n\n`);
      const chosen = e.placement.chosen;
      if (!chosen) return;
      if (job.chosen && job.chosen !== e.decision.chosen) this.print(`${YELLOW}Running on ${chosen} (your choice) instead of ${e.decision.chosen ?? 'none'}.${RESET}\n`);
      this.print(`${BOLD}placed on ${chosen}${RESET}\n`);
    } else if (e.type === 'phase' && e.phase === 'pushing') {
      this.print(`${DIM}Pushing ${sanitizeForView(e.detail ?? '')}…${RESET}\n`);
    } else if (e.type === 'host-output') {
      output.push(e.host, e.stream, e.chunk);
    }
  }
}

/** Remote output for the terminal: filtered per host and stream; with several hosts every line is prefixed. */
class OutputPrinter {
  private readonly filters = new Map<string, TerminalFilter>();
  private readonly lineStart = new Map<string, boolean>();
  constructor(private readonly write: (text: string) => void, private readonly multi: boolean) {}

  push(host: string, stream: string, chunk: Buffer): void {
    const key = `${host}\0${stream}`;
    let f = this.filters.get(key);
    if (!f) this.filters.set(key, (f = new TerminalFilter()));
    const text = f.push(chunk);
    if (!this.multi) return this.write(text);
    let out = '';
    let start = this.lineStart.get(key) ?? true;
    for (const part of text.split(/(?<=\n)/)) {
      if (!part) continue;
      if (start) out += `${DIM}[${host}]${RESET} `;
      out += part;
      start = part.endsWith('\n');
    }
    this.lineStart.set(key, start);
    this.write(out);
  }

  end(): void {
    for (const f of this.filters.values()) this.write(f.end());
  }
}
