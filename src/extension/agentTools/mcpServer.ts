// `flotilla mcp` offered to VS Code as an MCP server definition (VS Code 1.101+; engines.vscode stays at 1.95,
// so the API is looked up at run time and this does nothing on older editors). The server reads the same
// ssh config, groups file and run store as the extension.
import { join } from 'node:path';
import * as vscode from 'vscode';
import { readSettings } from '../fleet';
import { runStoreRoot } from '../runs';

/** The parts of VS Code ≥ 1.101's MCP API used here (absent from @types/vscode 1.95). */
interface McpApi {
  registerMcpServerDefinitionProvider(id: string, provider: { provideMcpServerDefinitions(): unknown[] }): vscode.Disposable;
}
type StdioDefinition = new (label: string, command: string, args: string[], env: Record<string, string>) => unknown;

export const MCP_PROVIDER_ID = 'flotilla.mcpServers';

/** The command line VS Code starts: this extension's bundled CLI, run by the editor's own Node. */
export function mcpServerCommand(extensionPath: string): { command: string; args: string[]; env: Record<string, string> } {
  const s = readSettings();
  const args = [join(extensionPath, 'dist', 'cli.js')];
  if (s.sshConfigFile) args.push('--ssh-config', s.sshConfigFile);
  if (s.groupsFile) args.push('--groups', s.groupsFile);
  args.push('--store', runStoreRoot(), 'mcp');
  return { command: process.execPath, args, env: { ELECTRON_RUN_AS_NODE: '1' } };
}

export function registerMcpServerDefinition(context: vscode.ExtensionContext): boolean {
  const lm = vscode.lm as unknown as Partial<McpApi>;
  const Definition = (vscode as unknown as { McpStdioServerDefinition?: StdioDefinition }).McpStdioServerDefinition;
  if (typeof lm.registerMcpServerDefinitionProvider !== 'function' || !Definition) return false;
  context.subscriptions.push(lm.registerMcpServerDefinitionProvider(MCP_PROVIDER_ID, {
    provideMcpServerDefinitions: () => {
      const { command, args, env } = mcpServerCommand(context.extensionPath);
      return [new Definition('Flotilla', command, args, env)];
    },
  }));
  return true;
}
