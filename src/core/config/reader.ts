// Reading config files the way readconf.c read_config_file_depth does: Host/Match activity, Include
// (glob, relative base, conditional, state restored afterwards, depth limit) and Match evaluation.
import { open, readdir, stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { readAtMost } from './boundedRead.js';
import { MAX_CONFIG_FILE_BYTES, MAX_INCLUDE_DEPTH, SYSTEM_CONFIG_DIR } from './defaults.js';
import { SshConfigError } from './errors.js';
import { lexConfig, strdelimAll, type ConfigLine } from './lexer.js';
import { runMatchExec, DEFAULT_MATCH_EXEC_TIMEOUT_MS } from './matchExec.js';
import { isInertWhenInactive, type OptionStore } from './options.js';
import { hasGlobMagic, hostLineMatches, matchGlobSegment, matchPatternList } from './patterns.js';
import { connectionHash, expandTokens, tildeExpand } from './tokens.js';

export interface LocalIdentity {
  homeDir: string;
  localUser: string;
  localHostname: string;
  env: Record<string, string | undefined>;
}

export interface PassContext extends LocalIdentity {
  /** The uid ssh compares file owners with ("Bad owner or permissions"). */
  readonly uid: number;
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
  /** ~/.ssh/config and every Include are refused when group/world-writable or owned by someone else (SSHCONF_CHECKPERM). */
  readonly checkPerm: boolean;
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
  const lines = await lexedFile(file, flags.checkPerm ? ctx.uid : undefined);
  if (lines === undefined) return false;
  const here = [...chain, file];
  const blocks = blocksOf(lines);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    // Only Match (exec) and Include wait for anything; the rest stays synchronous (a fleet resolves
    // every alias against the same lines, so per-line overhead adds up).
    if (line.keyword === 'match') activity.active = (await evaluateMatch(ctx, line, flags.neverMatch)) && !flags.neverMatch;
    else if (line.keyword === 'include') await processInclude(ctx, line, flags, activity, here);
    else if (line.keyword === 'host') activity.active = !flags.neverMatch && hostLineMatches(ctx.hostForHostLines, line.args);
    else if (activity.active) applyOption(ctx, line, true);
    else {
      // The option lines up to the next Host/Match/Include, in a block that does not apply: each is checked
      // (once per lexed line); when none has anything left to say, later passes skip the whole run.
      const end = blocks.end[i]!;
      if (!blocks.inert[i]) {
        let inert = true;
        for (let j = i; j < end; j++) {
          applyOption(ctx, lines[j]!, false);
          inert &&= isInertWhenInactive(lines[j]!);
        }
        blocks.inert[i] = inert ? 1 : 0;
      }
      i = end - 1;
    }
  }
  return true;
}

interface Blocks {
  /** For each line, the index of the next Host, Match or Include line after it (or the end). */
  readonly end: Int32Array;
  /** 1 at the start of a run of option lines known to do nothing while their block does not apply. */
  readonly inert: Uint8Array;
}

const blocksByFile = new WeakMap<readonly ConfigLine[], Blocks>();

function blocksOf(lines: readonly ConfigLine[]): Blocks {
  let blocks = blocksByFile.get(lines);
  if (blocks) return blocks;
  const end = new Int32Array(lines.length);
  let next = lines.length;
  for (let i = lines.length - 1; i >= 0; i--) {
    end[i] = next;
    const k = lines[i]!.keyword;
    if (k === 'host' || k === 'match' || k === 'include') next = i;
  }
  blocks = { end, inert: new Uint8Array(lines.length) };
  blocksByFile.set(lines, blocks);
  return blocks;
}

