// The option store filled while reading config files: first obtained value wins, except for the
// keywords that accumulate. Mirrors readconf.c process_config_line_depth for the option keywords.
import type { ConfigSource } from '../types.js';
import { validDomain } from './address.js';
import { isAlgorithmKeyword, validateAlgorithmSpec } from './algorithms.js';
import {
  APPLE_ONLY_KEYWORDS,
  CHOICES,
  INTEGER_KEYS,
  KEYWORD_ALIASES,
  MAX_IDENTITY_FILES,
  OTHER_KNOWN_KEYWORDS,
  SSH_G_ORDER,
  TIME_KEYS,
} from './defaults.js';
import { SshConfigError } from './errors.js';
import { parseForward, sameForward, type Forward } from './forwards.js';
import { parseJump } from './jump.js';
import type { ConfigLine } from './lexer.js';
import { matchPattern, matchPatternList } from './patterns.js';
import { a2port } from './ports.js';
import { expandTokens } from './tokens.js';

export interface StoredValue {
  /** Arguments as OpenSSH keeps them (one for most keywords; several for list keywords). */
  readonly values: readonly string[];
  readonly source: ConfigSource;
}

/** Keywords where every active line adds values instead of first-wins. */
const ACCUMULATING = new Set(['identityfile', 'certificatefile', 'sendenv']);
const FORWARDS = new Set(['localforward', 'remoteforward', 'dynamicforward']);
/** Keywords whose value is the raw rest of the line (quotes and `#` kept), as OpenSSH's parse_command. */
const WHOLE_LINE = new Set(['proxycommand', 'localcommand', 'remotecommand', 'knownhostscommand']);
/** First-wins keywords whose value is the whole argument list of that line. */
const ARGUMENT_LIST = new Set([
  'userknownhostsfile',
  'globalknownhostsfile',
  'permitremoteopen',
  'canonicalizepermittedcnames',
]);

/** Keywords that take every argument of the line (the rest take one, see maxArguments). */
const ANY_NUMBER_OF_ARGUMENTS: ReadonlySet<string> = new Set([
  'sendenv', 'setenv', 'userknownhostsfile', 'globalknownhostsfile', 'canonicaldomains', 'canonicalizepermittedcnames',
  'logverbose', 'permitremoteopen', 'proxycommand', 'localcommand', 'remotecommand', 'knownhostscommand', 'proxyjump',
  // oIgnore / oDeprecated / oUnsupported consume the line
  'protocol', 'cipher', 'fallbacktorsh', 'globalknownhostsfile2', 'rhostsauthentication', 'userknownhostsfile2', 'useroaming',
  'usersh', 'useprivilegedport', 'afstokenpassing', 'kerberosauthentication', 'kerberostgtpassing', 'rsaauthentication',
  'rhostsrsaauthentication', 'compressionlevel', 'smartcarddevice', 'usekeychain',
]);
const TWO_ARGUMENTS: ReadonlySet<string> = new Set(['ipqos', 'rekeylimit', 'localforward', 'remoteforward', 'addkeystoagent']);

/** readconf.c: "keyword X extra arguments at end of line" when a line has more arguments than its keyword reads. */
function maxArguments(key: string): number {
  if (ANY_NUMBER_OF_ARGUMENTS.has(key)) return Infinity;
  return TWO_ARGUMENTS.has(key) ? 2 : 1;
}

const KNOWN_KEYWORDS: ReadonlySet<string> = new Set([
  ...SSH_G_ORDER.map(([k]) => k.toLowerCase()),
  ...OTHER_KNOWN_KEYWORDS,
  ...Object.keys(KEYWORD_ALIASES),
]);

export function canonicalKeyword(keyword: string): string {
  return KEYWORD_ALIASES[keyword] ?? keyword;
}

/** Whether OpenSSH knows the keyword; Apple's ssh also knows UseKeychain (so on macOS it is no problem). */
export function isKnownKeyword(keyword: string, platform: NodeJS.Platform): boolean {
  const key = canonicalKeyword(keyword);
  return KNOWN_KEYWORDS.has(key) || (platform === 'darwin' && APPLE_ONLY_KEYWORDS.has(key));
}

