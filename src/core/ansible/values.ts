// Text-level helpers shared by the INI reader and the writers: Python's literal_eval as the INI plugin
// applies it to values, and shell-style words (Ansible uses Python's shlex for both).
import { quote, split } from 'shlex';

/** Python literal_eval of an INI value: numbers, booleans, None, quoted strings, JSON-like lists/dicts; else the text. */
export function pythonLiteral(text: string): unknown {
  // literal_eval reads Python source, where `#` outside a string starts a comment.
  const code = stripShellComment(text).trim();
  const value = literal(code);
  return value === code ? text : value;
}

function literal(text: string): unknown {
  if (/^[-+]?(?:0|[1-9]\d*)$/.test(text)) return Number(text);
  if (/^[-+]?(?:\d+\.\d*|\.\d+|\d+(?:\.\d*)?[eE][-+]?\d+)$/.test(text)) return Number(text);
  if (text === 'True') return true;
  if (text === 'False') return false;
  if (text === 'None') return null;
  const quoted = /^(['"])((?:\\.|(?!\1)[^\\])*)\1$/s.exec(text);
  if (quoted) return quoted[2]!.replace(/\\(.)/gs, (_, c: string) => ({ n: '\n', t: '\t', r: '\r', '0': '\0' })[c] ?? c);
  if (/^[[{]/.test(text)) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

/** The line up to a `#` that starts a comment outside quotes (shlex with comments=True). */
export function stripShellComment(line: string): string {
  let quoteChar: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoteChar) {
      if (c === quoteChar) quoteChar = undefined;
      else if (c === '\\' && quoteChar === '"') i++;
    } else if (c === '\\') i++;
    else if (c === "'" || c === '"') quoteChar = c;
    else if (c === '#') return line.slice(0, i);
  }
  return line;
}

/** Shell words as Python's shlex.split(text, comments=True) gives them; throws on an unclosed quote. */
export function shellWords(text: string): string[] {
  return split(stripShellComment(text));
}

export function shellQuote(word: string): string {
  return quote(word);
}
