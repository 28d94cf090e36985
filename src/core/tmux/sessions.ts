// Agent sessions on a host's tmux server: list (with attention), spawn, capture, send, broadcast.
// Every remote command is one /bin/sh script sent through buildRemoteCommand (ssh-traps §4.1); the listing,
// which the Agents view repeats every few seconds per host, is written to a /bin/sh kept on the connection.
import type { Pool } from '../ssh/pool';
import { shellCommandFromArgv, shQuote } from '../ssh/quote';
import { classifyPane, DEFAULT_PATTERNS, type Attention, type AttentionPatterns } from './attention';
import { EXTRA_PATH, listingScript, newListingToken, parseListing, type PaneRow, type ParsedListing } from './listing';
import { formatAgentTarget, parseAgentTarget, tmuxTargetOf, validateSessionName, type AgentTarget } from './names';
import { runScript, runScriptInKeptShell } from './remote';

/** The pool's name for the shell the agent listings of a connection are written to, kept between polls. */
export const AGENTS_LISTING_SHELL = 'tmux-listing-shell';

export interface AgentPane {
  /** `host:session:window`, plus `.pane` when the window is split. */
  target: string;
  paneId: string;
  paneIndex: number;
  active: boolean;
  dead: boolean;
  command: string;
  cwd: string;
  width: number;
  height: number;
  /** The last lines of the pane as captured (remote text: sanitize before showing outside a terminal). */
  capture: string;
  attention: Attention;
}

export interface AgentWindow {
  index: number;
  name: string;
  active: boolean;
  /** Epoch ms of the window's last output (tmux window_activity). */
  lastActivityMs: number;
  panes: AgentPane[];
}

export interface AgentSession {
  name: string;
  /** Number of clients attached right now. */
  attachedClients: number;
  lastActivityMs: number;
  windows: AgentWindow[];
}

export type HostAgents =
  | { host: string; state: 'ok'; sessions: AgentSession[]; checkedAt: number }
  | { host: string; state: 'no-tmux' | 'no-server'; checkedAt: number }
  | { host: string; state: 'error'; message: string; checkedAt: number };

export interface ListAgentsOptions {
  patterns?: AttentionPatterns;
  /** Capture every pane twice this far apart within the one command (for callers without a previous look). */
  sampleMs?: number;
  /** History lines above the screen to capture per pane (default 40). */
  captureLines?: number;
  timeoutMs?: number;
}

export function panesOf(host: HostAgents): AgentPane[] {
  return host.state === 'ok' ? host.sessions.flatMap((s) => s.windows.flatMap((w) => w.panes)) : [];
}

const int = (s: string) => Number.parseInt(s, 10) || 0;

function buildSessions(
  alias: string,
  rows: readonly PaneRow[],
  attentionOf: (paneId: string, command: string) => { capture: string; attention: Attention },
): AgentSession[] {
  const sessions = new Map<string, AgentSession>();
  const panesPerWindow = new Map<string, number>();
  for (const r of rows) panesPerWindow.set(`${r.session_name}\n${r.window_index}`, (panesPerWindow.get(`${r.session_name}\n${r.window_index}`) ?? 0) + 1);
  for (const r of rows) {
    let session = sessions.get(r.session_name);
    if (!session) {
      session = { name: r.session_name, attachedClients: int(r.session_attached), lastActivityMs: int(r.session_activity) * 1000, windows: [] };
      sessions.set(r.session_name, session);
    }
    const index = int(r.window_index);
    let window = session.windows.find((w) => w.index === index);
    if (!window) {
      window = { index, name: r.window_name, active: r.window_active === '1', lastActivityMs: int(r.window_activity) * 1000, panes: [] };
      session.windows.push(window);
    }
    const split = (panesPerWindow.get(`${r.session_name}\n${r.window_index}`) ?? 1) > 1;
    const target: AgentTarget = { host: alias, session: r.session_name, window: String(index), ...(split ? { pane: int(r.pane_index) } : {}) };
    window.panes.push({
      target: formatAgentTarget(target),
      paneId: r.pane_id,
      paneIndex: int(r.pane_index),
      active: r.pane_active === '1',
      dead: r.pane_dead === '1',
      command: r.pane_current_command,
      cwd: r.pane_current_path,
      width: int(r.pane_width),
      height: int(r.pane_height),
      ...attentionOf(r.pane_id, r.pane_current_command),
    });
  }
  return [...sessions.values()];
}

/**
 * Lists every pane of the host's tmux server with its attention state, in one remote command.
 * `previous` (an earlier result for this host) lets "working" mean "output changed since then".
 * Never throws for an unreachable host or a missing tmux: those are states.
 */