export interface StoredForward {
  readonly forward: Forward;
  readonly source: ConfigSource;
}

/** Lines already checked (lexed lines are cached per file, so this spans every host resolved from it). */
const VALIDATED = new WeakSet<ConfigLine>();

/** Whether the line, in a block that does not apply, has been checked and does nothing (no warning, no effect). */
export function isInertWhenInactive(line: ConfigLine): boolean {
  return VALIDATED.has(line);
}

export class OptionStore {
  private readonly single = new Map<string, StoredValue>();
  private readonly lists = new Map<string, { value: string; source: ConfigSource }[]>();
  /** OpenSSH keeps Local and Dynamic forwards in one list (their order matters for ssh -G). */
  private readonly forwardLists = { local: [] as StoredForward[], remote: [] as StoredForward[] };

  constructor(
    private readonly platform: NodeJS.Platform = process.platform,
    private readonly env: Record<string, string | undefined> = process.env,
  ) {}

  forwards(kind: 'local' | 'remote'): readonly StoredForward[] {
    return this.forwardLists[kind];
  }

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

  /**
   * Reads one option line. Like OpenSSH, every line is checked whether or not its block applies
   * (a bad value anywhere is an error); only `active` lines set values. Returns a warning for an
   * unknown keyword (policy: reported with file:line and skipped, see README), unless IgnoreUnknown
   * covers it.
   */
  apply(line: ConfigLine, active: boolean): string | undefined {
    // Known-keyword lines already checked: inactive ones have nothing left to do (the common case).
    if (!active && VALIDATED.has(line)) return undefined;
    const key = canonicalKeyword(line.keyword);
    const source: ConfigSource = { file: line.file, line: line.line };
    const where = { file: line.file, line: line.line };
    if (!isKnownKeyword(key, this.platform)) {
      if (this.isIgnoredUnknown(line.keyword)) return undefined;
      return (
        `${line.file}:${line.line}: Bad configuration option: ${line.keyword} — OpenSSH refuses this config; Flotilla skips the line. ` +
        `Remove it, or put "IgnoreUnknown ${line.keyword}" before it`
      );
    }
    const first = line.args[0];
    if (first === undefined) throw new SshConfigError(`missing argument for "${line.keyword}"`, where);
    if (line.args.length > maxArguments(key)) {
      throw new SshConfigError(`keyword ${line.keyword} extra arguments at end of line: ${line.args.slice(maxArguments(key)).join(' ')}`, where);
    }

    if (FORWARDS.has(key)) {
      this.applyForward(key, line, active);
      if (!active && !line.rest.includes('${')) VALIDATED.add(line);
      return undefined;
    }
    if (isAlgorithmKeyword(key)) {
      if (!VALIDATED.has(line)) {
        validateAlgorithmSpec(key, first, where);
        VALIDATED.add(line);
      }
      if (active) this.setIfUnset(key, [first], source);
      return undefined;
    }
    if (!active) {
      // A line's validity does not depend on the host: check it once per lexed line, not once per host and pass.
      this.validateInactive(key, line);
      if (!line.rest.includes('${')) VALIDATED.add(line);
      return undefined;
    }
    if (ACCUMULATING.has(key)) {
      this.applyAccumulating(key, line, source);
      return undefined;
    }
    switch (key) {
      case 'rekeylimit':
        this.applyRekeyLimit(line, true);
        return undefined;
      case 'setenv':
        // readconf.c: only the first SetEnv line counts; duplicate names inside it are dropped.
        checkSetEnv(line);
        if (this.lists.has('setenv')) return undefined;
        for (const arg of line.args) {
          const name = arg.slice(0, arg.indexOf('='));
          if (!this.list('setenv').some((e) => e.value.slice(0, e.value.indexOf('=')) === name)) {
            this.append('setenv', arg, source, false);
          }
        }
        return undefined;
      case 'proxyjump': {
        // parse_jump: ignored once ProxyCommand or ProxyJump was obtained.
        const jump = checkedJump(line);
        if (this.single.has('proxycommand') || this.single.has('proxyjump')) return undefined;
        this.setIfUnset('proxyjump', [jump.none ? 'none' : jump.raw], source);
        // A real jump host occupies ProxyCommand too ("none"), so a later ProxyCommand cannot win;
        // `ProxyJump none` does not, so a later ProxyCommand still applies (OpenSSH 9.2 parse_jump).
        if (!jump.none) this.setIfUnset('proxycommand', ['none'], source);
        return undefined;
      }
      default:
        this.setIfUnset(key, parseValues(key, line), source);
        return undefined;
    }
  }

