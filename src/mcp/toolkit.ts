// What a Flotilla agent tool is, independent of who calls it: the MCP server and VS Code's agent mode are
// two adapters over the same definitions, the same argument schemas (zod), the same guard rails and the
// same error handling. Nothing here imports vscode or the MCP SDK.
import * as z from './zod';
import { GroupsFileError } from '../core/config/groups';
import { expandTargets, strictTargets, TargetError, type Inventory } from '../core/config/inventory';
import { SshConfigError } from '../core/config/sshConfig';
import { RunSpecError, type RunOrigin } from '../core/exec/run';
import type { HostHealth } from '../core/health/probe';
import { RunFilesError } from '../core/jobs/files';
import type { Job } from '../core/jobs/job';
import { RunNotFoundError, type RunDoc, type RunStore } from '../core/jobs/store';
import { DestinationError } from '../core/push/remotePath';
import type { Pool } from '../core/ssh/pool';
import { AgentTargetError } from '../core/tmux/names';
import type { GuardRails } from './config';
import type { PlanBook } from './plans';

/** The fleet a tool acts on. The CLI builds it from its flags, the extension from its Fleet. */
export interface ToolEnv {
  inventory(): Inventory;
  /** Brings inventory() up to date before a call (a server that outlives edits of the ssh config). */
  refresh?: () => Promise<unknown>;
  pool(): Pool;
  store: RunStore;
  connectTimeoutMs(): number;
  /** Recorded in every run's record: who asked. */
  origin: RunOrigin;
  rails: GuardRails;
  plans: PlanBook;
  /** Runs this process owns, cancelled when the server shuts down. */
  jobs: Set<Job>;
  /** The extension's health check (keeps the Hosts view current). */
  check?: (alias: string) => Promise<HostHealth>;
}

export interface ToolProgress {
  progress: number;
  total?: number;
  message?: string;
}

/** What a call has besides its arguments. */
export interface CallContext {
  signal: AbortSignal;
  progress?: (p: ToolProgress) => void;
}

export interface ToolResult {
  /** A JSON-able value: the answer the agent reads. */
  data: unknown;
  isError?: boolean;
}

/** A problem the agent can fix: returned as a tool result with isError, naming what to do. */
export class ToolError extends Error {
  constructor(message: string, readonly hint?: string) {
    super(message);
  }
}

export interface ToolDef<S extends z.core.$ZodShape = z.core.$ZodShape> {
  /** The MCP name; VS Code's is `flotilla_<name>`. */
  name: string;
  title: string;
  description: string;
  input: S;
  /** Changes nothing anywhere (listed in --read-only mode, annotated readOnlyHint). */
  readOnly: boolean;
  /** May remove or overwrite something on a host (annotated destructiveHint). */
  destructive?: boolean;
  idempotent?: boolean;
  /** VS Code's confirmation text before a call that changes a host (markdown). */
  confirm?: (args: z.infer<z.ZodMiniObject<S>>) => string;
  /** The short line VS Code shows while the tool runs. */
  invocation?: (args: z.infer<z.ZodMiniObject<S>>) => string;
  run(args: z.infer<z.ZodMiniObject<S>>, env: ToolEnv, call: CallContext): Promise<unknown>;
}

/** VS Code's name of a tool (its agent mode lists tools of every extension together). */
export const vscodeToolName = (tool: Pick<ToolDef, 'name'>) => `flotilla_${tool.name}`;

/** Keeps each definition's argument types while listing them together. */
export function defineTool<S extends z.core.$ZodShape>(def: ToolDef<S>): ToolDef {
  return def as unknown as ToolDef;
}

/** The tools a server with these guard rails offers. */
export function toolsFor(all: readonly ToolDef[], rails: Pick<GuardRails, 'readOnly'>): ToolDef[] {
  return all.filter((t) => t.readOnly || !rails.readOnly);
}

/** A known problem with the request, as an answer; anything else is still an answer (never a crash). */
function errorAnswer(err: unknown): { error: string; hint?: string } {
  if (err instanceof ToolError) return { error: err.message, ...(err.hint ? { hint: err.hint } : {}) };
  if (err instanceof TargetError) return { error: err.message, hint: err.hint ?? 'call the hosts tool for the hosts and groups you can use' };
  if (err instanceof RunNotFoundError) return { error: err.message.replace(/; list them with: flotilla history$/, ''), hint: 'call the history tool for recent run ids' };
  if (err instanceof SshConfigError || err instanceof GroupsFileError) return { error: err.message, hint: 'the ssh config or groups file needs fixing by its owner; nothing was run' };
  if (err instanceof RunSpecError || err instanceof RunFilesError || err instanceof DestinationError || err instanceof AgentTargetError) {
    return { error: err.message, hint: 'fix the argument named and call again; nothing was run' };
  }
  return { error: `internal error: ${err instanceof Error ? err.message : String(err)}`, hint: 'this is a Flotilla bug or an environment problem; the call may be retried' };
}

/**
 * The one way a tool is called: arguments checked against the tool's schema (the MCP SDK has done so
 * already; VS Code has not), the read-only rail enforced, errors turned into answers.
 */
export async function invokeTool(tool: ToolDef, rawArgs: unknown, env: ToolEnv, call: CallContext): Promise<ToolResult> {
  if (env.rails.readOnly && !tool.readOnly) {
    return { isError: true, data: { error: `${tool.name} changes hosts and this server is read-only`, hint: 'the person running the server can drop --read-only' } };
  }
  const parsed = z.strictObject(tool.input).safeParse(rawArgs ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'arguments'}: ${i.message}`).join('; ');
    return { isError: true, data: { error: `bad arguments for ${tool.name}: ${problems}`, hint: 'see the tool\'s input schema' } };
  }
  try {
    await env.refresh?.();
    return { data: await tool.run(parsed.data, env, call) };
  } catch (err) {
    return { isError: true, data: errorAnswer(err) };
  }
}

/** Host aliases of every host the server lets agents use. */
export function allowedHosts(env: ToolEnv): Set<string> {
  const inv = env.inventory();
  if (!env.rails.allow) return new Set(inv.hosts.map((h) => h.alias));
  const allowed = new Set<string>();
  for (const t of env.rails.allow) {
    try {
      for (const h of expandTargets(t, inv)) allowed.add(h);
    } catch {
      // An allowlist entry that names nothing (a host that left the config) allows nothing.
    }
  }
  return allowed;
}

/** TARGET expanded like the CLI does (a bad member stops the call), then held against the allowlist. */
export function targetHosts(env: ToolEnv, target: string): string[] {
  const hosts = strictTargets(target, env.inventory());
  checkAllowed(env, hosts);
  return hosts;
}

export function checkAllowed(env: ToolEnv, hosts: readonly string[]): void {
  if (!env.rails.allow) return;
  const allowed = allowedHosts(env);
  const outside = hosts.filter((h) => !allowed.has(h));
  if (outside.length) {
    throw new ToolError(
      `${outside.map((h) => JSON.stringify(h)).join(', ')} ${outside.length === 1 ? 'is' : 'are'} not in this server's allowlist of targets`,
      `agents may use: ${[...allowed].join(', ') || 'nothing'} (set by the person running the server with --allow or the config file)`,
    );
  }
}

/** A run an agent may look at: with an allowlist, only runs on allowed hosts. */
export async function findRun(env: ToolEnv, id: string): Promise<RunDoc> {
  const doc = await env.store.find(id);
  const hosts = doc.hosts.length ? doc.hosts.map((h) => h.host) : doc.placement?.candidates ?? [];
  checkAllowed(env, hosts);
  return doc;
}
