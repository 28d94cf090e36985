import * as vscode from 'vscode';

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Registers a command whose failures reach the user as an error message instead of vanishing. */
export function registerCommand(id: string, fn: (...args: never[]) => unknown): vscode.Disposable {
  return vscode.commands.registerCommand(id, async (...args: never[]) => {
    try {
      await fn(...args);
    } catch (err) {
      void vscode.window.showErrorMessage(`Flotilla: ${errorText(err)}`);
    }
  });
}
