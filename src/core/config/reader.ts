// Reading config files the way readconf.c read_config_file_depth does: Host/Match activity, Include
// (glob, relative base, conditional, state restored afterwards, depth limit) and Match evaluation.
import { readdir, readFile, stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { MAX_INCLUDE_DEPTH, SYSTEM_CONFIG_DIR } from './defaults.js';
import { SshConfigError } from './errors.js';
import { lexConfig, type ConfigLine } from './lexer.js';
import { runMatchExec, DEFAULT_MATCH_EXEC_TIMEOUT_MS } from './matchExec.js';
import type { OptionStore } from './options.js';
import { hasGlobMagic, hostLineMatches, matchGlobSegment, matchPatternList } from './patterns.js';
import { connectionHash, expandTokens, tildeExpand } from './tokens.js';

export interface LocalIdentity {
  homeDir: string;
  localUser: string;
  localHostname: string;
  env: Record<string, string | undefined>;
}

export interface PassContext extends LocalIdentity {
  /** The alias as typed (`%n`, `Match originalhost`). */
  readonly alias: string;
  /** What `Host` lines are matched against: the alias in the first pass, the final host name in the final pass. */
  readonly hostForHostLines: string;
  readonly finalPass: boolean;
  readonly store: OptionStore;
  readonly matchExec: { enabled: boolean; timeoutMs: number };
  readonly warnings: string[];
  /** Set when a `Match final` line was seen (asks for a second pass). */
  wantFinalPass: boolean;
}

export interface FileFlags {
  /** User config (relative Include → ~/.ssh, `~` allowed) vs. system config (relative → /etc/ssh). */
  readonly userConfig: boolean;
  /** Inside an inactive block's Include: nothing in this file may become active. */
  readonly neverMatch: boolean;
}

interface Activity {
  active: boolean;
}

/** Reads one config file into the store. Returns false when the file does not exist. */
export async function readConfigFile(
  ctx: PassContext,
  file: string,
  flags: FileFlags,
  activity: Activity,
  chain: readonly string[],
): Promise<boolean> {
  const lines = await lexedFile(file);
  if (lines === undefined) return false;
  for (const line of lines) {
    await processLine(ctx, line, flags, activity, [...chain, `${file}`]);
  }
  return true;
}

async function processLine(
  ctx: PassContext,
  line: ConfigLine,
  flags: FileFlags,
  activity: Activity,
  chain: readonly string[],
): Promise<void> {
  switch (line.keyword) {
    case 'host':
      activity.active = !flags.neverMatch && hostLineMatches(ctx.hostForHostLines, line.args);
      return;
    case 'match': {
      const matched = await evaluateMatch(ctx, line, flags.neverMatch);
      activity.active = !flags.neverMatch && matched;
      return;
    }
    case 'include':
      await processInclude(ctx, line, flags, activity, chain);
      return;
    default:
      if (!activity.active) return;
      {
        const warning = ctx.store.apply(line);
        if (warning) ctx.warnings.push(warning);
      }
  }
}

async function processInclude(
  ctx: PassContext,
  line: ConfigLine,
  flags: FileFlags,
  activity: Activity,
  chain: readonly string[],
): Promise<void> {
  const where = { file: line.file, line: line.line };
  for (const arg of line.args) {
    const files = await expandIncludeArgument(arg, flags.userConfig, ctx, where);
    const outerActive = activity.active;
    for (const file of files) {
      const depth = chain.length; // the including file is at depth chain.length - 1
      if (chain.includes(file)) {
        throw new SshConfigError(`Include cycle: ${[...chain, file].join(' -> ')}`, where);
      }
      if (depth > MAX_INCLUDE_DEPTH) {
        throw new SshConfigError(
          `too many nested Includes (more than ${MAX_INCLUDE_DEPTH} levels): ${[...chain, file].join(' -> ')}`,
          where,
        );
      }
      await readConfigFile(ctx, file, { userConfig: flags.userConfig, neverMatch: flags.neverMatch || !outerActive }, activity, chain);
      // An included file's Host/Match lines must not change the including block's state.
      activity.active = outerActive;
    }
  }
}

/** Include argument → existing files, sorted like glob(3); a pattern matching nothing is not an error. */
export async function expandIncludeArgument(
  arg: string,
  userConfig: boolean,
  identity: Pick<LocalIdentity, 'homeDir' | 'localUser'>,
  where: { file: string; line: number },
): Promise<string[]> {
  if (arg.startsWith('~') && !userConfig) {
    throw new SshConfigError(`bad include path ${arg} ("~" is not allowed in the system config)`, where);
  }
  let path: string;
  if (arg.startsWith('~')) path = tildeExpand(arg, identity.homeDir, identity.localUser, where);
  else if (isAbsolute(arg)) path = arg;
  else path = userConfig ? join(identity.homeDir, '.ssh', arg) : join(SYSTEM_CONFIG_DIR, arg);
  return expandGlob(path);
}

async function expandGlob(path: string): Promise<string[]> {
  if (!hasGlobMagic(path)) return (await isFile(path)) ? [path] : [];
  const segments = path.split('/');
  let candidates = [segments[0] === '' ? '/' : segments[0]!];
  for (const segment of segments.slice(1)) {
    if (segment === '') continue;
    const next: string[] = [];
    for (const base of candidates) {
      if (!hasGlobMagic(segment)) {
        next.push(join(base, segment));
        continue;
      }
      let names: string[];
      try {
        names = await readdir(base);
      } catch {
        continue;
      }
      for (const name of names) if (matchGlobSegment(name, segment)) next.push(join(base, name));
    }
    candidates = next;
  }
  const files: string[] = [];
  for (const candidate of candidates) if (await isFile(candidate)) files.push(candidate);
  return files.sort(byteOrder);
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Lexed lines per file, reused while the file's mtime and size are unchanged: a fleet resolves every
 * alias against the same few files, and lexing them again for each alias dominated cold connects.
 */
const lexCache = new Map<string, { mtimeMs: number; size: number; ino: number; lines: Promise<readonly ConfigLine[] | undefined> }>();

async function lexedFile(file: string): Promise<readonly ConfigLine[] | undefined> {
  const st = await stat(file).catch(() => undefined);
  if (!st) {
    lexCache.delete(file);
    return readTextIfExists(file).then((text) => (text === undefined ? undefined : lexConfig(text, file)));
  }
  const cached = lexCache.get(file);
  if (cached && cached.mtimeMs === st.mtimeMs && cached.size === st.size && cached.ino === st.ino) return cached.lines;
  // The promise is cached, so aliases resolved concurrently share one read and lex of each file.
  const lines = readTextIfExists(file).then((text) => (text === undefined ? undefined : lexConfig(text, file)));
  lexCache.set(file, { mtimeMs: st.mtimeMs, size: st.size, ino: st.ino, lines });
  lines.catch(() => lexCache.delete(file));
  return lines;
}

async function readTextIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new SshConfigError(`cannot read config file: ${(e as Error).message}`, { file });
  }
}

