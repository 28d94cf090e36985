// `flotilla mcp [--http HOST:PORT]`: Flotilla's agent tools as an MCP server over stdio (what Claude Code and
// Claude Desktop start) or Streamable HTTP. The guard rails come from the person starting it: flags and
// an optional config file, never from the agent.
import { readFile } from 'node:fs/promises';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { EXIT } from '../../core/jobs/outcome';
import { AuditLog } from '../../mcp/audit';
import { defaultConfigFile, GuardRailsError, guardRailsOf, readGuardRailsFile, type GuardRails } from '../../mcp/config';
import { parseListen, serveHttp } from '../../mcp/http';
import { PlanBook } from '../../mcp/plans';
import { createMcpServer, stopOwnedRuns } from '../../mcp/server';
import type { ToolEnv } from '../../mcp/toolkit';
import { InventoryFollower } from '../../core/config/follow';
import { inventoryOptionsOf, type CliContext } from '../context';
import { UsageError } from '../io';
import { collect, durationOption, positiveInt, type Verb } from '../verbs';

interface McpOptions {
  http?: string;
  config?: string;
  readOnly?: boolean;
  allow: string[];
  deny: string[];
  outputCap?: number;
  wait?: number;
  tokenFile?: string;
  allowedHost: string[];
}

async function railsOf(o: McpOptions): Promise<GuardRails> {
  const file = o.config ?? defaultConfigFile();
  const fromFile = await readGuardRailsFile(file, o.config !== undefined);
  const merged = {
    ...fromFile,
    ...(o.readOnly ? { readOnly: true } : {}),
    ...(o.allow.length ? { allow: [...((fromFile.allow as string[] | undefined) ?? []), ...o.allow] } : {}),
    ...(o.deny.length ? { deny: [...((fromFile.deny as string[] | undefined) ?? []), ...o.deny] } : {}),
    ...(o.outputCap !== undefined ? { outputCapKiB: o.outputCap } : {}),
    ...(o.wait !== undefined ? { waitSeconds: Math.ceil(o.wait / 1000) } : {}),
  };
  return guardRailsOf(merged, o.config ?? file);
}

async function tokenOf(o: McpOptions): Promise<string | undefined> {
  if (o.tokenFile) {
    const token = (await readFile(o.tokenFile, 'utf8').catch((err: Error) => { throw new UsageError(`--token-file: ${err.message}`); })).trim();
    if (!token) throw new UsageError(`--token-file ${o.tokenFile} is empty`);
    return token;
  }
  return process.env.FLOTILLA_MCP_TOKEN?.trim() || undefined;
}

/** Resolves when the process is told to stop (SIGINT/SIGTERM) or, for stdio, when the client closes stdin. */
function stopped(ctx: CliContext, stdin?: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve) => {
    if (ctx.io.signal.aborted) return resolve();
    ctx.io.signal.addEventListener('abort', () => resolve(), { once: true });
    stdin?.once('end', () => resolve());
    stdin?.once('close', () => resolve());
  });
}