  /** The checks OpenSSH makes on a line whose block does not apply. */
  private validateInactive(key: string, line: ConfigLine): void {
    switch (key) {
      case 'proxyjump':
        checkedJump(line);
        return;
      case 'rekeylimit':
        this.applyRekeyLimit(line, false);
        return;
      case 'setenv':
        checkSetEnv(line);
        return;
      default:
        if (!ACCUMULATING.has(key)) parseValues(key, line);
    }
  }

  /** RekeyLimit BYTES [INTERVAL]: the two values are first-wins independently (readconf.c). */
  private applyRekeyLimit(line: ConfigLine, active: boolean): void {
    const where = { file: line.file, line: line.line };
    const [amount, interval] = line.args as [string, string | undefined];
    let bytes: bigint;
    if (amount === 'default') bytes = 0n;
    else {
      const scanned = scanScaled(amount);
      if (scanned === undefined) throw new SshConfigError(`Bad number '${amount}' for RekeyLimit`, where);
      if (scanned !== 0n && scanned < 16n) throw new SshConfigError('RekeyLimit too small (at least 16 bytes, or 0/default)', where);
      bytes = scanned;
    }
    const source = { file: line.file, line: line.line };
    if (active) this.setIfUnset('rekeylimit', [String(bytes)], source);
    if (interval === undefined || interval === 'none') return;
    const seconds = convtime(interval);
    if (seconds === undefined) throw new SshConfigError(`invalid time value "${interval}" for RekeyLimit`, where);
    if (active) this.setIfUnset('rekeyinterval', [String(seconds)], source);
  }

