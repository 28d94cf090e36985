// The option store filled while reading config files: first obtained value wins, except for the
// keywords that accumulate. Mirrors readconf.c process_config_line_depth for the option keywords.
import type { ConfigSource } from '../types.js';
import { CHOICES, INTEGER_KEYS, KEYWORD_ALIASES, MAX_IDENTITY_FILES, SSH_G_ORDER, TIME_KEYS, OTHER_KNOWN_KEYWORDS } from './defaults.js';
import { SshConfigError } from './errors.js';
import type { ConfigLine } from './lexer.js';
import { matchPattern } from './patterns.js';

export interface StoredValue {
  /** Arguments as OpenSSH keeps them (one for most keywords; several for list keywords). */
  readonly values: readonly string[];
  readonly source: ConfigSource;
}

/** Keywords where every active line adds values instead of first-wins. */
const ACCUMULATING = new Set(['identityfile', 'certificatefile', 'sendenv', 'localforward', 'remoteforward', 'dynamicforward']);
/** Keywords whose value is the raw rest of the line (quotes and `#` kept), as OpenSSH's parse_command. */
const WHOLE_LINE = new Set(['proxycommand', 'localcommand', 'remotecommand', 'knownhostscommand']);
/** First-wins keywords whose value is the whole argument list of that line. */
const ARGUMENT_LIST = new Set([
  'userknownhostsfile',
  'globalknownhostsfile',
  'canonicaldomains',
  'logverbose',
  'ipqos',
  'rekeylimit',
  'permitremoteopen',
  'canonicalizepermittedcnames',
  'ignoreunknown',
  'hostkeyalgorithms',
]);

const KNOWN_KEYWORDS: ReadonlySet<string> = new Set([
  ...SSH_G_ORDER.map(([k]) => k.toLowerCase()),
  ...OTHER_KNOWN_KEYWORDS,
  ...Object.keys(KEYWORD_ALIASES),
]);

export function canonicalKeyword(keyword: string): string {
  return KEYWORD_ALIASES[keyword] ?? keyword;
}

export class OptionStore {
  private readonly single = new Map<string, StoredValue>();
  private readonly lists = new Map<string, { value: string; source: ConfigSource }[]>();

  get(key: string): StoredValue | undefined {
    return this.single.get(key);
  }

  first(key: string): string | undefined {
    return this.single.get(key)?.values[0];
  }

  list(key: string): readonly { value: string; source: ConfigSource }[] {
    return this.lists.get(key) ?? [];
  }

  /** Overrides a value regardless of first-wins (the command line, the final pass HostName). */
  force(key: string, value: string, source: ConfigSource): void {
    this.single.set(key, { values: [value], source });
  }

  private setIfUnset(key: string, values: readonly string[], source: ConfigSource): void {
    if (!this.single.has(key)) this.single.set(key, { values, source });
  }

  private append(key: string, value: string, source: ConfigSource, dedupe: boolean): void {
    const list = this.lists.get(key) ?? [];
    if (dedupe && list.some((e) => e.value === value)) return;
    list.push({ value, source });
    this.lists.set(key, list);
  }

