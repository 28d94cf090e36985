// VS Code agent mode gets Flotilla's agent tools (`flotilla_hosts`, `flotilla_run`, …): thin adapters over
// the same definitions as `flotilla mcp` (src/mcp/tools.ts), on the editor's fleet and run store. Anything
// that changes a host asks for confirmation first (prepareInvocation). Where VS Code has the MCP server
// definition API, `flotilla mcp` is offered as an MCP server too.
import * as vscode from 'vscode';
import type { RunStore } from '../../core/jobs/store';
import { guardRailsOf } from '../../mcp/config';
import { PlanBook } from '../../mcp/plans';
import { invokeTool, ToolError, vscodeToolName, type ToolEnv } from '../../mcp/toolkit';
import { TOOLS } from '../../mcp/tools';
import type { Fleet } from '../fleet';
import type { Pool } from '../../core/ssh/pool';
import { registerMcpServerDefinition } from './mcpServer';

function envOf(fleet: Fleet, pool: Pool, store: RunStore): ToolEnv {
  return {
    inventory: () => {
      const { inventory, problem } = fleet.snapshot;
      if (!inventory) throw new ToolError(`the fleet is not loaded${problem ? `: ${problem.message}` : ''}`, 'fix the ssh config named in the Flotilla settings');
      return inventory;
    },
    pool: () => pool,
    store,
    connectTimeoutMs: () => fleet.settings.connectTimeoutSeconds * 1000,
    origin: 'mcp',
    rails: guardRailsOf({}),
    plans: new PlanBook(),
    jobs: new Set(),
    check: (alias) => fleet.checkHost(alias),
  };
}

function signalOf(token: vscode.CancellationToken): AbortSignal {
  const abort = new AbortController();
  if (token.isCancellationRequested) abort.abort();
  else token.onCancellationRequested(() => abort.abort());
  return abort.signal;
}

export function registerAgentTools(context: vscode.ExtensionContext, fleet: Fleet, pool: Pool, store: RunStore): void {
  const env = envOf(fleet, pool, store);
  for (const tool of TOOLS) {
    context.subscriptions.push(vscode.lm.registerTool<Record<string, unknown>>(vscodeToolName(tool), {
      async invoke(options, token) {
        const result = await invokeTool(tool, options.input, env, { signal: signalOf(token) });
        return new vscode.LanguageModelToolResult([new vscode.LanguageModelTextPart(JSON.stringify(result.data))]);
      },
      prepareInvocation(options) {
        const input = options.input as never;
        return {
          invocationMessage: tool.invocation?.(input) ?? tool.title,
          ...(tool.readOnly || !tool.confirm ? {} : { confirmationMessages: { title: `Flotilla: ${tool.title}`, message: new vscode.MarkdownString(tool.confirm(input)) } }),
        };
      },
    }));
  }
  context.subscriptions.push({ dispose: () => { for (const job of env.jobs) job.cancel(); } });
  registerMcpServerDefinition(context);
}
