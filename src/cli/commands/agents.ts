// flotilla agents [TARGET] | agents spawn HOST DIR [-- COMMAND...] | agents peek T [--lines N] [--raw]
// | agents send T[,T...] TEXT
import { sanitizeForView } from '../../core/exec/output';
import { ConnectError } from '../../core/ssh/connect';
import { AgentTargetError, defaultSessionName, parseAgentTarget, sessionNameProblem } from '../../core/tmux/names';
import {
  broadcast, capturePane, listAgents, panesOf, SessionExistsError, spawnAgent, type HostAgents,
  ONE_SHOT_SAMPLE_MS,
} from '../../core/tmux/sessions';
import { EXIT, UsageError, type CliContext } from '../context';
import { positiveInt, type Verb } from '../verbs';

const DEFAULT_AGENT_COMMAND = 'claude';

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

function printHost(h: HostAgents): string {
  let text = '';
  const out = (s: string) => (text += s);
  if (h.state !== 'ok') {
    const detail = h.state === 'error' ? `: ${view(h.message)}` : h.state === 'no-server' ? ' (no tmux server running)' : ' (tmux is not installed)';
    out(`${h.host}  ${h.state}${detail}\n`);
    return text;
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
  return text;
}

/** `flotilla agents [TARGET] [--json]`: every tmux pane of the hosts with its attention state. */
export async function agentsListCommand(ctx: CliContext, target?: string): Promise<number> {
  const aliases = target ? ctx.targets(target) : ctx.inventory.hosts.map((h) => h.alias);
  const hosts = await Promise.all(aliases.map((alias) => listAgents(ctx.pool, alias, undefined, { sampleMs: ONE_SHOT_SAMPLE_MS })));
  if (ctx.flags.json) await ctx.io.json({ hosts: hosts.map(hostJson) });
  else await ctx.io.out(hosts.map(printHost).join(''));
  return hosts.some((h) => h.state === 'error') ? EXIT.unreachable : EXIT.ok;
}

function reportFailure(ctx: CliContext, e: unknown): number {
  if (e instanceof AgentTargetError) throw new UsageError(e.message);
  if (!(e instanceof Error)) throw e;
  ctx.io.err(`flotilla: ${sanitizeForView(e.message)}\n`);
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
      if (ctx.flags.json) await ctx.io.json({ target, host, session });
      else await ctx.io.out(`${target}\n`);
      return EXIT.ok;
    } catch (e) {
      if (e instanceof SessionExistsError && session !== candidates[candidates.length - 1] && explicit === undefined) continue;
      return reportFailure(ctx, e);
    }
  }
  return EXIT.commandFailed;
}

/** `flotilla agents peek HOST:SESSION[:WINDOW] [--lines N] [--raw]`: the pane's last lines. */
export async function agentsPeekCommand(ctx: CliContext, target: string, lines: number, raw = false): Promise<number> {
  try {
    const text = await capturePane(ctx.pool, parseAgentTarget(target), lines);
    const trimmed = text.replace(/\n+$/, '\n');
    if (ctx.flags.json) await ctx.io.json({ target, text: trimmed });
    else await ctx.io.out(raw ? trimmed : sanitizeForView(trimmed));
    return EXIT.ok;
  } catch (e) {
    return reportFailure(ctx, e);
  }
}

export interface SendFlags {
  /** Press Enter after the text (default true; `--no-enter`). */
  enter?: boolean;
  /** Show the receivers; type nothing. */
  dryRun?: boolean;
}

/** `flotilla agents send T[,T...] TEXT`: types TEXT (literally) and Enter into each pane. */
export async function agentsSendCommand(ctx: CliContext, target: string, text: string, flags: SendFlags = {}): Promise<number> {
  const targets = target.split(',').map((s) => s.trim()).filter(Boolean);
  if (targets.length === 0) throw new UsageError('no target given: HOST:SESSION[:WINDOW][,HOST:SESSION...]');
  for (const t of targets) {
    try { parseAgentTarget(t); } catch (e) { return reportFailure(ctx, e); }
  }
  const known = new Set(ctx.inventory.hosts.map((h) => h.alias));
  const unknown = targets.map((t) => parseAgentTarget(t).host).filter((h) => !known.has(h));
  if (unknown.length) throw new UsageError(`unknown host ${JSON.stringify(unknown[0])} in the targets: give HOST:SESSION with a Host alias from the ssh config`);
  if (flags.dryRun) {
    if (ctx.flags.json) await ctx.io.json({ dryRun: true, receivers: targets, text, enter: flags.enter ?? true });
    else await ctx.io.out(`dry run: nothing was sent.\nwould type ${JSON.stringify(text)}${flags.enter ?? true ? ' and Enter' : ''} into:\n${targets.map((t) => `  ${view(t)}\n`).join('')}`);
    return EXIT.ok;
  }
  const results = await broadcast(ctx.pool, targets, text, { enter: flags.enter ?? true });
  if (ctx.flags.json) await ctx.io.json({ results });
  else for (const r of results) {
    const line = `${view(r.target)}  ${r.ok ? 'sent' : `failed: ${view(r.error)}`}\n`;
    if (r.ok) await ctx.io.out(line); else ctx.io.err(line);
  }
  return results.every((r) => r.ok) ? EXIT.ok : EXIT.commandFailed;
}

export const agentsVerb: Verb = (program, act) => {
  const agents = program
    .command('agents')
    .summary('tmux sessions where coding agents live: list, spawn, peek, send')
    .argument('[target]', 'hosts to list (alias, group, "all" or comma list; default all)')
    .action(act((ctx, target: string | undefined) => agentsListCommand(ctx, target)));
  agents
    .command('spawn')
    .summary('start an agent in a new detached tmux session')
    .argument('<host>', 'a Host alias')
    .argument('<dir>', 'remote working directory')
    .argument('[command...]', 'after --: the agent command (default: claude)')
    .option('--name <session>', 'session name (default <command>-<dir name>)')
    .action(act((ctx, host: string, dir: string, command: string[], o: { name?: string }) => agentsSpawnCommand(ctx, host, dir, command, { session: o.name })));
  agents
    .command('peek')
    .summary("a pane's last lines")
    .argument('<target>', 'HOST:SESSION[:WINDOW[.PANE]]')
    .option('--lines <n>', 'lines of history above the screen (default 40)', positiveInt('--lines'), 40)
    .option('--raw', 'terminal escapes included')
    .action(act((ctx, target: string, o: { lines: number; raw?: boolean }) => agentsPeekCommand(ctx, target, o.lines, !!o.raw)));
  agents
    .command('send')
    .summary('type TEXT (and Enter) into panes')
    .argument('<targets>', 'HOST:SESSION[:WINDOW][,HOST:SESSION...]')
    .argument('<text>', 'text typed literally')
    .option('--no-enter', 'do not press Enter after the text')
    .option('--dry-run', 'show the receivers; send nothing')
    .action(act((ctx, targets: string, text: string, o: { enter: boolean; dryRun?: boolean }) => agentsSendCommand(ctx, targets, text, o)));
};
