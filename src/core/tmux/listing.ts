// The one remote command that lists every tmux pane of a host and captures each pane's last lines,
// and the parser for its output. Framing uses a random token per call: pane text is remote-controlled,
// and paths may hold tabs or newlines (tmux prints pane_current_path raw), so no fixed separator is
// safe, while a 96-bit random token cannot appear in anything the host printed before it was chosen.
import { randomBytes } from 'node:crypto';
import { shQuote } from '../ssh/quote';

export const PANE_FIELDS = [
  'session_name', 'session_attached', 'session_activity',
  'window_index', 'window_name', 'window_active', 'window_activity',
  'pane_id', 'pane_index', 'pane_active', 'pane_dead', 'pane_width', 'pane_height',
  'pane_current_command', 'pane_current_path',
] as const;

export type PaneField = (typeof PANE_FIELDS)[number];
export type PaneRow = Record<PaneField, string>;

export interface ListingRequest {
  token: string;
  /** History lines above the visible screen to capture (capture-pane -S -N). */
  captureLines: number;
  /** When set: capture every pane, wait this long, capture again, so "working" needs no earlier look. */
  sampleMs?: number;
}

export function newListingToken(): string {
  return `FLT${randomBytes(12).toString('hex')}`;
}

const FIELD = (token: string) => `${token}f`;
const ROW = (token: string) => `${token}r`;

/**
 * Common per-user install places, for non-interactive sessions whose PATH is sshd's default
 * (tmux from Homebrew, agents installed under ~/.local/bin).
 */
export const EXTRA_PATH = 'PATH="$PATH:/usr/local/bin:/opt/homebrew/bin:$HOME/.local/bin"; export PATH';

export function listingScript(req: ListingRequest): string {
  const t = req.token;
  if (!/^[A-Za-z0-9]+$/.test(t)) throw new Error('listing token must be alphanumeric');
  const format = ROW(t) + PANE_FIELDS.map((f) => `#{${f}}`).join(FIELD(t));
  const lines = Math.max(0, Math.floor(req.captureLines));
  const captureAll = (tag: string) => [
    `for p in $(tmux list-panes -a -F '#{pane_id}' 2>/dev/null); do`,
    `  printf '%s ${tag} %s\\n' "$T" "$p"`,
    `  tmux capture-pane -p -J -t "$p" -S -${lines} 2>/dev/null`,
    'done',
  ];
  return [
    `T=${t}`,
    EXTRA_PATH,
    `command -v tmux >/dev/null 2>&1 || { printf '%s state no-tmux\\n' "$T"; exit 0; }`,
    `panes=$(tmux list-panes -a -F ${shQuote(format)} 2>&1) || { printf '%s state failed\\n%s\\n' "$T" "$panes"; exit 0; }`,
    `printf '%s state ok\\n%s\\n' "$T" "$panes"`,
    ...(req.sampleMs !== undefined ? [...captureAll('before'), `sleep ${(req.sampleMs / 1000).toFixed(3)}`] : []),
    ...captureAll('capture'),
    `printf '%s end\\n' "$T"`,
  ].join('\n');
}

export type ParsedListing =
  | { state: 'ok'; panes: PaneRow[]; captures: Map<string, string>; before?: Map<string, string>; complete: boolean }
  | { state: 'no-tmux' }
  | { state: 'no-server' }
  | { state: 'error'; message: string };

const NO_SERVER = /no server running|error connecting to|no sessions/i;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function parseRows(body: string, token: string): PaneRow[] {
  const rows: PaneRow[] = [];
  for (const raw of body.split(ROW(token)).slice(1)) {
    const fields = raw.replace(/\n$/, '').split(FIELD(token));
    if (fields.length !== PANE_FIELDS.length) continue; // truncated output: skip rather than misread
    rows.push(Object.fromEntries(PANE_FIELDS.map((f, i) => [f, fields[i]!])) as PaneRow);
  }
  return rows;
}

export function parseListing(stdout: string, token: string, stderr = ''): ParsedListing {
  // Every section starts with a line "TOKEN <header>"; the text up to the next such line is its body.
  const sections = ('\n' + stdout).split(new RegExp(`\\n${escapeRegExp(token)} `)).slice(1);
  let state: ParsedListing | undefined;
  const captures = new Map<string, string>();
  const before = new Map<string, string>();
  let panes: PaneRow[] = [];
  let complete = false;
  for (const section of sections) {
    const nl = section.indexOf('\n');
    const header = nl < 0 ? section : section.slice(0, nl);
    const body = nl < 0 ? '' : section.slice(nl + 1);
    const [kind, arg = ''] = header.split(' ', 2);
    if (kind === 'state') {
      if (arg === 'no-tmux') return { state: 'no-tmux' };
      if (arg === 'failed') {
        const message = body.trim().slice(0, 500) || 'tmux list-panes failed';
        return NO_SERVER.test(message) ? { state: 'no-server' } : { state: 'error', message };
      }
      if (arg === 'ok') panes = parseRows(body, token);
      state = { state: 'ok', panes, captures, complete };
    } else if (kind === 'capture') {
      captures.set(arg, body);
    } else if (kind === 'before') {
      before.set(arg, body);
    } else if (kind === 'end') {
      complete = true;
    }
  }
  if (!state) {
    const why = stderr.trim().slice(0, 500);
    return { state: 'error', message: why ? `listing failed: ${why}` : 'listing printed nothing recognisable' };
  }
  return { state: 'ok', panes, captures, ...(before.size > 0 ? { before } : {}), complete };
}
