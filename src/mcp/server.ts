// Flotilla as an MCP server (official SDK): every agent tool registered with its schema and annotations,
// progress notifications while a call waits, tool problems returned as results with isError (never a
// crashed server), and one audit line per call in the run store.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import * as z from './zod';
import { version } from '../../package.json';
import type { AuditLog } from './audit';
import { invokeTool, toolsFor, type ToolDef, type ToolEnv, type ToolResult } from './toolkit';
import { TOOLS } from './tools';


const INSTRUCTIONS = 'Flotilla drives a fleet of machines over SSH (hosts from the ssh config, groups from the sshsync groups file). ' +
  'Start with hosts. Every run is recorded with an id shared with the flotilla CLI and VS Code: run waits a bounded time and returns the id, ' +
  'state, exit codes and capped output; follow up with run_status, run_output and cancel_run. push_plan writes nothing and returns a plan_id; ' +
  'push_apply applies exactly that plan. Host keys are never accepted through these tools.';

export function toCallToolResult(result: ToolResult): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(result.data) }], ...(result.isError ? { isError: true } : {}) };
}

export function annotationsOf(tool: ToolDef) {
  return {
    title: tool.title,
    readOnlyHint: tool.readOnly,
    ...(tool.readOnly ? {} : { destructiveHint: tool.destructive ?? true, idempotentHint: tool.idempotent ?? false }),
    openWorldHint: true,
  };
}

/** One MCP server (one per client session); the tool environment is shared by all sessions of a process. */
export function createMcpServer(env: ToolEnv, audit?: AuditLog): McpServer {
  const server = new McpServer({ name: 'flotilla', title: 'Flotilla', version }, { capabilities: { logging: {} }, instructions: INSTRUCTIONS });
  for (const tool of toolsFor(TOOLS, env.rails)) {
    server.registerTool(tool.name, { title: tool.title, description: tool.description, inputSchema: z.strictObject(tool.input), annotations: annotationsOf(tool) }, async (args, extra) => {
      const token = extra._meta?.progressToken;
      const t0 = Date.now();
      const result = await invokeTool(tool, args, env, {
        signal: extra.signal,
        progress: token === undefined ? undefined : (p) => {
          void extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, ...p } }).catch(() => {});
        },
      });
      await audit?.record(tool.name, args, result, Date.now() - t0);
      return toCallToolResult(result);
    });
  }
  return server;
}

/** Ends the runs this process owns (an MCP server that goes away leaves no remote process behind). */
export async function stopOwnedRuns(env: ToolEnv, waitMs = 10_000): Promise<void> {
  const jobs = [...env.jobs];
  for (const job of jobs) job.cancel();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(jobs.map((j) => j.done)), new Promise((r) => { timer = setTimeout(r, waitMs); })]);
  clearTimeout(timer);
}
