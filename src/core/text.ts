// Text shown in a view, in one place: every string that came from a file, a remote host or the user
// passes through one of these before a label, description, tooltip or message shows it. All of them
// strip terminal escapes first (sanitizeForView, ssh-traps §4.6).
import { sanitizeForView } from './exec/output';

export { sanitizeForView };

/** VS Code's `$(name)` / `$(name~spin)` icon syntax, as labels and descriptions render it. */
const ICON = /\$\(([A-Za-z0-9-]+(?:~[A-Za-z]+)?)\)/g;

/**
 * For a label, description or detail that renders `$(name)` as an icon: only a real icon reference is
 * escaped (`\$(name)` shows as typed); any other `$(` already shows literally, so it is left alone —
 * escaping it would show the backslash.
 */
export function escapeIcons(text: string): string {
  return sanitizeForView(text).replace(ICON, '\\$&');
}

/** For Markdown (tooltips): no links, formatting or HTML from the text; newlines become spaces. */
export function mdEscape(text: string): string {
  return sanitizeForView(text).replace(/[\\`*_{}[\]()#+\-.!|<>~$]/g, '\\$&').replace(/\n/g, ' ');
}

/** One line for a label or a message: sanitized, tabs as spaces, newlines shown as ⏎, cut to `max` with an ellipsis. */
export function oneLine(text: string, max = 80): string {
  const flat = sanitizeForView(text).replace(/\t/g, ' ').replace(/\n+/g, ' ⏎ ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** `prefix: message`, unless the message already says it (no "authentication failed: … authentication failed"). */
export function prefixOnce(prefix: string, message: string): string {
  return message.toLowerCase().includes(prefix.toLowerCase()) ? message : `${prefix}: ${message}`;
}
