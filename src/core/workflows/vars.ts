// `{{ name }}` in workflow strings. In a shell command a value becomes one quoted word (a leading `~/`
// stays the remote home), so no value can change what the command does; in paths and URLs it is
// inserted as written.
import { shQuote } from '../ssh/quote';

const REFERENCE = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;
const ANY_BRACES = /\{\{[^}]*\}\}|\{\{|\}\}/g;

export class VarError extends Error {}

/** The variable names a string refers to, in order of first use; throws on `{{` that is not `{{ name }}`. */
export function references(text: string): string[] {
  const names: string[] = [];
  for (const m of text.matchAll(ANY_BRACES)) {
    REFERENCE.lastIndex = 0;
    const ref = new RegExp(`^${REFERENCE.source}$`).exec(m[0]);
    if (!ref) throw new VarError(`${JSON.stringify(m[0])} is not a variable reference: write {{ name }} (letters, digits, _)`);
    if (!names.includes(ref[1]!)) names.push(ref[1]!);
  }
  return names;
}

/** One shell word for /bin/sh that expands to exactly `value` (`~` and `~/…` to the remote home). */
export function shellWord(value: string): string {
  if (value === '~') return '"$HOME"';
  if (value.startsWith('~/')) return value.length === 2 ? '"$HOME"/' : `"$HOME"/${shQuote(value.slice(2))}`;
  return shQuote(value);
}

export type RenderMode = 'shell' | 'plain';

export function render(text: string, values: Readonly<Record<string, string>>, mode: RenderMode): string {
  return text.replace(REFERENCE, (_m, name: string) => {
    const value = values[name];
    if (value === undefined) throw new VarError(`{{ ${name} }} has no value`);
    return mode === 'shell' ? shellWord(value) : value;
  });
}
