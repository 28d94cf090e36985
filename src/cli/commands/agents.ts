// flotilla agents [TARGET] | agents spawn HOST DIR [-- COMMAND...] | agents peek T [--lines N] [--raw]
// | agents send T[,T...] TEXT
import { expandTargets } from '../../core/config/inventory';
import { sanitizeForView } from '../../core/exec/output';
import { ConnectError } from '../../core/ssh/connect';
import { AgentTargetError, defaultSessionName, parseAgentTarget, sessionNameProblem } from '../../core/tmux/names';
import {
  broadcast, capturePane, listAgents, panesOf, SessionExistsError, spawnAgent, type HostAgents,
} from '../../core/tmux/sessions';
import { EXIT, UsageError, type CliContext } from '../context';

/**
 * "working" needs an earlier look. The CLI takes it inside the same remote command, 1 s before the
 * capture it classifies, rather than persisting captures between runs: a capture from the previous
 * invocation (minutes or days old) would call every agent that printed anything since "working".
 */
export const CLI_SAMPLE_MS = 1000;
const DEFAULT_AGENT_COMMAND = 'claude';

function out(text: string): void { process.stdout.write(text); }
function err(text: string): void { process.stderr.write(text); }
const view = (s: string) => sanitizeForView(s).replace(/\n/g, ' ');

function agoText(ms: number, now = Date.now()): string {
  if (!ms) return '-';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

function hostJson(h: HostAgents) {
  const sessions = h.state !== 'ok' ? [] : h.sessions.flatMap((s) => s.windows.flatMap((w) => w.panes.map((p) => ({
    target: p.target,
    session: s.name,
    window: w.index,
    windowName: w.name,
    pane: p.paneIndex,
    command: p.command,
    cwd: p.cwd,
    attention: p.attention,
    attached: s.attachedClients > 0,
    lastActivity: w.lastActivityMs ? new Date(w.lastActivityMs).toISOString() : null,
  }))));
  return { host: h.host, state: h.state, ...(h.state === 'error' ? { message: h.message } : {}), sessions };
}

function printHost(h: HostAgents): void {
  if (h.state !== 'ok') {
    const detail = h.state === 'error' ? `: ${view(h.message)}` : h.state === 'no-server' ? ' (no tmux server running)' : ' (tmux is not installed)';
    out(`${h.host}  ${h.state}${detail}\n`);
    return;
  }
  const panes = panesOf(h);
  out(`${h.host}  ok  ${panes.length} pane${panes.length === 1 ? '' : 's'}\n`);
  const width = Math.max(6, ...panes.map((p) => view(p.target).length));
  for (const s of h.sessions) {
    for (const w of s.windows) {
      for (const p of w.panes) {
        const attached = s.attachedClients > 0 ? '  (attached)' : '';
        out(`  ${view(p.target).padEnd(width)}  ${p.attention.padEnd(7)}  ${view(p.command).padEnd(10)}  ${view(p.cwd)}  ${agoText(w.lastActivityMs)}${attached}\n`);
      }
    }
  }
}

/** `flotilla agents [TARGET] [--json]`: every tmux pane of the hosts with its attention state. */
export async function agentsListCommand(ctx: CliContext, target?: string): Promise<number> {
  const aliases = target ? expandTargets(target, ctx.inventory) : ctx.inventory.hosts.map((h) => h.alias);
  const hosts = await Promise.all(aliases.map((alias) => listAgents(ctx.pool, alias, undefined, { sampleMs: CLI_SAMPLE_MS })));
  if (ctx.flags.json) out(JSON.stringify({ hosts: hosts.map(hostJson) }) + '\n');
  else hosts.forEach(printHost);
  return hosts.some((h) => h.state === 'error') ? EXIT.unreachable : EXIT.ok;
}

function reportFailure(e: unknown): number {
  if (e instanceof AgentTargetError) throw new UsageError(e.message);
  if (!(e instanceof Error)) throw e;
  err(`flotilla: ${sanitizeForView(e.message)}\n`);
  return e instanceof ConnectError ? EXIT.unreachable : EXIT.commandFailed;
}

export interface SpawnFlags {
  /** Session name; default `<command>-<dir name>`, with -2, -3... when taken. */
  session?: string;
}

/**
 * `flotilla agents spawn HOST DIR [--name S] [-- COMMAND...]`: one COMMAND argument is a shell
 * command line, several are an argv; none means `claude`.
 */
export async function agentsSpawnCommand(ctx: CliContext, host: string, dir: string, command: readonly string[], flags: SpawnFlags = {}): Promise<number> {
  if (!ctx.inventory.hosts.some((h) => h.alias === host)) {
    throw new UsageError(`unknown host ${JSON.stringify(host)}: spawn takes one Host alias from the ssh config`);
  }
  const agentCommand: string | readonly string[] = command.length === 0 ? DEFAULT_AGENT_COMMAND : command.length === 1 ? command[0]! : command;
  const explicit = flags.session;
  if (explicit !== undefined) {
    const problem = sessionNameProblem(explicit);
    if (problem) throw new UsageError(problem);
  }
  const base = explicit ?? defaultSessionName(dir, typeof agentCommand === 'string' ? agentCommand : agentCommand[0]!);
  const candidates = explicit !== undefined ? [base] : [base, ...[2, 3, 4, 5, 6, 7, 8, 9].map((n) => `${base}-${n}`)];
  for (const session of candidates) {
    try {
      const target = await spawnAgent(ctx.pool, host, { dir, command: agentCommand, session });
      out(ctx.flags.json ? JSON.stringify({ target, host, session }) + '\n' : `${target}\n`);
      return EXIT.ok;
    } catch (e) {
      if (e instanceof SessionExistsError && session !== candidates[candidates.length - 1] && explicit === undefined) continue;
      return reportFailure(e);
    }
  }
  return EXIT.commandFailed;
}

/** `flotilla agents peek HOST:SESSION[:WINDOW] [--lines N] [--raw]`: the pane's last lines. */
export async function agentsPeekCommand(ctx: CliContext, target: string, lines: number, raw = false): Promise<number> {
  try {
    const text = await capturePane(ctx.pool, parseAgentTarget(target), lines);
    const trimmed = text.replace(/\n+$/, '\n');
    if (ctx.flags.json) out(JSON.stringify({ target, text: trimmed }) + '\n');
    else out(raw ? trimmed : sanitizeForView(trimmed));
    return EXIT.ok;
  } catch (e) {
    return reportFailure(e);
  }
}

export interface SendFlags {
  /** Press Enter after the text (default true; `--no-enter`). */
  enter?: boolean;
}

/** `flotilla agents send T[,T...] TEXT`: types TEXT (literally) and Enter into each pane. */
export async function agentsSendCommand(ctx: CliContext, target: string, text: string, flags: SendFlags = {}): Promise<number> {
  const targets = target.split(',').map((s) => s.trim()).filter(Boolean);
  if (targets.length === 0) throw new UsageError('no target given: HOST:SESSION[:WINDOW][,HOST:SESSION...]');
  for (const t of targets) {
    try { parseAgentTarget(t); } catch (e) { return reportFailure(e); }
  }
  const results = await broadcast(ctx.pool, targets, text, { enter: flags.enter ?? true });
  if (ctx.flags.json) out(JSON.stringify({ results }) + '\n');
  else for (const r of results) (r.ok ? out : err)(`${view(r.target)}  ${r.ok ? 'sent' : `failed: ${view(r.error)}`}\n`);
  return results.every((r) => r.ok) ? EXIT.ok : EXIT.commandFailed;
}
