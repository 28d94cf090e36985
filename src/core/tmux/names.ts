// Session names and agent targets (`host:session[:window[.pane]]`). tmux silently rewrites `.` and `:`
// in session names (ssh-traps §2.5), so a name containing them would not be found again under that name.

export class AgentTargetError extends Error {}

// C0 controls, DEL, C1 controls.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Returns a reason the name is unusable, or undefined when tmux will keep it exactly as given. */
export function sessionNameProblem(name: string): string | undefined {
  if (name === '') return 'a session name cannot be empty';
  if (name.includes('.') || name.includes(':')) return `session name ${JSON.stringify(name)} contains "." or ":", which tmux rewrites to "_"`;
  if (CONTROL.test(name)) return `session name ${JSON.stringify(name)} contains control characters`;
  if (name.trim() !== name) return `session name ${JSON.stringify(name)} starts or ends with whitespace`;
  if (name.startsWith('-')) return `session name ${JSON.stringify(name)} starts with "-", which tmux would read as an option`;
  if (name.startsWith('$')) return `session name ${JSON.stringify(name)} starts with "$", which tmux reads as a session id (it could not be found again by name)`;
  return undefined;
}

export function validateSessionName(name: string): string {
  const problem = sessionNameProblem(name);
  if (problem) throw new AgentTargetError(problem);
  return name;
}

export interface AgentTarget {
  host: string;
  session: string;
  /** Window index or name; undefined = the session's current window. */
  window?: string;
  /** Pane index within the window; undefined = the window's active pane. */
  pane?: number;
}

const WINDOW_INDEX_AND_PANE = /^(\d+)\.(\d+)$/;

/** Parses `host:session`, `host:session:window` or `host:session:window.pane` (window as an index then). */
export function parseAgentTarget(text: string): AgentTarget {
  const usage = `expected HOST:SESSION[:WINDOW], got ${JSON.stringify(text)}`;
  const first = text.indexOf(':');
  if (first <= 0) throw new AgentTargetError(usage);
  const host = text.slice(0, first);
  const rest = text.slice(first + 1);
  const second = rest.indexOf(':');
  const session = second < 0 ? rest : rest.slice(0, second);
  const windowPart = second < 0 ? undefined : rest.slice(second + 1);
  if (CONTROL.test(host) || host.startsWith('-')) throw new AgentTargetError(`invalid host ${JSON.stringify(host)} in ${JSON.stringify(text)}`);
  validateSessionName(session);
  if (windowPart === undefined) return { host, session };
  if (windowPart === '') throw new AgentTargetError(`empty window in ${JSON.stringify(text)}: ${usage}`);
  const withPane = WINDOW_INDEX_AND_PANE.exec(windowPart);
  if (withPane) return { host, session, window: withPane[1]!, pane: Number(withPane[2]) };
  if (windowPart.includes(':') || windowPart.includes('.') || CONTROL.test(windowPart)) {
    throw new AgentTargetError(`window ${JSON.stringify(windowPart)} in ${JSON.stringify(text)}: use the window index`);
  }
  return { host, session, window: windowPart };
}

export function formatAgentTarget(t: AgentTarget): string {
  const window = t.window === undefined ? '' : `:${t.window}${t.pane === undefined ? '' : `.${t.pane}`}`;
  return `${t.host}:${t.session}${window}`;
}

/**
 * The `-t` argument for tmux: `=` asks for an exact session (and window name) match, where tmux would
 * otherwise accept a prefix or pattern and could hit the wrong session.
 */
export function tmuxTargetOf(t: Pick<AgentTarget, 'session' | 'window' | 'pane'>): string {
  let target = `=${t.session}:`;
  if (t.window !== undefined) target += /^\d+$/.test(t.window) ? t.window : `=${t.window}`;
  if (t.pane !== undefined) target += `.${t.pane}`;
  return target;
}

/** A default name for a spawned agent: `<command word>-<directory name>`, cleaned to what tmux keeps. */
export function defaultSessionName(dir: string, command: string): string {
  const base = (s: string) => s.replace(/\/+$/, '').split('/').pop() ?? '';
  const word = base(command.trim().split(/\s+/)[0] ?? '') || 'agent';
  const dirName = base(dir) === '~' || base(dir) === '' ? 'home' : base(dir);
  const cleaned = `${word}-${dirName}`.replace(/[^A-Za-z0-9_+@,-]+/g, '_').replace(/^[-_]+/, '');
  return cleaned.slice(0, 64) || 'agent';
}