/** readconf.c match_cfg_line() for OpenSSH 9.2. */
async function evaluateMatch(ctx: PassContext, line: ConfigLine, neverMatch: boolean): Promise<boolean> {
  const where = { file: line.file, line: line.line };
  const args = line.args;
  const store = ctx.store;
  const remoteUser = store.first('user') ?? ctx.localUser;
  const configuredHostName = store.first('hostname');
  const host = ctx.finalPass
    ? (configuredHostName ?? ctx.hostForHostLines)
    : configuredHostName !== undefined
      ? expandTokens(configuredHostName, { h: ctx.alias }, { where: { ...where, what: 'HostName' } })
      : ctx.alias;
  let result = true;
  let attributes = 0;
  for (let i = 0; i < args.length; i++) {
    const raw = args[i]!;
    const negate = raw.startsWith('!');
    const attribute = (negate ? raw.slice(1) : raw).toLowerCase();
    if (attribute === 'all') {
      if (attributes > 1 || i + 1 < args.length) {
        throw new SshConfigError(`'${raw}' cannot be combined with other Match attributes`, where);
      }
      if (result) result = !negate;
      return result;
    }
    attributes++;
    if (attribute === 'canonical' || attribute === 'final') {
      if (attribute === 'final' && !ctx.finalPass) ctx.wantFinalPass = true;
      if (ctx.finalPass === negate) result = false;
      continue;
    }
    const value = args[++i];
    if (value === undefined || value === '') throw new SshConfigError(`missing Match criteria for ${raw}`, where);
    let matched: boolean;
    switch (attribute) {
      case 'host':
        matched = matchPatternList(host, value, true);
        break;
      case 'originalhost':
        matched = matchPatternList(ctx.alias, value, true);
        break;
      case 'user':
        matched = matchPatternList(remoteUser, value, false);
        break;
      case 'localuser':
        matched = matchPatternList(ctx.localUser, value, false);
        break;
      case 'exec': {
        // OpenSSH skips the command once an earlier criterion failed.
        if (!result || neverMatch) continue;
        if (!ctx.matchExec.enabled) {
          ctx.warnings.push(
            `${line.file}:${line.line}: "Match exec" not evaluated (running commands from the ssh config is disabled); the block is treated as not matching`,
          );
          return false;
        }
        const command = expandMatchExec(ctx, value, host, remoteUser, where);
        const outcome = await runMatchExec(command, ctx.env, ctx.matchExec.timeoutMs);
        if (outcome.problem) ctx.warnings.push(`${line.file}:${line.line}: Match exec ${JSON.stringify(command)}: ${outcome.problem}`);
        matched = outcome.matched;
        break;
      }
      default:
        throw new SshConfigError(`unsupported Match attribute "${raw}"`, where);
    }
    if (matched === negate) result = false;
  }
  if (attributes === 0) throw new SshConfigError('one or more attributes required for Match', where);
  return result;
}

function expandMatchExec(
  ctx: PassContext,
  command: string,
  host: string,
  remoteUser: string,
  where: { file: string; line: number },
): string {
  const port = ctx.store.first('port') ?? '22';
  return expandTokens(
    command,
    {
      C: connectionHash(ctx.localHostname, host, port, remoteUser),
      L: ctx.localHostname.split('.')[0],
      d: ctx.homeDir,
      h: host,
      k: ctx.store.first('hostkeyalias') ?? host,
      l: ctx.localHostname,
      n: ctx.alias,
      p: port,
      r: remoteUser,
      u: ctx.localUser,
    },
    { where: { ...where, what: 'Match exec' } },
  );
}

export { DEFAULT_MATCH_EXEC_TIMEOUT_MS };
