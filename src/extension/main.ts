import * as vscode from 'vscode';

export function activate(context: vscode.ExtensionContext): void {
  const hosts = new PlaceholderTree();
  context.subscriptions.push(
    vscode.window.registerTreeDataProvider('flotilla.hosts', hosts),
    vscode.commands.registerCommand('flotilla.refresh', () => hosts.refresh()),
  );
}

export function deactivate(): void {}

class PlaceholderTree implements vscode.TreeDataProvider<string> {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  refresh(): void { this.changed.fire(); }
  getTreeItem(label: string): vscode.TreeItem { return new vscode.TreeItem(label); }
  getChildren(): string[] { return ['Flotilla']; }
}