  /** Applies one active option line; returns a warning for lines it cannot honour. */
  apply(line: ConfigLine): string | undefined {
    const key = canonicalKeyword(line.keyword);
    const source: ConfigSource = { file: line.file, line: line.line };
    const where = { file: line.file, line: line.line };
    if (!KNOWN_KEYWORDS.has(key)) {
      if (this.isIgnoredUnknown(key)) return undefined;
      return `${line.file}:${line.line}: unsupported option "${line.keyword}" ignored (OpenSSH would refuse this config)`;
    }
    const first = line.args[0];
    if (first === undefined) throw new SshConfigError(`missing argument for "${line.keyword}"`, where);

    if (ACCUMULATING.has(key)) {
      this.applyAccumulating(key, line, source);
      return undefined;
    }
    switch (key) {
      case 'setenv':
        // readconf.c: only the first SetEnv line counts; duplicate names inside it are dropped.
        for (const arg of line.args) {
          if (!arg.includes('=')) throw new SshConfigError(`invalid SetEnv "${arg}" (expected NAME=VALUE)`, where);
        }
        if (this.lists.has('setenv')) return undefined;
        for (const arg of line.args) {
          const name = arg.slice(0, arg.indexOf('='));
          if (!this.list('setenv').some((e) => e.value.slice(0, e.value.indexOf('=')) === name)) {
            this.append('setenv', arg, source, false);
          }
        }
        return undefined;
      case 'proxyjump': {
        // parse_jump: ignored once ProxyCommand or ProxyJump was obtained; `#` ends the value.
        const value = stripComment(line.rest.replace(/^[\s=]+/, ''));
        validateJump(value, where);
        if (this.single.has('proxycommand') || this.single.has('proxyjump')) return undefined;
        this.setIfUnset('proxyjump', [value], source);
        // A real jump host occupies ProxyCommand too ("none"), so a later ProxyCommand cannot win;
        // `ProxyJump none` does not, so a later ProxyCommand still applies (OpenSSH 9.2 parse_jump).
        if (value.toLowerCase() !== 'none') this.setIfUnset('proxycommand', ['none'], source);
        return undefined;
      }
      case 'port': {
        const port = Number(first);
        if (!/^\d+$/.test(first) || port < 1 || port > 65535) throw new SshConfigError(`bad port "${first}"`, where);
        this.setIfUnset(key, [String(port)], source);
        return undefined;
      }
      default:
        break;
    }
    if (WHOLE_LINE.has(key)) {
      this.setIfUnset(key, [line.rest.replace(/^[\s=]+/, '')], source);
      return undefined;
    }
    if (ARGUMENT_LIST.has(key)) {
      this.setIfUnset(key, line.args, source);
      return undefined;
    }
    const choices = CHOICES[key];
    if (choices) {
      const printed = choices[first.toLowerCase()];
      if (printed === undefined) {
        throw new SshConfigError(`unsupported value "${first}" for ${line.keyword} (allowed: ${Object.keys(choices).join(', ')})`, where);
      }
      this.setIfUnset(key, [printed], source);
      return undefined;
    }
    if (INTEGER_KEYS.has(key)) {
      if (!/^-?\d+$/.test(first)) throw new SshConfigError(`bad number "${first}" for ${line.keyword}`, where);
      this.setIfUnset(key, [String(Number(first))], source);
      return undefined;
    }
    if (TIME_KEYS.has(key)) {
      const seconds = key === 'connecttimeout' && first === 'none' ? 'none' : convtime(first);
      if (seconds === undefined) throw new SshConfigError(`invalid time value "${first}" for ${line.keyword}`, where);
      this.setIfUnset(key, [String(seconds)], source);
      return undefined;
    }
    this.setIfUnset(key, [first], source);
    return undefined;
  }

  private applyAccumulating(key: string, line: ConfigLine, source: ConfigSource): void {
    const where = { file: line.file, line: line.line };
    switch (key) {
      case 'identityfile':
        if (this.list(key).length >= MAX_IDENTITY_FILES) {
          throw new SshConfigError(`too many identity files specified (max ${MAX_IDENTITY_FILES})`, where);
        }
        this.append(key, line.args[0]!, source, true);
        return;
      case 'certificatefile':
        this.append(key, line.args[0]!, source, true);
        return;
      case 'sendenv':
        for (const arg of line.args) {
          if (arg.includes('=')) throw new SshConfigError(`invalid environment name "${arg}" for SendEnv`, where);
          if (arg.startsWith('-')) this.removeSendEnv(arg.slice(1));
          else this.append(key, arg, source, false);
        }
        return;
      default:
        this.append(key, line.args.join(' '), source, true);
    }
  }

  /** readconf.c rm_env(): `SendEnv -PATTERN` drops earlier names matching PATTERN. */
  private removeSendEnv(pattern: string): void {
    const kept = this.list('sendenv').filter((e) => !matchPattern(e.value, pattern));
    this.lists.set('sendenv', kept);
  }

  private isIgnoredUnknown(keyword: string): boolean {
    const patterns = this.single.get('ignoreunknown')?.values ?? [];
    return patterns.some((p) => p.split(',').some((q) => matchPattern(keyword, q.toLowerCase())));
  }
}

function stripComment(value: string): string {
  const hash = value.indexOf('#');
  return (hash >= 0 ? value.slice(0, hash) : value).trimEnd();
}

/** Cheap syntax check of a ProxyJump list: comma-separated [user@]host[:port] or ssh:// URIs, or none. */
function validateJump(value: string, where: { file: string; line: number }): void {
  if (value.toLowerCase() === 'none') return;
  for (const hop of value.split(',')) {
    if (hop === '' || /\s/.test(hop) || hop.startsWith('-')) {
      throw new SshConfigError(`invalid ProxyJump "${value}"`, where);
    }
  }
}

/** misc.c convtime(): "90", "1m30s", "2h"... → seconds; undefined when malformed. */
export function convtime(text: string): number | undefined {
  if (text === '') return undefined;
  const units: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  let total = 0;
  const re = /(\d+)([smhdwSMHDW]?)/y;
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) return undefined;
    total += Number(m[1]) * units[m[2]!.toLowerCase()]!;
    pos = re.lastIndex;
  }
  return total;
}