  /** Local/Remote/DynamicForward: parsed and checked on every line, added (without duplicates) when active. */
  private applyForward(key: string, line: ConfigLine, active: boolean): void {
    const where = { file: line.file, line: line.line };
    const remote = key === 'remoteforward';
    let dynamic = key === 'dynamicforward';
    let spec = line.args[0]!;
    if (!dynamic) {
      const target = line.args[1];
      if (target === undefined || target === '') {
        if (remote) dynamic = true;
        else throw new SshConfigError('Missing target argument for LocalForward', where);
      } else spec = `${spec}:${target}`;
    }
    let expanded: string;
    try {
      expanded = expandTokens(spec, {}, { env: this.env, dollarOnly: true, where: { ...where, what: line.keyword } });
    } catch {
      throw new SshConfigError(`Bad forwarding specification "${line.args.join(' ')}" (an environment variable in it is not set)`, where);
    }
    const forward = parseForward(expanded, dynamic, remote, a2port);
    if (!forward) throw new SshConfigError(`Bad forwarding specification "${line.args.join(' ')}"`, where);
    if (!active) return;
    const list = this.forwardLists[remote ? 'remote' : 'local'];
    if (!list.some((e) => sameForward(e.forward, forward))) list.push({ forward, source: { file: line.file, line: line.line } });
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

  /** parse_token(): match_pattern_list(keyword, IgnoreUnknown, dolower=1). */
  private isIgnoredUnknown(keyword: string): boolean {
    const patterns = this.first('ignoreunknown');
    return patterns !== undefined && matchPatternList(keyword, patterns, true);
  }
}

function whereOf(line: ConfigLine): { file: string; line: number } {
  return { file: line.file, line: line.line };
}

/** Keywords with their own syntax: the values a line stores (run on inactive lines too, for the checks). */
const VALUE_PARSERS: Readonly<Record<string, (line: ConfigLine) => readonly string[]>> = {
  escapechar: (l) => [parseEscapeChar(l.args[0]!, whereOf(l))],
  canonicaldomains: (l) => canonicalDomains(l),
  canonicalizepermittedcnames: (l) => permittedCnames(l),
  addkeystoagent: (l) => [addKeysToAgent(l)],
  ipqos: (l) => ipQoS(l),
  userknownhostsfile: (l) => noneAlone(l),
  globalknownhostsfile: (l) => noneAlone(l),
  // readconf.c 9.2 appends only while the list is empty, so only a line's first pattern is kept.
  logverbose: (l) => [noneAlone(l)[0]!],
  permitremoteopen: (l) => permitRemoteOpen(l),
  port: (l) => {
    const port = a2port(l.args[0]!);
    if (port <= 0) throw new SshConfigError(`Bad port '${l.args[0]}' (a number 1-65535 or a service name)`, whereOf(l));
    return [String(port)];
  },
  streamlocalbindmask: (l) => {
    const arg = l.args[0]!;
    if (!/^[0-7]+$/.test(arg) || parseInt(arg, 8) > 0o777) throw new SshConfigError(`Bad mask "${arg}" for StreamLocalBindMask (octal, at most 0777)`, whereOf(l));
    return [`0${parseInt(arg, 8).toString(8)}`];
  },
  tunneldevice: (l) => {
    const m = /^(any|\d+)(?::(any|\d+))?$/.exec(l.args[0]!);
    if (!m) throw new SshConfigError(`Bad tun device "${l.args[0]}" (LOCAL[:REMOTE], each a number or any)`, whereOf(l));
    return [`${m[1]}:${m[2] ?? 'any'}`];
  },
};

/** The stored values of a first-wins keyword line, checked as readconf.c does. */
function parseValues(key: string, line: ConfigLine): readonly string[] {
  const parser = VALUE_PARSERS[key];
  if (parser) return parser(line);
  if (WHOLE_LINE.has(key)) return [line.rest.replace(/^[\s=]+/, '')];
  if (ARGUMENT_LIST.has(key)) return line.args;
  const first = line.args[0]!;
  const choices = CHOICES[key];
  if (choices) {
    const printed = choices[first.toLowerCase()];
    if (printed === undefined) {
      throw new SshConfigError(`unsupported value "${first}" for ${line.keyword} (allowed: ${Object.keys(choices).join(', ')})`, whereOf(line));
    }
    return [printed];
  }
  if (INTEGER_KEYS.has(key)) {
    // misc.c atoi_err(): 0..INT_MAX
    if (/^-\d+$/.test(first)) throw new SshConfigError(`integer value too small: "${first}" for ${line.keyword}`, whereOf(line));
    if (!/^\d+$/.test(first) || Number(first) > 2147483647) throw new SshConfigError(`bad number "${first}" for ${line.keyword}`, whereOf(line));
    return [String(Number(first))];
  }
  if (TIME_KEYS.has(key)) return [parseTime(key, line)];
  return [first];
}

function checkSetEnv(line: ConfigLine): void {
  for (const arg of line.args) {
    if (!arg.includes('=')) throw new SshConfigError(`invalid SetEnv "${arg}" (expected NAME=VALUE)`, whereOf(line));
  }
}

/** readconf.c PermitRemoteOpen: "any" or "none" alone, or HOST:PORT entries (PORT a port or "*"). */
function permitRemoteOpen(line: ConfigLine): readonly string[] {
  const args = line.args;
  if (args.length > 1 && args.some((a) => /^(any|none)$/i.test(a))) {
    throw new SshConfigError(`keyword permitremoteopen "${args.find((a) => /^(any|none)$/i.test(a))}" argument must appear alone`, whereOf(line));
  }
  if (args.length === 1 && /^(any|none)$/i.test(args[0]!)) return args;
  for (const arg of args) {
    const m = /^(\[[^\]]*\]|[^:[\]]+):(.*)$/.exec(arg);
    if (!m || m[1] === '' || !(m[2] === '*' || a2port(m[2]!) > 0)) {
      throw new SshConfigError(`bad port number in permitremoteopen "${arg}" (HOST:PORT, PORT a number or *)`, whereOf(line));
    }
  }
  return args;
}