export async function listAgents(pool: Pool, alias: string, previous?: HostAgents, opts: ListAgentsOptions = {}): Promise<HostAgents> {
  const checkedAt = Date.now();
  const token = newListingToken();
  const patterns = opts.patterns ?? DEFAULT_PATTERNS;
  let parsed: ParsedListing;
  try {
    const script = listingScript({ token, captureLines: opts.captureLines ?? 40, sampleMs: opts.sampleMs });
    const r = await runScriptInKeptShell(pool, alias, AGENTS_LISTING_SHELL, script, { timeoutMs: opts.timeoutMs });
    parsed = parseListing(r.stdout, token, r.stderr);
  } catch (err) {
    return { host: alias, state: 'error', message: err instanceof Error ? err.message : String(err), checkedAt };
  }
  if (parsed.state !== 'ok') return { host: alias, ...parsed, checkedAt };
  const earlier = new Map((previous ? panesOf(previous) : []).map((p) => [p.paneId, p.capture]));
  const { captures, before } = parsed;
  const sessions = buildSessions(alias, parsed.panes, (paneId, command) => {
    const capture = captures.get(paneId) ?? '';
    // The in-command sample, when taken, is the more recent earlier look.
    return { capture, attention: classifyPane(capture, before?.get(paneId) ?? earlier.get(paneId), command, patterns) };
  });
  return { host: alias, state: 'ok', sessions, checkedAt };
}

export class AgentError extends Error {}

export interface SpawnOptions {
  /** Directory on the host: absolute, `~` or `~/...`. */
  dir: string;
  /** A shell command line (string) or an argv (array, each element sent byte-exact). */
  command: string | readonly string[];
  session: string;
}

/** How long a new agent must survive before spawn reports success (a missing binary exits at once). */
const STARTUP_CHECK_SECONDS = 0.5;

/**
 * A command line that is one simple command (no lists, pipes, redirections, subshells, keywords or
 * leading assignments) can be `exec`ed: then it, not sh, is the pane's process, and tmux's
 * pane_current_command names the agent instead of "sh".
 */
