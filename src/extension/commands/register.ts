import * as vscode from 'vscode';
import type { CommandId } from './ids';

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * How every feature registers a command: the id must be one of COMMAND_IDS, and a failure reaches the
 * user as an error message instead of vanishing.
 */
export function registerCommand(id: CommandId, fn: (...args: never[]) => unknown): vscode.Disposable {
  return vscode.commands.registerCommand(id, async (...args: never[]) => {
    try {
      await fn(...args);
    } catch (err) {
      void vscode.window.showErrorMessage(`Flotilla: ${errorText(err)}`);
    }
  });
}