function checkedJump(line: ConfigLine): Exclude<ReturnType<typeof parseJump>, undefined> {
  const value = line.rest.replace(/^[ \t\r\n=]+/, '');
  const jump = parseJump(value);
  if (!jump) {
    throw new SshConfigError(
      `Invalid ProxyJump "${value}": each hop must be [user@]host[:port] or ssh://[user@]host[:port] (IPv6 in brackets)`,
      { file: line.file, line: line.line },
    );
  }
  return jump;
}

/** readconf.c AddKeysToAgent: yes/no/ask/confirm, "confirm TIME", or TIME alone (= yes, with a lifetime); printed as ssh -G does. */
function addKeysToAgent(line: ConfigLine): string {
  const where = { file: line.file, line: line.line };
  const [arg, lifetime] = line.args as [string, string | undefined];
  const choice = CHOICES.addkeystoagent![arg.toLowerCase()];
  let seconds = 0;
  if (choice === 'confirm' && lifetime !== undefined) {
    const t = convtime(lifetime);
    if (t === undefined) throw new SshConfigError(`invalid time value "${lifetime}" for AddKeysToAgent`, where);
    seconds = t;
  } else if (choice === undefined && lifetime === undefined) {
    const t = convtime(arg);
    if (t === undefined) throw new SshConfigError(`unsupported value "${arg}" for AddKeysToAgent (yes, no, ask, confirm, a time, or "confirm TIME")`, where);
    seconds = t;
  } else if (choice === undefined || lifetime !== undefined) {
    throw new SshConfigError(`unsupported value "${line.args.join(' ')}" for AddKeysToAgent`, where);
  }
  if (seconds <= 0) return choice ?? 'true';
  return choice === 'confirm' ? `confirm ${seconds}` : String(seconds);
}

/** misc.c ipqos[]: names by value (the first name of a value is how ssh -G prints it). */
const IPQOS: ReadonlyArray<[string, number]> = [
  ['none', 0x7fffffff], ['af11', 0x28], ['af12', 0x30], ['af13', 0x38], ['af21', 0x48], ['af22', 0x50], ['af23', 0x58],
  ['af31', 0x68], ['af32', 0x70], ['af33', 0x78], ['af41', 0x88], ['af42', 0x90], ['af43', 0x98], ['cs0', 0x00], ['cs1', 0x20],
  ['cs2', 0x40], ['cs3', 0x60], ['cs4', 0x80], ['cs5', 0xa0], ['cs6', 0xc0], ['cs7', 0xe0], ['ef', 0xb8], ['le', 0x04],
  ['lowdelay', 0x10], ['throughput', 0x08], ['reliability', 0x04],
];

/** readconf.c IPQoS INTERACTIVE [BULK] (bulk defaults to interactive), printed as iptos2str() does. */
function ipQoS(line: ConfigLine): string[] {
  const toName = (arg: string): string => {
    const named = IPQOS.find(([n]) => n === arg.toLowerCase());
    let value = named?.[1];
    if (value === undefined && /^(0x[0-9a-f]+|0[0-7]*|[1-9][0-9]*)$/i.test(arg)) {
      const v = /^0x/i.test(arg) ? parseInt(arg.slice(2), 16) : /^0/.test(arg) ? parseInt(arg, 8) : Number(arg);
      if (v <= 255) value = v;
    }
    if (value === undefined) throw new SshConfigError(`Bad IPQoS value: ${arg}`, { file: line.file, line: line.line });
    return IPQOS.find(([, v]) => v === value)?.[0] ?? `0x${value.toString(16).padStart(2, '0')}`;
  };
  const interactive = toName(line.args[0]!);
  return [interactive, line.args[1] === undefined ? interactive : toName(line.args[1])];
}