export async function mcpCommand(ctx: CliContext, o: McpOptions): Promise<number> {
  if (ctx.flags.acceptNewHostKeys) {
    throw new UsageError('the MCP server never accepts host keys for an agent', 'verify and add the keys first (ssh HOST once, or Review Host Keys in VS Code), then start it without --accept-new-host-keys');
  }
  let rails: GuardRails;
  let listen: { host: string; port: number } | undefined;
  try {
    rails = await railsOf(o);
    listen = o.http === undefined ? undefined : parseListen(o.http);
  } catch (err) {
    if (err instanceof GuardRailsError) throw new UsageError(err.message, 'see flotilla mcp --help', 'mcp-config');
    throw err;
  }
  // Edits of the ssh config, groups file or inventories reach the next tool call, as they reach the editor.
  const follower = await InventoryFollower.follow(ctx.inventory, inventoryOptionsOf(ctx.flags), (fresh) => {
    ctx.inventory = fresh;
    ctx.pool.reconfigure({});
  });
  const env: ToolEnv = {
    inventory: () => ctx.inventory,
    refresh: () => follower.refresh(),
    pool: () => ctx.pool,
    store: ctx.store,
    connectTimeoutMs: () => ctx.connectTimeoutMs,
    origin: 'mcp',
    rails,
    plans: new PlanBook(),
    jobs: new Set(),
  };
  const audit = new AuditLog(ctx.store.root, 'mcp');
  const rule = `${rails.readOnly ? 'read-only' : 'read-write'}${rails.allow ? `, targets: ${rails.allow.join(', ')}` : ''}${rails.deny.length ? `, ${rails.deny.length} deny pattern(s)` : ''}`;

  if (!listen) {
    const server = createMcpServer(env, audit);
    await server.connect(new StdioServerTransport());
    ctx.io.err(`flotilla mcp: serving on stdio (${rule}); run store ${ctx.store.root}\n`);
    await stopped(ctx, process.stdin);
    await stopOwnedRuns(env);
    await server.close();
    return EXIT.ok;
  }

  let serving;
  try {
    serving = await serveHttp(() => createMcpServer(env, audit), { ...listen, token: await tokenOf(o), allowedHostnames: o.allowedHost });
  } catch (err) {
    if (err instanceof GuardRailsError) throw new UsageError(err.message, 'bind to 127.0.0.1 (the default), or set FLOTILLA_MCP_TOKEN / --token-file', 'mcp-config');
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE' || (err as NodeJS.ErrnoException).code === 'EADDRNOTAVAIL') {
      throw new UsageError(`cannot listen on ${o.http}: ${(err as Error).message}`, 'choose another address or port', 'mcp-listen');
    }
    throw err;
  }
  // The URL on stdout (alone, first): a script or test can read where to connect.
  await ctx.io.out(`${serving.url}\n`);
  ctx.io.err(`flotilla mcp: serving Streamable HTTP at ${serving.url} (${rule}); run store ${ctx.store.root}\n`);
  await stopped(ctx);
  await stopOwnedRuns(env);
  await serving.close();
  return EXIT.ok;
}

export const mcpVerb: Verb = (program, act) => {
  program
    .command('mcp')
    .summary('serve the fleet tools to AI agents over MCP (stdio, or Streamable HTTP with --http)')
    .description(
      'An MCP server with the tools hosts, run, run_status, run_output, cancel_run, history, push_plan, push_apply, place, ' +
        'agents_list, agents_peek and agents_send. Runs are recorded with origin "mcp" in the shared run store. Host keys are never accepted.\n\n' +
        'Settings also come from a YAML/JSON file (--config, default ~/.config/flotilla/mcp.yaml): readOnly, allow, deny, outputCapKiB, ' +
        'waitSeconds. With --http, a non-loopback address needs a token (FLOTILLA_MCP_TOKEN or --token-file), sent by clients as ' +
        '"Authorization: Bearer TOKEN".',
    )
    .option('--http <host:port>', 'serve Streamable HTTP at http://HOST:PORT/mcp instead of stdio (port 0: any free port)')
    .option('--config <file>', 'guard-rail settings file (YAML or JSON)')
    .option('--read-only', 'list and allow only the tools that change nothing')
    .option('--allow <target>', 'agents may only use these targets (host, group; repeatable)', collect, [])
    .option('--deny <regex>', 'refuse commands (and text sent to panes) matching this regular expression (repeatable)', collect, [])
    .option('--output-cap <KiB>', 'output returned by one call, all hosts together (default 128)', positiveInt('--output-cap'))
    .option('--wait <duration>', 'how long run waits before returning the id of a run still going (default 50s)', durationOption('--wait'))
    .option('--token-file <file>', 'bearer token clients must send (default: $FLOTILLA_MCP_TOKEN)')
    .option('--allowed-host <name>', 'another name clients may use in the Host header (repeatable)', collect, [])
    .action(act((ctx, o: McpOptions) => mcpCommand(ctx, o), { interactive: false }));
};