const SHELL_OPERATORS = /[;&|<>()`\n]/;
const LEADING_KEYWORD_OR_ASSIGNMENT = /^(if|then|while|until|for|case|do|done|esac|fi|exec|!|\{|\})(\s|$)|^[A-Za-z_][A-Za-z0-9_]*=/;

export function paneProgram(command: string | readonly string[]): string {
  if (typeof command !== 'string') {
    if (command.length === 0) throw new AgentError('the agent command is empty');
    return `exec ${shellCommandFromArgv(command)}`;
  }
  const line = command.trim();
  if (line === '') throw new AgentError('the agent command is empty');
  const simple = !SHELL_OPERATORS.test(line) && !LEADING_KEYWORD_OR_ASSIGNMENT.test(line);
  return simple ? `exec ${line}` : command;
}

function dirExpression(dir: string): string {
  if (dir === '') throw new AgentError('the directory is empty');
  if (dir === '~') return '"$HOME"';
  if (dir.startsWith('~/')) return `"$HOME"/${shQuote(dir.slice(2))}`;
  if (dir.startsWith('~')) throw new AgentError(`directory ${JSON.stringify(dir)}: ~user paths are not supported`);
  return shQuote(dir);
}

/** The program a simple command line starts, when it can be told without a shell (for a PATH check). */
function programName(command: string | readonly string[]): string | undefined {
  if (typeof command !== 'string') return command[0];
  const program = paneProgram(command);
  if (!program.startsWith('exec ')) return undefined;
  const first = command.trim().split(/\s+/)[0]!;
  return /^[A-Za-z0-9_./+-]+$/.test(first) ? first : undefined;
}

/**
 * Whether the program an agent command starts is on the host's PATH (with the same extra directories
 * a session gets). Undefined when the command is a shell line whose program cannot be told.
 */
export async function agentProgramMissing(pool: Pool, alias: string, command: string): Promise<string | undefined> {
  const program = programName(command);
  if (!program) return undefined;
  const r = await runScript(pool, alias, `${EXTRA_PATH}\ncommand -v ${shQuote(program)} >/dev/null 2>&1`);
  return r.code === 0 ? undefined : program;
}

export function spawnScript(alias: string, opts: SpawnOptions): string {
  const name = validateSessionName(opts.session);
  const program0 = programName(opts.command);
  // A missing program would die before tmux has drawn its error message: say so before starting it.
  const pathCheck = program0
    ? [`command -v ${shQuote(program0)} >/dev/null 2>&1 || { printf '%s: not found on %s (PATH=%s): the agent command would exit at once (status 127)\\n' ${shQuote(program0)} ${shQuote(alias)} "$PATH" >&2; exit 15; }`]
    : [];
  const program = `${EXTRA_PATH}\n${paneProgram(opts.command)}`;
  const exact = shQuote(`=${name}`);
  const window = shQuote(`=${name}:`);
  return [
    EXTRA_PATH,
    `d=${dirExpression(opts.dir)}`,
    `[ -d "$d" ] || { printf 'directory does not exist on %s: %s\\n' ${shQuote(alias)} "$d" >&2; exit 11; }`,
    `command -v tmux >/dev/null 2>&1 || { echo 'tmux is not installed (or not on PATH)' >&2; exit 12; }`,
    ...pathCheck,
    `tmux has-session -t ${exact} 2>/dev/null && { printf 'a tmux session named %s already exists on %s\\n' ${shQuote(name)} ${shQuote(alias)} >&2; exit 13; }`,
    // remain-on-exit is set in the same tmux invocation, before the server reaps a command that fails
    // at once, so its error message can still be captured; it is unset again once the agent runs.
    `tmux new-session -d -s ${shQuote(name)} -c "$d" -- /bin/sh -c ${shQuote(program)} ';' set-option -w -t ${window} remain-on-exit on || { tmux kill-session -t ${exact} 2>/dev/null; exit 14; }`,
    `sleep ${STARTUP_CHECK_SECONDS}`,
    `if [ "$(tmux display-message -p -t ${window} '#{pane_dead}' 2>/dev/null)" = 1 ]; then`,
    `  status=$(tmux display-message -p -t ${window} '#{pane_dead_status}' 2>/dev/null)`,
    // tmux may reap the command before it has drawn the command's last output: look again briefly.
    `  for i in 1 2 3 4 5; do`,
    `    out=$(tmux capture-pane -p -J -t ${window} -S -20 2>/dev/null | grep -v -e '^[[:space:]]*$' -e '^Pane is dead' | tail -n 10)`,
    `    [ -n "$out" ] && break; sleep 0.2`,
    `  done`,
    `  [ -n "$out" ] && printf '%s\n' "$out" >&2`,
    `  tmux kill-session -t ${exact} 2>/dev/null`,
    `  printf 'the agent command exited at once (status %s)\\n' "$status" >&2; exit 15`,
    'fi',
    `tmux has-session -t ${exact} 2>/dev/null || { echo 'the agent command ended at once' >&2; exit 15; }`,
    `tmux set-option -w -u -t ${window} remain-on-exit`,
  ].join('\n');
}

export class SessionExistsError extends AgentError {}
export class MissingDirectoryError extends AgentError {}

/** Starts `command` in a new detached tmux session in `dir`; returns the target `host:session`. */
export async function spawnAgent(pool: Pool, alias: string, opts: SpawnOptions): Promise<string> {
  const r = await runScript(pool, alias, spawnScript(alias, opts));
  const message = r.stderr.trim();
  switch (r.code) {
    case 0: return formatAgentTarget({ host: alias, session: opts.session });
    case 11: throw new MissingDirectoryError(message);
    case 13: throw new SessionExistsError(message);
    case 15: throw new AgentError(`on ${alias}: ${message}`);
    default: throw new AgentError(`could not start the agent on ${alias}: ${message || `exit status ${r.code ?? 'unknown'}`}`);
  }
}

async function tmuxOnTarget(pool: Pool, target: AgentTarget, script: string, what: string): Promise<string> {
  const r = await runScript(pool, target.host, `${EXTRA_PATH}\n${script}`);
  if (r.code !== 0) {
    const why = r.stderr.trim() || `exit status ${r.code ?? 'unknown'}`;
    throw new AgentError(`${what} ${formatAgentTarget(target)}: ${why}`);
  }
  return r.stdout;
}

function asTarget(target: string | AgentTarget): AgentTarget {
  return typeof target === 'string' ? parseAgentTarget(target) : target;
}

/** The last `lines` lines of history above the visible screen, plus the screen (wrapped lines joined). */
export async function capturePane(pool: Pool, target: string | AgentTarget, lines = 40): Promise<string> {
  const t = asTarget(target);
  const n = Math.max(0, Math.floor(lines));
  return tmuxOnTarget(pool, t, `tmux capture-pane -p -J -t ${shQuote(tmuxTargetOf(t))} -S -${n}`, 'cannot capture');
}

export interface SendOptions {
  /** Press Enter after the text (default true). */
  enter?: boolean;
}

/** Types `text` literally into the pane (send-keys -l: no key-name lookup), then Enter. */
export async function sendText(pool: Pool, target: string | AgentTarget, text: string, opts: SendOptions = {}): Promise<void> {
  const t = asTarget(target);
  const tt = shQuote(tmuxTargetOf(t));
  const lines: string[] = [];
  if (text !== '') lines.push(`tmux send-keys -t ${tt} -l -- ${shQuote(text)} || exit 1`);
  if (opts.enter ?? true) lines.push(`tmux send-keys -t ${tt} Enter || exit 1`);
  if (lines.length === 0) return;
  await tmuxOnTarget(pool, t, lines.join('\n'), 'cannot send to');
}

export type SendResult = { target: string; ok: true } | { target: string; ok: false; error: string };

/** Sends the same text to many panes (any hosts) concurrently; one failure does not stop the others. */
export async function broadcast(pool: Pool, targets: readonly string[], text: string, opts: SendOptions = {}): Promise<SendResult[]> {
  return Promise.all(targets.map(async (target): Promise<SendResult> => {
    try {
      await sendText(pool, target, text, opts);
      return { target, ok: true };
    } catch (err) {
      return { target, ok: false, error: err instanceof Error ? err.message : String(err) };
    }
  }));
}

/**
 * "working" needs an earlier look. A one-shot listing (the CLI, an agent) takes it inside the same remote command, 1 s before the
 * capture it classifies, rather than persisting captures between runs: a capture from the previous
 * invocation (minutes or days old) would call every agent that printed anything since "working".
 */
export const ONE_SHOT_SAMPLE_MS = 1000;
