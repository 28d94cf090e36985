// Local side of a push: walk the folder with lstat (never following links), honour .gitignore /
// .flotillaignore (nested, with negation) and explicit excludes, and say out loud what was skipped and why.
import { createHash } from 'node:crypto';
import { closeSync, constants, createReadStream, fstatSync, lstatSync, openSync, readdirSync, readFileSync, realpathSync, type BigIntStats, type Stats } from 'node:fs';
import { lstat, readFile, readlink, realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, posix, relative, resolve, sep } from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { badNameReason } from './names';
import type { LocalEntry, PathError, ScanResult, SkippedPath } from './types';

export interface ScanOptions {
  /** Extra gitignore-style patterns, relative to the root; they win over every ignore file. */
  exclude?: readonly string[];
  /** Ignore files read in every directory (default `.gitignore`, `.flotillaignore`). */
  ignoreFiles?: readonly string[];
}

export interface ScanOutput extends ScanResult {
  /** Things worth knowing that do not stop the push (name collisions on other filesystems). */
  warnings: SkippedPath[];
  /** Whether the ignore rules exclude a path (used to protect excluded remote files from deletion, as rsync does). */
  isExcluded(rel: string, isDir: boolean): boolean;
}

const ALWAYS_SKIPPED = new Set(['.git']);
const DEFAULT_IGNORE_FILES = ['.gitignore', '.flotillaignore'];

interface Matcher {
  /** Directory (posix, relative to the root; '' = root) the rules are relative to. */
  base: string;
  rules: Ignore;
}

function isIgnored(matchers: readonly Matcher[], rel: string, isDir: boolean): boolean {
  let ignored = false;
  for (const m of matchers) {
    const local = m.base === '' ? rel : rel.slice(m.base.length + 1);
    const result = m.rules.test(isDir ? `${local}/` : local);
    if (result.ignored) ignored = true;
    else if (result.unignored) ignored = false;
  }
  return ignored;
}

/** Checks each ancestor too: a path under an excluded directory is excluded whatever its own name. */
function excludedByRules(rel: string, isDir: boolean, byDir: ReadonlyMap<string, readonly Matcher[]>, extra: Matcher | undefined): boolean {
  const parts = rel.split('/');
  let matchers: readonly Matcher[] = byDir.get('') ?? [];
  for (let i = 0; i < parts.length; i++) {
    const prefix = parts.slice(0, i + 1).join('/');
    const dirLike = i < parts.length - 1 || isDir;
    if (dirLike && ALWAYS_SKIPPED.has(parts[i]!)) return true;
    const all = extra ? [...matchers, extra] : matchers;
    if (isIgnored(all, prefix, dirLike)) return true;
    matchers = byDir.get(prefix) ?? matchers;
  }
  return false;
}

function specialKind(st: BigIntStats): string | undefined {
  if (st.isFIFO()) return 'FIFO (named pipe)';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'device node';
  return undefined;
}