/** readconf.c: for list keywords "none" is allowed only as the sole argument. */
function noneAlone(line: ConfigLine): readonly string[] {
  if (line.args.length > 1 && line.args.some((a) => a.toLowerCase() === 'none')) {
    throw new SshConfigError(`keyword ${line.keyword} "none" argument must appear alone`, { file: line.file, line: line.line });
  }
  return line.args;
}

/** readconf.c CanonicalDomains: valid domain names (lower-cased, trailing "." dropped), or "none" alone. */
function canonicalDomains(line: ConfigLine): string[] {
  const where = { file: line.file, line: line.line };
  return line.args.map((arg, i) => {
    if (arg.toLowerCase() === 'none' && (i > 0 || line.args.length > 1)) {
      throw new SshConfigError('CanonicalDomains "none" must appear alone', where);
    }
    if (!validDomain(arg)) throw new SshConfigError(`CanonicalDomains: "${arg}" is not a valid domain name`, where);
    return arg.toLowerCase().replace(/\.$/, '');
  });
}

/** readconf.c CanonicalizePermittedCNAMEs: SOURCES:TARGETS rules (lower-cased; TARGETS not empty), or "none" alone. */
function permittedCnames(line: ConfigLine): readonly string[] {
  const args = noneAlone(line);
  if (args.length === 1 && args[0]!.toLowerCase() === 'none') return ['none'];
  return args.map((arg) => {
    const rule = arg.toLowerCase();
    const colon = rule.indexOf(':');
    if (colon < 0 || colon === rule.length - 1) {
      throw new SshConfigError(`Invalid permitted CNAME "${arg}" (SOURCE_PATTERNS:TARGET_PATTERNS)`, whereOf(line));
    }
    return rule;
  });
}

function parseTime(key: string, line: ConfigLine): string {
  const first = line.args[0]!;
  const seconds = key === 'connecttimeout' && first === 'none' ? 'none' : convtime(first);
  if (seconds === undefined) throw new SshConfigError(`invalid time value "${first}" for ${line.keyword}`, { file: line.file, line: line.line });
  return String(seconds);
}

/** readconf.c EscapeChar: "none", one character, or ^X; stored as ssh -G prints it (vis(3) VIS_WHITE). */
function parseEscapeChar(arg: string, where: { file: string; line: number }): string {
  if (arg === 'none') return 'none';
  const bytes = Buffer.from(arg, 'utf8');
  let code: number;
  if (bytes.length === 1) code = bytes[0]!;
  else if (bytes.length === 2 && bytes[0] === 0x5e && bytes[1]! >= 64 && bytes[1]! < 128) code = bytes[1]! & 31;
  else throw new SshConfigError(`Bad escape character "${arg}" (use one character, ^X, or none)`, where);
  return visChar(code);
}

function visChar(c: number): string {
  if (c === 0x5c) return '\\\\';
  if (c === 0x20) return '\\040';
  if (c > 0x20 && c < 0x7f) return String.fromCharCode(c);
  const meta = c & 0x80 ? 'M' : '';
  const low = c & 0x7f;
  if (low < 0x20 || low === 0x7f) return `\\${meta}^${low === 0x7f ? '?' : String.fromCharCode(low + 64)}`;
  return `\\${meta}-${String.fromCharCode(low)}`;
}

const SCALE: Readonly<Record<string, number>> = { B: 0, K: 10, M: 20, G: 30, T: 40, P: 50, E: 60 };

/** fmt_scaled.c scan_scaled(): "42G", "1.5M", "100" → bytes (powers of 1024); undefined when malformed. */
export function scanScaled(text: string): bigint | undefined {
  const m = /^(-?\d+)(?:\.(\d+))?([BKMGTPE])?$/i.exec(text);
  if (!m) return undefined;
  const whole = BigInt(m[1]!);
  const unit = m[3]?.toUpperCase();
  if (unit === undefined) return whole;
  const scale = 1n << BigInt(SCALE[unit]!);
  const fraction = m[2] ?? '';
  const fpart = fraction === '' ? 0n : (BigInt(fraction) * scale) / 10n ** BigInt(fraction.length);
  return whole * scale + fpart;
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
