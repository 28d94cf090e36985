// Starts a run from the extension through the core job layer: the record (in the shared run store) and
// output files are the job's; this adds row updates, a cancellable progress notification and an
// allow-listed log line.
import * as vscode from 'vscode';
import { withProgressToast } from '../progress';
import { startJob } from '../../core/jobs/job';
import type { Fleet } from '../fleet';
import type { Pool } from '../../core/ssh/pool';
import { doneCount, formatDuration, notOkHosts, runDurationMs, stateCounts, type RunEntry } from './runModel';
import { oneLine } from '../../core/text';
import { showRunDocument, viewCapBytes } from './runOutput';
import { entryFromDoc, type RunStore } from './runStore';

/** What starts a run: the fields of a run entry the user chooses. */
export type RunRequest = Pick<RunEntry, 'command' | 'targets' | 'targetKey' | 'cwd' | 'timeoutMs'>;

export function defaultTimeoutMs(): number {
  const s = vscode.workspace.getConfiguration('flotilla').get<number>('run.timeoutSeconds', 300);
  return Math.max(1, s) * 1000;
}

function traceOn(): boolean {
  return vscode.workspace.getConfiguration('flotilla').get<boolean>('trace', false);
}

export class RunLauncher {
  constructor(
    private readonly fleet: Fleet,
    private readonly pool: Pool,
    private readonly store: RunStore,
    private readonly log: vscode.LogOutputChannel,
    /** Brings the run's row into sight (the Runs view may be collapsed or in a hidden container). */
    private readonly reveal: (run: RunEntry) => void = () => {},
  ) {}

  /** Runs the command and resolves when every host has an outcome (or at once if there are no targets). */
  async launch(req: RunRequest): Promise<RunEntry | undefined> {
    if (!req.targets.length) {
      void vscode.window.showWarningMessage('Flotilla: no hosts to run on.');
      return undefined;
    }
    const capBytes = viewCapBytes();
    let run: RunEntry | undefined;
    const job = await startJob(
      { store: this.store.core, pool: this.pool, connectTimeoutMs: this.fleet.settings.connectTimeoutSeconds * 1000, metrics: this.fleet.health.metrics, observe: (h) => this.fleet.health.observe(h) },
      { target: req.targetKey, hosts: req.targets, command: req.command, cwd: req.cwd, timeoutMs: req.timeoutMs, origin: 'extension', outputCapBytes: capBytes },
      { on: (e) => { if (run) this.store.apply(run, e, capBytes); } },
    );
    run = { ...entryFromDoc(this.store.core, job.doc()), targetKey: req.targetKey, job };
    this.store.adopt(run);
    this.reveal(run);
    const id = job.id;
    this.log.info(`run ${id} started: ${req.targets.length} target(s), timeout ${Math.round(req.timeoutMs / 1000)} s`);
    if (traceOn()) this.log.trace(`run ${id} command: ${req.command}${req.cwd ? ` (in ${req.cwd})` : ''}`);
    await this.setActiveContext();

    const entry = run;
    const label = oneLine(req.command, 50);
    await withProgressToast(
      `Flotilla: ${label}`,
      async (progress, token) => {
        token.onCancellationRequested(() => job.cancel());
        let reported = 0;
        const total = entry.rows.size;
        progress.report({ message: `0/${total} hosts done` });
        const sub = this.store.onDidChange((changed) => {
          if (changed !== entry) return;
          const done = doneCount(entry);
          if (done === reported) return;
          progress.report({ message: `${done}/${total} hosts done`, increment: ((done - reported) / total) * 100 });
          reported = done;
        });
        try {
          await job.done;
          this.store.refreshOwn(entry);
          // the toast may stay up a moment longer (the workbench holds it): it says what is true by then
          const done = doneCount(entry);
          if (done !== reported) progress.report({ message: `${done}/${total} hosts done`, increment: ((done - reported) / total) * 100 });
        } finally {
          sub.dispose();
        }
      },
    );
    this.store.touch(entry);
    await this.setActiveContext();
    this.log.info(`run ${id} finished in ${formatDuration(runDurationMs(entry))}: ${stateCounts(entry)}`);
    void this.announce(entry);
    return entry;
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