function isInside(root: string, abs: string): boolean {
  const rel = relative(root, abs);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

// eslint-disable-next-line no-control-regex
const ASCII = /^[\u0000-\u007f]*$/;

/** (ASCII is its own NFC form: most names skip the normalisation.) */
function collisionKey(name: string): string {
  return (ASCII.test(name) ? name : name.normalize('NFC')).toLowerCase();
}

/** Lets the event loop run (other hosts' listings arrive meanwhile) without a thread-pool round trip. */
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function scanLocal(rootArg: string, opts: ScanOptions = {}): Promise<ScanOutput> {
  const startedMs = Date.now();
  const root = resolve(rootArg);
  // Synchronous, like the walk's lstat calls: the promise API's thread-pool round trips would delay the
  // start of every push's scan (and, in sourceOf, of its listings) behind whatever else waits for the pool.
  const realRoot = realpathSync.native(root);
  const matchersByDir = new Map<string, readonly Matcher[]>();
  const out: ScanOutput = {
    root, entries: new Map(), skipped: [], errors: [], warnings: [], startedMs,
    isExcluded: (rel, isDir) => excludedByRules(rel, isDir, matchersByDir, excludeMatcher),
  };
  const rootStat = lstatSync(root);
  if (!rootStat.isDirectory()) throw new Error(`${root} is not a directory`);
  const ignoreFiles = opts.ignoreFiles ?? DEFAULT_IGNORE_FILES;
  const excludeMatcher: Matcher | undefined = opts.exclude?.length ? { base: '', rules: ignore().add([...opts.exclude]) } : undefined;

  const symlinkVerdict = async (abs: string): Promise<{ target?: string; reason?: string }> => {
    const text = await readlink(abs);
    if (isAbsolute(text)) return { reason: `absolute symlink target ${JSON.stringify(text)} (would point elsewhere on the remote)` };
    if (!isInside(root, resolve(dirname(abs), text))) return { reason: `symlink points outside the folder (${text})` };
    let real: string;
    try {
      real = await realpath(abs);
    } catch {
      return { reason: `dangling symlink (${text})` };
    }
    if (!isInside(realRoot, real)) return { reason: `symlink resolves outside the folder (${text})` };
    return { target: text };
  };

  const walk = async (relDir: string, matchers: readonly Matcher[]): Promise<void> => {
    const absDir = relDir === '' ? root : join(root, ...relDir.split('/'));
    const prefix = absDir.endsWith(sep) ? absDir : absDir + sep;
    // Synchronous readdir and lstat, a directory at a time: on a warm cache each costs microseconds, while
    // the promise API costs a thread-pool round trip per call (it made the scan of a 5,000-file tree half
    // idle, and the scan is on every push's critical path); the walk yields to the event loop per directory.
    await yieldToLoop();
    let names: string[];
    try {
      names = readdirSync(absDir).sort();
    } catch (err) {
      out.errors.push({ path: relDir === '' ? '.' : relDir, message: `cannot read directory: ${(err as Error).message}` });
      out.entries.delete(relDir); // not created remotely: we could not see what belongs in it
      return;
    }
    const here: Matcher[] = [...matchers];
    for (const file of ignoreFiles) {
      if (!names.includes(file)) continue;
      try {
        here.push({ base: relDir, rules: ignore().add(await readFile(join(absDir, file), 'utf8')) });
      } catch (err) {
        out.errors.push({ path: posix.join(relDir, file), message: `cannot read ignore file: ${(err as Error).message}` });
      }
    }
    matchersByDir.set(relDir, here);
    const all = excludeMatcher ? [...here, excludeMatcher] : here;
    const seen = new Map<string, string>();
    const subdirs: string[] = [];
    for (const name of names) {
      const rel = relDir === '' ? name : `${relDir}/${name}`;
      let st: BigIntStats;
      try {
        st = lstatSync(prefix + name, { bigint: true });
      } catch (e) {
        out.errors.push({ path: rel, message: `cannot stat: ${(e as Error).message}` });
        continue;
      }
      const isDir = st.isDirectory();
      if (isDir && ALWAYS_SKIPPED.has(name)) continue;
      if (all.length && isIgnored(all, rel, isDir)) continue;
      const bad = badNameReason(name);
      if (bad) {
        out.errors.push({ path: rel, message: `refused: ${bad}; rename it or add it to .flotillaignore` });
        continue;
      }
      const key = collisionKey(name);
      const other = seen.get(key);
      if (other !== undefined) {
        const kind = other.normalize('NFC') === name.normalize('NFC') ? 'Unicode normalisation (NFC/NFD)' : 'case';
        out.warnings.push({ path: rel, reason: `${kind} collision with ${JSON.stringify(relDir === '' ? other : `${relDir}/${other}`)} on case-insensitive or normalising filesystems` });
      } else seen.set(key, name);
      if (isDir) {
        out.entries.set(rel, { type: 'dir', size: 0, ...entryTimes(st) });
        subdirs.push(rel);
      } else if (st.isFile()) {
        out.entries.set(rel, { type: 'file', size: Number(st.size), ...entryTimes(st) });
      } else if (st.isSymbolicLink()) {
        const verdict = await symlinkVerdict(prefix + name).catch((e: Error) => ({ reason: `cannot read link: ${e.message}`, target: undefined }));
        if (verdict.target === undefined) out.skipped.push({ path: rel, reason: verdict.reason! });
        else out.entries.set(rel, { type: 'symlink', size: Number(st.size), ...entryTimes(st), linkTarget: verdict.target });
      } else {
        out.skipped.push({ path: rel, reason: `${specialKind(st) ?? 'special file'} skipped` });
      }
    }
    // A directory was inserted before we descend, so parents always precede their contents.
    for (const sub of subdirs) await walk(sub, here);
  };
  await walk('', []);
  return out;
}

export function localPath(root: string, rel: string): string {
  return join(root, ...rel.split('/'));
}

/** The local file behind a scan entry (a file pushed under another name has its own source). */
export function sourcePath(scan: ScanResult, rel: string): string {
  return scan.sources?.get(rel) ?? localPath(scan.root, rel);
}

function entryTimes(st: BigIntStats): { mtimeMs: number; mtimeNsec: number; mode: number } {
  return { mtimeMs: Number(st.mtimeMs), mtimeNsec: Number(st.mtimeNs % 1_000_000_000n), mode: Number(st.mode) & 0o7777 };
}

/**
 * A scan of only the named files of one directory (a single file, or the Explorer's multi-selection of files).
 * Links and non-files are skipped with the reason; pushing files never deletes anything.
 */
export async function scanFiles(rootArg: string, names: readonly string[]): Promise<ScanOutput> {
  const root = resolve(rootArg);
  const out: ScanOutput = { root, entries: new Map(), skipped: [], errors: [], warnings: [], startedMs: Date.now(), isExcluded: () => false };
  for (const name of names) {
    const bad = badNameReason(name);
    if (bad) { out.errors.push({ path: name, message: `refused: ${bad}` }); continue; }
    try {
      const st = await lstat(join(root, name), { bigint: true });
      if (st.isSymbolicLink()) out.skipped.push({ path: name, reason: 'symlink: push its folder to keep the link' });
      else if (!st.isFile()) out.skipped.push({ path: name, reason: st.isDirectory() ? 'a directory: push it as a folder' : 'not a regular file' });
      else out.entries.set(name, { type: 'file', size: Number(st.size), ...entryTimes(st) });
    } catch (err) {
      out.errors.push({ path: name, message: `cannot stat: ${(err as Error).message}` });
    }
  }
  return out;
}

/** The same one-file scan with its entry named `name` on the remote side. */
export function renamedFile(scan: ScanOutput, name: string): ScanOutput {
  const [[from, entry]] = [...scan.entries];
  if (from === name) return scan;
  return { ...scan, entries: new Map([[name, entry]]), sources: new Map([[name, localPath(scan.root, from)]]) };
}

/** What a push reads: a folder (scanned recursively) or a single file. */
export type PushSource = { kind: 'dir'; root: string } | { kind: 'files'; root: string; names: string[] };

/** Decides from the local path whether it is a folder or one file. Throws a readable error when it is neither. */
export async function sourceOf(local: string): Promise<PushSource> {
  const abs = resolve(local);
  let st: Stats;
  try {
    st = lstatSync(abs);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new Error(err.code === 'ENOENT' ? `${abs} does not exist` : `cannot read ${abs}: ${err.message}`);
  }
  if (st.isDirectory()) return { kind: 'dir', root: abs };
  if (st.isFile()) return { kind: 'files', root: dirname(abs), names: [basename(abs)] };
  throw new Error(`${abs} is neither a folder nor a regular file${st.isSymbolicLink() ? ' (a symlink: push the folder holding it, or its target)' : ''}`);
}

export function scanSource(source: PushSource, opts: ScanOptions = {}): Promise<ScanOutput> {
  return source.kind === 'dir' ? scanLocal(source.root, opts) : scanFiles(source.root, source.names);
}

function sameEntry(a: LocalEntry, b: LocalEntry): boolean {
  return a.type === b.type && a.size === b.size && a.mtimeMs === b.mtimeMs && a.mode === b.mode && a.linkTarget === b.linkTarget;
}

/** Paths whose local state differs between two scans (added, removed or changed). */
export function changedSince(before: ScanResult, now: ScanResult): string[] {
  const out: string[] = [];
  for (const [p, e] of now.entries) {
    const old = before.entries.get(p);
    if (!old || !sameEntry(old, e)) out.push(p);
  }
  for (const p of before.entries.keys()) if (!now.entries.has(p)) out.push(p);
  return out.sort();
}

/** Files up to this size are hashed from one synchronous read. */
const SYNC_HASH_MAX_BYTES = 1024 * 1024;

export async function hashLocalFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  // A small regular file is read at once: on a warm cache that costs microseconds, where the stream costs a
  // thread-pool round trip per open, read and close (each waiting its turn behind other hosts' plans).
  // Opened non-blocking, so a FIFO swapped in since the scan cannot hang the open (it takes the stream path).
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  let small = false;
  try {
    const st = fstatSync(fd);
    if (st.isFile() && st.size <= SYNC_HASH_MAX_BYTES) {
      small = true;
      hash.update(readFileSync(fd));
    }
  } finally {
    closeSync(fd);
  }
  if (small) return hash.digest('hex');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function scanErrorSummary(errors: readonly PathError[]): string {
  return errors.map((e) => `${e.path}: ${e.message}`).join('; ');
}
