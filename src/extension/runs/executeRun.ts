// Starts a run from the extension: the core's startRun with output files under global storage, events
// turned into row updates, a cancellable progress notification, an allow-listed log line, and the
// record appended to the history when every host has an outcome.
import * as vscode from 'vscode';
import { runOutputDir } from '../../core/exec/history';
import { newRunId, startRun, type RunEvent } from '../../core/exec/run';
import type { Fleet } from '../fleet';
import { CappedBuffer } from '../../core/exec/output';
import { doneCount, formatDuration, notOkHosts, oneLine, runDurationMs, stateCounts, type RunEntry } from './runModel';
import { showRunDocument, viewCapBytes } from './runOutput';
import type { RunStore } from './runStore';

/** What starts a run: the fields of a run entry the user chooses. */
export type RunRequest = Pick<RunEntry, 'command' | 'targets' | 'targetKey' | 'cwd' | 'timeoutMs' | 'origin'>;

export function defaultTimeoutMs(): number {
  const s = vscode.workspace.getConfiguration('flotilla').get<number>('run.timeoutSeconds', 300);
  return Math.max(1, s) * 1000;
}

function traceOn(): boolean {
  return vscode.workspace.getConfiguration('flotilla').get<boolean>('trace', false);
}

function applyEvent(run: RunEntry, e: RunEvent, capBytes: number): void {
  const host = e.type === 'host-done' ? e.result.host : e.host;
  const row = run.rows.get(host);
  if (!row) return;
  if (e.type === 'host-start') {
    row.state = 'running';
    row.startedAt = Date.now();
  } else if (e.type === 'host-output') {
    row.live ??= { stdout: new CappedBuffer(capBytes), stderr: new CappedBuffer(capBytes) };
    row.live[e.stream].push(e.chunk);
  } else {
    const { stdout: _o, stderr: _e, ...stored } = e.result;
    row.state = e.result.state;
    row.result = stored;
  }
}

export class RunLauncher {
  constructor(
    private readonly fleet: Fleet,
    private readonly store: RunStore,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** Runs the command and resolves when every host has an outcome (or at once if there are no targets). */
  async launch(req: RunRequest): Promise<RunEntry | undefined> {
    if (!req.targets.length) {
      void vscode.window.showWarningMessage('Flotilla: no hosts to run on.');
      return undefined;
    }
    const id = newRunId();
    const capBytes = viewCapBytes();
    const outputDir = runOutputDir(this.store.historyDir, id);
    const run: RunEntry = {
      id,
      command: req.command,
      targets: req.targets,
      targetKey: req.targetKey,
      cwd: req.cwd,
      timeoutMs: req.timeoutMs,
      origin: req.origin,
      startedAt: new Date().toISOString(),
      outputDir,
      rows: new Map(req.targets.map((host) => [host, { host, state: 'pending' as const }])),
    };
    const controller = startRun(
      req.targets,
      { command: req.command, cwd: req.cwd, timeoutMs: req.timeoutMs, outputDir, outputCapBytes: capBytes, origin: req.origin },
      this.fleet.pool,
      (e) => {
        applyEvent(run, e, capBytes);
        this.store.touch(run);
      },
      id,
    );
    run.controller = controller;
    this.store.add(run);
    this.log.info(`run ${id} started: ${req.targets.length} target(s), origin ${req.origin}, timeout ${Math.round(req.timeoutMs / 1000)} s`);
    if (traceOn()) this.log.trace(`run ${id} command: ${req.command}${req.cwd ? ` (in ${req.cwd})` : ''}`);
    await this.setActiveContext();

    const label = oneLine(req.command, 50);
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Flotilla: ${label}`, cancellable: true },
      async (progress, token) => {
        token.onCancellationRequested(() => controller.cancel());
        let reported = 0;
        const total = run.rows.size;
        progress.report({ message: `0/${total} hosts done` });
        const sub = this.store.onDidChange((changed) => {
          if (changed !== run) return;
          const done = doneCount(run);
          if (done === reported) return;
          progress.report({ message: `${done}/${total} hosts done`, increment: ((done - reported) / total) * 100 });
          reported = done;
        });
        try {
          const record = await controller.done;
          run.finishedAt = record.finishedAt;
          for (const r of record.results) applyEvent(run, { type: 'host-done', result: r }, capBytes);
          await this.store.record(record).catch((err) => this.log.error(`run ${id}: cannot write the history: ${String(err)}`));
        } finally {
          sub.dispose();
        }
      },
    );
    this.store.touch(run);
    await this.setActiveContext();
    this.log.info(`run ${id} finished in ${formatDuration(runDurationMs(run))}: ${stateCounts(run)}`);
    void this.announce(run);
    return run;
  }

  private async setActiveContext(): Promise<void> {
    await vscode.commands.executeCommand('setContext', 'flotilla.runActive', this.store.active.length > 0);
  }

  private async announce(run: RunEntry): Promise<void> {
    const text = `Flotilla: ${oneLine(run.command, 50)} — ${stateCounts(run)}`;
    const failed = notOkHosts(run);
    const SHOW = 'Show Output';
    const RERUN = 'Re-run on Failed Hosts';
    const choice = failed.length
      ? await vscode.window.showWarningMessage(text, SHOW, RERUN)
      : await vscode.window.showInformationMessage(text, SHOW);
    if (choice === SHOW) await showRunDocument(run);
    if (choice === RERUN) await vscode.commands.executeCommand('flotilla.rerunFailed', { kind: 'run', runId: run.id });
  }
}