function applyOption(ctx: PassContext, line: ConfigLine, active: boolean): void {
  const warning = ctx.store.apply(line, active);
  if (warning && !ctx.warnings.includes(warning)) ctx.warnings.push(warning);
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
      await readConfigFile(
        ctx,
        file,
        { userConfig: flags.userConfig, neverMatch: flags.neverMatch || !outerActive, checkPerm: true },
        activity,
        chain,
      );
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

/** The file is the one lexed (same inode, size and mtime). */
function unchangedSince(lexed: { mtimeMs: number; size: number; ino: number }, st: { mtimeMs: number; size: number; ino: number }): boolean {
  return lexed.mtimeMs === st.mtimeMs && lexed.size === st.size && lexed.ino === st.ino;
}

/**
 * Lexed lines per file, reused while the file's mtime and size are unchanged: a fleet resolves every
 * alias against the same few files, and lexing them again for each alias dominated cold connects.
 */
const lexCache = new Map<string, { mtimeMs: number; size: number; ino: number; lines: Promise<readonly ConfigLine[]> }>();

/**
 * The lexed lines of a config file, or undefined when it does not exist. With `ownerUid` set, refuses
 * the file like ssh's "Bad owner or permissions" (owned by neither root nor the user, or writable by
 * group/others). Input is bounded: a file larger than MAX_CONFIG_FILE_BYTES (or an endless device) is an error.
 */
export async function lexedFile(file: string, ownerUid?: number): Promise<readonly ConfigLine[] | undefined> {
  const known = lexCache.get(file);
  if (known) {
    // Unchanged since it was lexed (same inode, size and mtime): one stat instead of an open, fstat and close.
    const st = await stat(file).catch(() => undefined);
    if (st?.isFile() && unchangedSince(known, st)) {
      if (ownerUid !== undefined && process.platform !== 'win32') checkOwnerAndMode(file, st, ownerUid);
      return await known.lines;
    }
  }
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      lexCache.delete(file);
      return undefined;
    }
    throw new SshConfigError(`cannot read config file: ${(e as Error).message}`, { file });
  }
  try {
    const st = await handle.stat();
    if (ownerUid !== undefined && process.platform !== 'win32') checkOwnerAndMode(file, st, ownerUid);
    const cached = lexCache.get(file);
    if (st.isFile() && cached && unchangedSince(cached, st)) return await cached.lines;
    // The promise is cached, so aliases resolved concurrently share one read and lex of each file.
    const lines = readBounded(handle, file).then((text) => lexConfig(text, file));
    if (st.isFile()) {
      lexCache.set(file, { mtimeMs: st.mtimeMs, size: st.size, ino: st.ino, lines });
      lines.catch(() => lexCache.delete(file));
    }
    return await lines;
  } finally {
    await handle.close();
  }
}

function checkOwnerAndMode(file: string, st: { uid: number; mode: number }, uid: number): void {
  const badOwner = st.uid !== 0 && st.uid !== uid;
  if (badOwner || (st.mode & 0o022) !== 0) {
    const why = badOwner ? `it is owned by uid ${st.uid}, not by you or root` : `it is writable by ${st.mode & 0o002 ? 'everyone' : 'its group'}`;
    throw new SshConfigError(
      `Bad owner or permissions on ${file}: ${why} (mode ${(st.mode & 0o777).toString(8).padStart(3, '0')}), so anyone could change how you connect; ssh refuses it too. Fix: chmod go-w ${JSON.stringify(file)}`,
      { file },
    );
  }
}

async function readBounded(handle: Awaited<ReturnType<typeof open>>, file: string): Promise<string> {
  const text = await readAtMost(handle, MAX_CONFIG_FILE_BYTES);
  if (text === undefined) {
    throw new SshConfigError(
      `config file is larger than ${MAX_CONFIG_FILE_BYTES / 1048576} MiB (or never ends); an ssh config is a small text file — check that this is the right file`,
      { file },
    );
  }
  return text;
}

/** readconf.c match_cfg_line() for OpenSSH 9.2. */
async function evaluateMatch(ctx: PassContext, line: ConfigLine, neverMatch: boolean): Promise<boolean> {
  const where = { file: line.file, line: line.line };
  const tokens = strdelimAll(line.rest);
  if (tokens === undefined) throw new SshConfigError('invalid quotes in Match line', where);
  const args = tokens;
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
  // match_cfg_line: tokens come from strdelim (so `host=web` is two tokens); an empty token ends
  // the criteria, a token starting with "#" starts a comment.
  let i = 0;
  for (; i < args.length && args[i] !== ''; ) {
    const raw = args[i++]!;
    if (raw.startsWith('#')) {
      i = args.length;
      break;
    }
    const negate = raw.startsWith('!');
    const attribute = (negate ? raw.slice(1) : raw).toLowerCase();
    if (attribute === 'all') {
      const next = args[i];
      if (attributes > 1 || (next !== undefined && next !== '' && !next.startsWith('#'))) {
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
    const value = args[i++];
    if (value === undefined || value === '' || value.startsWith('#')) throw new SshConfigError(`missing Match criteria for ${raw}`, where);
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
  if (i + 1 < args.length) throw new SshConfigError(`extra arguments at end of Match line: ${args.slice(i + 1).join(' ')}`, where);
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
      i: String(ctx.uid),
    },
    { where: { ...where, what: 'Match exec' } },
  );
}

export { DEFAULT_MATCH_EXEC_TIMEOUT_MS };
