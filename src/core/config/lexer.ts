// Lexing of ssh_config text. ssh-config parses the structure (which lines are directives, under which
// Host/Match); each directive's arguments are then re-read from its raw line with OpenSSH's own rules
// (readconf.c strdelim + misc.c argv_split), because the library's value lexer differs from OpenSSH
// (it cuts `User a#b` at the `#`, ignores single quotes, keeps Match criteria in an unordered record).
import SSHConfig, { LineType, type Line } from 'ssh-config';
import { SshConfigError } from './errors.js';

export interface ConfigLine {
  /** Lower-case keyword. */
  readonly keyword: string;
  /** Arguments split like OpenSSH argv_split (quotes removed, stops at a token starting with `#`). */
  readonly args: readonly string[];
  /** The raw text after the keyword and its separator (used verbatim by ProxyCommand and friends). */
  readonly rest: string;
  readonly file: string;
  /** 1-based. */
  readonly line: number;
}

export function lexConfig(input: string, file: string): ConfigLine[] {
  if (input.startsWith('\uFEFF')) {
    throw new SshConfigError(
      'the file starts with a UTF-8 byte-order mark, which ssh reads as part of the first keyword ("Bad configuration option") and refuses. Save the file as UTF-8 without BOM',
      { file, line: 1 },
    );
  }
  // ssh reads lines as C strings: a NUL ends the line there.
  const text = input.includes('\0') ? input.replace(/\0[^\n]*/g, '') : input;
  const rawLines = text.split('\n');
  let ast: SSHConfig;
  try {
    ast = SSHConfig.parse(text);
  } catch {
    // ssh-config refuses some lines OpenSSH accepts (e.g. `Match !final`); the OpenSSH-rules line
    // lexer alone is authoritative and reports real errors with their line number.
    return lexLines(rawLines, file);
  }
  const out: ConfigLine[] = [];
  let lineNo = 1;
  const visit = (nodes: readonly Line[]): void => {
    for (const node of nodes) {
      lineNo += countNewlines(node.before);
      if (node.type === LineType.DIRECTIVE && node.param) {
        const lexed = lexLine(rawLines[lineNo - 1] ?? '', file, lineNo);
        if (!lexed || lexed.keyword !== node.param.toLowerCase()) throw new StructureMismatch();
        out.push(lexed);
      }
      lineNo += countNewlines(node.after);
      if ('config' in node && node.config) visit(node.config);
    }
  };
  try {
    visit(ast);
  } catch (e) {
    if (e instanceof StructureMismatch) return lexLines(rawLines, file);
    throw e;
  }
  return out;
}

/** The library saw the file's lines differently from OpenSSH (e.g. a lone CR); trust the line lexer. */
class StructureMismatch extends Error {}

function lexLines(rawLines: readonly string[], file: string): ConfigLine[] {
  const out: ConfigLine[] = [];
  rawLines.forEach((raw, index) => {
    const lexed = lexLine(raw, file, index + 1);
    if (lexed) out.push(lexed);
  });
  return out;
}

const WHITESPACE = ' \t\r\n';

/** One physical line → keyword + arguments, or undefined for blank/comment lines. */
export function lexLine(raw: string, file: string, line: number): ConfigLine | undefined {
  const text = raw.replace(/[ \t\r\n\f]+$/, '');
  let i = skip(text, 0, WHITESPACE);
  const keywordStart = i;
  while (i < text.length && !`${WHITESPACE}"=`.includes(text[i]!)) i++;
  const keyword = text.slice(keywordStart, i).toLowerCase();
  if (keyword === '' || keyword.startsWith('#')) return undefined;
  i = skip(text, i, WHITESPACE);
  if (text[i] === '=') i = skip(text, i + 1, WHITESPACE);
  const rest = text.slice(i);
  if (rest === '') throw new SshConfigError(`no argument after keyword "${keyword}"`, { file, line });
  const args = argvSplit(rest);
  if (args === undefined) throw new SshConfigError('invalid quotes', { file, line });
  return { keyword, args, rest, file, line };
}

function skip(text: string, i: number, chars: string): number {
  while (i < text.length && chars.includes(text[i]!)) i++;
  return i;
}

/** misc.c argv_split(..., terminate_on_comment=1). Returns undefined on an unterminated quote. */
export function argvSplit(s: string): string[] | undefined {
  const args: string[] = [];
  let i = 0;
  while (i < s.length) {
    if (s[i] === ' ' || s[i] === '\t') {
      i++;
      continue;
    }
    if (s[i] === '#') break;
    let quote = '';
    let arg = '';
    for (; i < s.length; i++) {
      const c = s[i]!;
      const next = s[i + 1];
      if (c === '\\') {
        if (next === "'" || next === '"' || next === '\\' || (quote === '' && next === ' ')) {
          arg += next;
          i++;
        } else arg += c;
      } else if (quote === '' && (c === ' ' || c === '\t')) break;
      else if (quote === '' && (c === '"' || c === "'")) quote = c;
      else if (quote !== '' && c === quote) quote = '';
      else arg += c;
    }
    if (quote !== '') return undefined;
    args.push(arg);
  }
  return args;
}

/**
 * misc.c strdelim(): the next token of `s`, split on whitespace or one "=", a leading double quote
 * running to the next one. Used for Match criteria, which OpenSSH 9.2 reads this way (so `host=web`
 * is `host` `web`). Returns undefined for an unterminated quote.
 */
export function strdelimAll(s: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  const isSpace = (c: string | undefined) => c === ' ' || c === '\t' || c === '\r' || c === '\n';
  while (i < s.length) {
    const start = i;
    while (i < s.length && !isSpace(s[i]) && s[i] !== '"' && s[i] !== '=') i++;
    if (i === s.length) {
      out.push(s.slice(start));
      break;
    }
    if (s[i] === '"') {
      const close = s.indexOf('"', i + 1);
      if (close < 0) return undefined;
      out.push(s.slice(start, i) + s.slice(i + 1, close));
      i = close + 1;
      while (isSpace(s[i])) i++;
      continue;
    }
    const equals = s[i] === '=';
    out.push(s.slice(start, i));
    i++;
    while (isSpace(s[i])) i++;
    if (!equals && s[i] === '=') {
      i++;
      while (isSpace(s[i])) i++;
    }
  }
  return out;
}

function countNewlines(s: string): number {
  let n = 0;
  for (const c of s) if (c === '\n') n++;
  return n;
}
