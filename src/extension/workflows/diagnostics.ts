// Problems of workflow files in the Problems panel as you type (the same checks, file:line:col, as a run):
// the YAML extension adds schema completion when it is installed; this works without it.
import * as vscode from 'vscode';
import { parseWorkflow, WorkflowFileError } from '../../core/workflows/parse';

export const WORKFLOW_FILE = /[\\/]\.flotilla[\\/]workflows[\\/][^\\/]+\.ya?ml$/i;

export function registerWorkflowDiagnostics(): vscode.Disposable {
  const collection = vscode.languages.createDiagnosticCollection('flotilla-workflows');
  const timers = new Map<string, NodeJS.Timeout>();
  const check = (doc: vscode.TextDocument) => {
    if (doc.uri.scheme !== 'file' || !WORKFLOW_FILE.test(doc.uri.fsPath)) return;
    try {
      parseWorkflow(doc.getText(), doc.uri.fsPath);
      collection.delete(doc.uri);
    } catch (err) {
      if (!(err instanceof WorkflowFileError)) return;
      collection.set(doc.uri, err.problems.map((p) => {
        const line = Math.min(Math.max(0, p.line - 1), Math.max(0, doc.lineCount - 1));
        const start = new vscode.Position(line, Math.max(0, p.col - 1));
        const range = doc.getWordRangeAtPosition(start, /[^\s:,{}[\]]+/) ?? new vscode.Range(start, doc.lineAt(line).range.end);
        const d = new vscode.Diagnostic(range, p.message, vscode.DiagnosticSeverity.Error);
        d.source = 'flotilla';
        return d;
      }));
    }
  };
  const soon = (doc: vscode.TextDocument) => {
    const key = doc.uri.toString();
    clearTimeout(timers.get(key));
    timers.set(key, setTimeout(() => { timers.delete(key); check(doc); }, 300));
  };
  vscode.workspace.textDocuments.forEach(check);
  return vscode.Disposable.from(
    collection,
    vscode.workspace.onDidOpenTextDocument(check),
    vscode.workspace.onDidChangeTextDocument((e) => soon(e.document)),
    vscode.workspace.onDidCloseTextDocument((doc) => collection.delete(doc.uri)),
    { dispose: () => timers.forEach((t) => clearTimeout(t)) },
  );
}
