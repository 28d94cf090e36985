// Progress for work whose result is shown when it ends. The workbench keeps an extension's progress
// toast up at least 800 ms from its start, whatever the work took: a result shown as soon as sub-second
// work ends would sit under a progress toast that still says the work is going on. Work that is
// usually quick and can be cancelled elsewhere (a view's Cancel) shows its progress in the status
// bar instead (`inStatusBar`); work that needs the toast's Cancel button resolves once the toast is gone.
import * as vscode from 'vscode';

/** The workbench's minimum time for an extension's progress notification, plus room for the round trip. */
const TOAST_MINIMUM_MS = 800 + 100;

type Progress = vscode.Progress<{ message?: string; increment?: number }>;
type Task<R> = (progress: Progress, token: vscode.CancellationToken) => Thenable<R>;

/** A cancellable progress toast; resolves with the work's result once the toast has closed. */
export async function withProgressToast<R>(title: string, task: Task<R>): Promise<R> {
  const started = Date.now();
  const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, task);
  const left = started + TOAST_MINIMUM_MS - Date.now();
  if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
  return result;
}

/** Progress in the status bar: gone the moment the work ends. */
export function inStatusBar<R>(title: string, task: (progress: Progress) => Thenable<R>): Thenable<R> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title }, task);
}
