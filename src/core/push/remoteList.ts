// Remote side of the plan: ONE command per host lists the destination (NUL-separated, so any name works),
// probes what the apply will need (the nearest existing ancestor, whether the login user may write there, the
// free space) and reports leftovers of interrupted pushes without touching them. For a real push the same
// command first takes the destination's lock and holds it until the apply is over (the channel's stdin is
// the lease: when we end it, or the connection dies, the script removes the lock). Hosts without GNU
// `find -printf` (BSD, BusyBox) are listed by an SFTP walk instead.
// The script travels on the channel's stdin, read by `/bin/sh -s`, and what the push asks later under the
// lock (hashes, exact mtimes, the release) follows it there: the login shell only ever parses a fixed
// command, and the host starts no decoder and no other shell for it.
import { createHash, randomBytes } from 'node:crypto';
import type { ClientChannel, SFTPWrapper } from 'ssh2';
import type { LeasedChannel, Pool } from '../ssh/pool';
import { abandon, inKeptShell, parkOrEnd, ShellGone } from '../ssh/keptShell';
import { shQuote } from '../ssh/quote';
import { absolutePath, shellWord, type RemoteDestination } from './remotePath';
import { endSftp, sftpCall } from './sftp';
import { TEMP_MARKER, type PathError, type RemoteEntry } from './types';

export interface DestinationProbe {
  /** The destination itself when it exists, else its nearest existing ancestor. */
  nearest: string;
  /** The login user can create entries in `nearest` (a directory, writable and searchable). */
  writable: boolean;
  /** Free bytes for unprivileged users on `nearest`'s filesystem (undefined when df gave nothing). */
  freeBytes?: number;
}

export interface RemoteListing {
  home: string;
  /** Absolute path of the destination directory (with $HOME expanded). */
  absDest: string;
  state: 'missing' | 'dir' | 'other';
  /** For state 'other' (a file or link at the destination path itself): its entry under key ''. */
  entries: Map<string, RemoteEntry>;
  errors: PathError[];
  via: 'find' | 'sftp';
  probe: DestinationProbe;
  /** Temp files and staging directories of interrupted pushes, relative to the destination ('../.x…' beside it). */
  leftovers: string[];
  /** Single file: true when REMOTE named the file itself (so the destination is its parent). */
  fileAtPath?: boolean;
}

/** What to list: the whole destination directory, or only some names in it (file pushes). */
export interface ListRequest {
  dest: RemoteDestination;
  names?: readonly string[];
  /**
   * One file: when `dest` is not an existing directory it is the file's own path, so the directory is its
   * parent and the entry is called `leaf` (REMOTE written with a trailing slash never sets this).
   */
  fileAt?: { parent: RemoteDestination; leaf: string };
}

export interface LockRequest {
  /** How long to wait for another push to the same destination to finish. */
  waitSeconds: number;
  onWaiting?: (holderPid: string) => void;
}

/** Another push holds the destination's lock (and kept it for longer than we wait). */
export class DestinationBusy extends Error {}

export const NO_PRINTF_EXIT = 90;
const BUSY_EXIT = 75;
const NO_LOCK_EXIT = 76;
const FORMAT = (name: string) => `'%y %s %T@ %m ${name}\\0%l\\0'`;

function lockLines(waitSeconds: number): string[] {
  const polls = Math.max(1, Math.round(waitSeconds * 5));
  return [
    // Keyed by the absolute destination, in the login user's home; `set -C` makes the create exclusive.
    // (a home the user cannot write, e.g. a service account's: /tmp, with the uid in the name). $k, the
    // destination's key, is set by the caller.
    'i=0; j=0',
    'if [ -w "$HOME" ]; then l="$HOME/.flotilla-push-$k.lock"; else l="/tmp/.flotilla-push-$(id -u)-$k.lock"; fi',
    'while ! { set -C; echo $$ > "$l"; } 2>/dev/null; do',
    '  set +C',
    `  if [ ! -e "$l" ]; then j=$((j+1)); [ "$j" -lt 3 ] && continue; printf 'Xcannot create the lock file %s\\0' "$l"; exit ${NO_LOCK_EXIT}; fi`,
    '  p=; read -r p < "$l" 2>/dev/null',
    // The holder is a shell of a push whose connection is gone: its lock is stale.
    '  if [ -n "$p" ] && ! kill -0 "$p" 2>/dev/null; then rm -f -- "$l"; continue; fi',
    `  [ "$i" = 0 ] && printf 'Q%s\\0' "$p"`,
    `  i=$((i+1)); if [ "$i" -gt ${polls} ]; then printf 'B%s\\0' "$p"; exit ${BUSY_EXIT}; fi`,
    '  sleep 0.2 2>/dev/null || sleep 1',
    'done',
    'set +C',
    `trap 'rm -f -- "$l"' EXIT; trap 'exit 1' HUP INT TERM PIPE`,
    `printf 'L\\0'`,
  ];
}

/** The lock's name for a destination spelling (computed here: one process fewer on every push). */
export function lockKey(dest: RemoteDestination): string {
  return createHash('sha256').update(dest.spec).digest('hex').slice(0, 16);
}

/** A connection's fact (DisposalScope.learn): its host's `find` has GNU `-printf`. */
const FIND_PRINTS = 'find has -printf';

/** `known.findPrintf`: this host's find has GNU -printf (no probe process; the SFTP walk otherwise). */
export function listingScript(req: ListRequest, lock?: { waitSeconds: number }, known: { findPrintf?: boolean } = {}): string {
  const names = req.fileAt ? [req.fileAt.leaf] : req.names;
  const lines = [`printf 'H%s\\0' "$HOME"`, `d=${shellWord(req.dest)}`, `k=${lockKey(req.dest)}`];
  if (req.fileAt) {
    lines.push(`if [ -d "$d" ]; then printf 'C0\\0'; set -- ${shQuote(req.names![0]!)}; else printf 'C1\\0'; d=${shellWord(req.fileAt.parent)}; k=${lockKey(req.fileAt.parent)}; set -- ${shQuote(req.fileAt.leaf)}; fi`);
  } else if (names) {
    lines.push(`set -- ${names.map(shQuote).join(' ')}`);
  }
  if (lock) lines.push(...lockLines(lock.waitSeconds));
  lines.push(
    'p=$d; while [ ! -e "$p" ] && [ ! -L "$p" ]; do p=${p%/*}; [ -n "$p" ] || p=/; done',
    `if [ -d "$p" ] && [ -w "$p" ] && [ -x "$p" ]; then printf 'W1\\0'; else printf 'W0\\0'; fi`,
    // Free space: df for a dry run; a real push asks statvfs over its SFTP channel (no process here).
    // (and df for a real push into a new destination too: its tar stream opens no SFTP channel).
    `${lock ? 'if [ -e "$d" ]; then printf \'P%s\\0F\\0\' "$p"; else ' : ''}printf 'P%s\\0F%s\\0' "$p" "$(df -Pk -- "$p" 2>/dev/null)"${lock ? '; fi' : ''}`,
    'rc=0',
    `if [ ! -e "$d" ] && [ ! -L "$d" ]; then printf 'M\\0'`,
    ...(known.findPrintf ? [] : [`elif ! find "$d" -maxdepth 0 -printf '' 2>/dev/null; then rc=${NO_PRINTF_EXIT}`]),
    `elif [ ! -d "$d" ]; then printf 'O\\0'; find "$d" -maxdepth 0 -printf ${FORMAT('')}; rc=$?`,
  );
  if (names) {
    lines.push(
      `else printf 'D\\0'`,
      `  for n; do [ -e "$d/$n" ] || [ -L "$d/$n" ] && find "$d/$n" -maxdepth 0 -printf ${FORMAT('%f')}; done`,
      `  for n; do for t in "$d"/."$n"${shQuote(TEMP_MARKER)}*; do [ -e "$t" ] || [ -L "$t" ] && printf 'T 0 0 0 %s\\0\\0' "\${t##*/}"; done; done`,
      'fi',
    );
  } else {
    lines.push(
      `else printf 'D\\0'`,
      // The trailing slash makes find follow a destination that is itself a symlink to a directory (as rsync
      // does), but nothing below it. Temp names are set aside as leftovers here (setAsideTemps): a -name
      // test on every entry costs the host's find an eighth of its time.
      `  find "$d"/ -mindepth 1 -printf ${FORMAT('%P')}; rc=$?`,
      'fi',
      // A first push streams into a staging directory beside the destination; an interrupted one leaves it.
      `for t in "\${d%/*}"/."\${d##*/}"${shQuote(TEMP_MARKER)}*; do [ -e "$t" ] && printf 'S 0 0 0 %s\\0\\0' "\${t##*/}"; done`,
    );
  }
  lines.push(`printf 'E%s\\0' "$rc"`);
  // Holding the lock until stdin ends: the shell goes on reading commands from it (lock.run's scripts, the
  // release). Its children never read stdin (they would take the commands that follow).
  return `${lines.join('\n')}\n`;
}

/** df -Pk: the 4th column of the last line is the space available to unprivileged users, in KiB. */
export function parseDfFree(text: string): number | undefined {
  const last = text.trim().split('\n').pop()?.trim().split(/\s+/);
  const kib = last && last.length >= 4 ? Number(last[3]) : NaN;
  return Number.isFinite(kib) ? kib * 1024 : undefined;
}

export interface ParsedListing {
  home: string;
  state: RemoteListing['state'];
  entries: Map<string, RemoteEntry>;
  leftovers: string[];
  probe: DestinationProbe;
  fileAtPath?: boolean;
  /** Exit status of the listing part (NO_PRINTF_EXIT: list over SFTP instead). */
  rc: number;
  locked: boolean;
}

const SPACE = 0x20;
const DOT = 0x2e;
const isDigit = (b: number | undefined) => b !== undefined && b >= 0x30 && b <= 0x39;

/** Where readNumber stopped (module state: parseRecord runs thousands of times per push, without closures). */
let cursor = 0;

/** Decimal (or octal) digits from `p`; undefined when there are none. Leaves `cursor` after them. */
function readNumber(buf: Buffer, p: number, end: number, octal: boolean): number | undefined {
  const start = p;
  let n = 0;
  for (let b = buf[p]!; p < end && b >= 0x30 && b <= (octal ? 0x37 : 0x39); b = buf[++p]!) n = n * (octal ? 8 : 10) + (b - 0x30);
  cursor = p;
  return p > start ? n : undefined;
}

/** The relative name of the record parseRecord read last (module state, like `cursor`). */
let recordName = '';

/** `%y` letters as strings, by byte (no string made per record). */
const KIND_LETTER: readonly string[] = Array.from({ length: 128 }, (_, b) => String.fromCharCode(b));

/**
 * One `%y %s %T@ %m name` record between `from` and `end` (its NUL), read from the bytes directly: thousands
 * per host per push, so no regex, no split and no string but the name (left in `recordName`). Undefined when
 * it is malformed.
 */
function parseRecord(buf: Buffer, from: number, end: number): RemoteEntry | undefined {
  if (end - from < 9 || buf[from + 1] !== SPACE || buf[from]! >= 128) return undefined;
  const size = readNumber(buf, from + 2, end, false);
  if (size === undefined || buf[cursor] !== SPACE) return undefined;
  const mtime = readNumber(buf, cursor + 1, end, false);
  if (mtime === undefined) return undefined;
  let p = cursor;
  let mtimeNsec = 0;
  if (buf[p] === DOT) {
    let digits = 0;
    for (p++; p < end && isDigit(buf[p]); p++) if (digits < 9) { mtimeNsec = mtimeNsec * 10 + (buf[p]! - 0x30); digits++; }
    for (; digits < 9; digits++) mtimeNsec *= 10;
  }
  if (buf[p] !== SPACE) return undefined;
  const mode = readNumber(buf, p + 1, end, true);
  if (mode === undefined || buf[cursor] !== SPACE) return undefined;
  recordName = buf.toString('utf8', cursor + 1, end);
  return { kind: KIND_LETTER[buf[from]!]!, size, mtime, mtimeNsec, mode };
}

/** Parses the listing script's output; undefined while its end marker has not arrived. */
export function parseListing(stdout: Buffer): ParsedListing | undefined {
  let pos = 0;
  /** The next NUL-terminated field as text (undefined when it has not fully arrived). */
  const next = (): string | undefined => {
    const end = stdout.indexOf(0, pos);
    if (end < 0) return undefined;
    const text = stdout.toString('utf8', pos, end);
    pos = end + 1;
    return text;
  };
  const home = (next() ?? '').replace(/^H/, '');
  let fileAtPath: boolean | undefined;
  let locked = false;
  const probe: DestinationProbe = { nearest: '', writable: false };
  let state: RemoteListing['state'] | undefined;
  while (pos < stdout.length && !state) {
    const at = pos;
    const f = next();
    if (f === undefined) return undefined;
    if (f === 'C0' || f === 'C1') fileAtPath = f === 'C1';
    else if (f === 'L') locked = true;
    else if (f === 'W0' || f === 'W1') probe.writable = f === 'W1';
    else if (f.startsWith('P')) probe.nearest = f.slice(1);
    else if (f.startsWith('F')) probe.freeBytes = parseDfFree(f.slice(1));
    else if (f === 'M') state = 'missing';
    else if (f === 'O') state = 'other';
    else if (f === 'D') state = 'dir';
    else if (/^E\d+$/.test(f)) { pos = at; break; }
  }
  const entries = new Map<string, RemoteEntry>();
  const leftovers: string[] = [];
  while (pos < stdout.length) {
    const end = stdout.indexOf(0, pos);
    if (end < 0) return undefined;
    if (stdout[pos] === 0x45 /* E */ && isDigit(stdout[pos + 1])) {
      const rc = stdout.toString('latin1', pos + 1, end);
      if (/^\d+$/.test(rc)) return { home, state: state ?? 'missing', entries, leftovers, probe, fileAtPath, rc: Number(rc), locked };
    }
    // %l is empty but for links: its NUL is usually the very next byte.
    const linkEnd = stdout[end + 1] === 0 ? end + 1 : stdout.indexOf(0, end + 1);
    if (linkEnd < 0) return undefined;
    const entry = parseRecord(stdout, pos, end);
    pos = linkEnd + 1;
    if (!entry) continue;
    if (entry.kind === 'T') { leftovers.push(recordName); continue; }
    if (entry.kind === 'S') { leftovers.push(`../${recordName}`); continue; }
    if (entry.kind === 'l') entry.linkTarget = stdout.toString('utf8', end + 1, linkEnd);
    entries.set(recordName, entry);
  }
  return undefined;
}

/** A name our writers give their temp files: `.*.flotilla-tmp-*` as a glob. */
const isTempName = (name: string) => name.charCodeAt(0) === DOT && name.indexOf(TEMP_MARKER, 1) > 0;

/**
 * Takes the temp names (leftovers of interrupted pushes) out of a whole-directory listing and returns them;
 * what is below a temp-named directory is not the tree's either (find -prune would not have listed it).
 */
export function setAsideTemps(entries: Map<string, RemoteEntry>): string[] {
  const leftovers: string[] = [];
  for (const path of entries.keys()) {
    if (!path.includes(TEMP_MARKER)) continue;
    const parts = path.split('/');
    const at = parts.findIndex(isTempName);
    if (at < 0) continue;
    entries.delete(path);
    if (at === parts.length - 1) leftovers.push(path);
  }
  return leftovers;
}

/** A held destination lock: ending it lets the remote script remove the lock file. */
export interface DestinationLock {
  /** Sub-second mtimes (SFTP sets whole seconds) to set with `touch` just before the lock is removed. */
  setPreciseTimes(files: ReadonlyArray<readonly [absPath: string, seconds: number, nsec: number]>): void;
  release(): Promise<void>;
  /**
   * Runs a one-line script in a subshell of the lock's remote shell (no new channel, no login shell) and
   * resolves with its stdout; undefined when it cannot (a newline in the script, the lock gone).
   */
  run(script: string): Promise<Buffer | undefined>;
  /** Resolves when the lock's shell is gone or let go (released, or the connection dropped). */
  readonly lost: Promise<void>;
}

/** Longest script run through the lock's shell (beyond it, a separate exec). */
export const LOCK_RUN_MAX_BYTES = 64 * 1024;

interface ScriptRun {
  parsed: ParsedListing;
  channel: ClientChannel;
  closed: Promise<void>;
  /**
   * The shell is done with (its lock, if any, removed): `idle` when it is back reading commands, so the
   * next listing on this connection can use it (parked in the pool), else it is let go.
   */
  finish: (idle: boolean) => void;
  /** Receives what the script prints after the listing (the output of commands run under the lock). */
  onMore: (fn: ((d: Buffer) => void) | undefined) => void;
}

/** Whether the bytes so far end in `\0E<digits>\0` (the listing's end marker), looking at the last few only. */
function endsWithEndMarker(chunks: readonly Buffer[]): boolean {
  const last = chunks[chunks.length - 1]!;
  const tail = last.length >= 16 || chunks.length === 1 ? last.subarray(-16) : Buffer.concat(chunks.slice(-3)).subarray(-16);
  return /(^|\0)E\d+\0$/.test(tail.toString('latin1'));
}

/**
 * The pool's name for a listing shell kept between pushes: the next listing on the connection is written to
 * it, so the host starts no session, login shell or sh for it, and no channel is opened.
 */
const LISTING_SHELL = 'push-listing-shell';

/**
 * Runs the listing script in the connection's parked listing shell, or a new one, and resolves as soon as
 * its end marker arrives (the lock part keeps running).
 */
function runListing(pool: Pool, host: string, script: string, lock: LockRequest | undefined, signal?: AbortSignal): Promise<ScriptRun> {
  return inKeptShell(pool, host, LISTING_SHELL, (lease, reused) => runListingIn(pool, lease, reused, script, lock, signal));
}

async function runListingIn(
  pool: Pool, lease: LeasedChannel<ClientChannel>, reused: boolean, script: string, lock: LockRequest | undefined, signal?: AbortSignal,
): Promise<ScriptRun> {
  const { channel } = lease;
  const out: Buffer[] = [];
  let stderr = '';
  let code: number | null = null;
  let waitingSeen = false;
  let onClose!: () => void;
  const closed = new Promise<void>((resolve) => { onClose = resolve; });
  channel.once('close', onClose);
  return new Promise<ScriptRun>((resolve, reject) => {
    let settled = false;
    const onAbort = () => channel.close();
    signal?.addEventListener('abort', onAbort, { once: true });
    const onStderr = (d: Buffer) => { if (stderr.length < 8192) stderr += d.toString('utf8'); };
    const onExit = (c: number | null) => { code = c; };
    let finished = false;
    const finishShell = (idle: boolean) => {
      if (finished) return;
      finished = true;
      channel.removeListener('data', onData);
      channel.stderr.removeListener('data', onStderr);
      channel.removeListener('exit', onExit);
      channel.removeListener('close', onClose);
      onClose(); // this listing's `closed` resolves: the shell is no longer its
      parkOrEnd(pool, lease, LISTING_SHELL, idle);
    };
    const finish = (err?: Error, parsed?: ParsedListing) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (err) { finished = true; abandon(lease); reject(err); return; }
      resolve({ parsed: parsed!, channel, closed, finish: finishShell, onMore: (fn) => { more = fn; } });
    };
    let received = 0;
    let more: ((d: Buffer) => void) | undefined;
    const onData = (d: Buffer) => {
      if (settled) { more?.(d); return; }
      out.push(d);
      received += d.length;
      // The lock's "waiting" note comes before the lock line, both near the start: only the head is searched.
      if (lock?.onWaiting && !waitingSeen) {
        const head = Buffer.concat(out).toString('latin1');
        const q = /\0Q([^\0]*)\0/.exec(head);
        if (q) { waitingSeen = true; lock.onWaiting(q[1]!); } else if (head.includes('\0L\0') || received > 64 * 1024) waitingSeen = true;
      }
      // Parsed once, when the output ends as the end marker does (a chunk boundary rarely looks like one).
      if (received >= 3 && d[d.length - 1] === 0 && endsWithEndMarker(out)) {
        const all = out.length === 1 ? d : Buffer.concat(out);
        out.length = 0;
        out.push(all);
        const parsed = parseListing(all);
        if (parsed) finish(undefined, parsed);
      }
    };
    channel.on('data', onData);
    channel.stderr.on('data', onStderr);
    channel.on('exit', onExit);
    // Never ended here: the shell reads what the push asks under the lock, then the release, from stdin.
    channel.write(script);
    void closed.then(() => {
      if (settled) return; // the listing arrived: how the lock channel ends is the lock's business
      if (reused && received === 0 && !signal?.aborted) finish(new ShellGone(LISTING_SHELL));
      const text = Buffer.concat(out).toString('utf8');
      const busy = /\0B([^\0]*)\0/.exec(text);
      if (code === BUSY_EXIT && busy) {
        finish(new DestinationBusy(`another push to this destination is in progress${busy[1] ? ` (remote shell ${busy[1]})` : ''}; waited ${lock?.waitSeconds ?? 0} s — try again when it is done`));
      }
      const why = /\0X([^\0]*)\0/.exec(text);
      if (code === NO_LOCK_EXIT && why) finish(new Error(why[1]!));
      if (signal?.aborted) finish(new Error('cancelled'));
      finish(new Error(`listing failed (exit ${code ?? 'none: connection lost'}): ${stderr.trim().slice(0, 500) || 'no output'}`));
    });
  });
}

export interface ListOptions {
  /** Take the destination's lock first (a real push) and keep it until `lock.release()`. */
  lock?: LockRequest;
  signal?: AbortSignal;
}

export async function listRemote(pool: Pool, host: string, req: ListRequest, opts: ListOptions = {}): Promise<RemoteListing & { lock?: DestinationLock }> {
  // Whether find prints is asked once per connection (a live one: this never connects by itself).
  const scope = pool.liveScope(host);
  const findPrintf = !!scope?.knows(FIND_PRINTS);
  const run = await runListing(pool, host, listingScript(req, opts.lock, { findPrintf }), opts.lock, opts.signal);
  if (run.parsed.rc !== NO_PRINTF_EXIT && (run.parsed.state === 'dir' || run.parsed.state === 'other')) scope?.learn(FIND_PRINTS);
  let released = false;
  let times = '';
  /** The last run asked for, while one is in flight (the next waits for it; the first starts at once). */
  let runs: Promise<void> | undefined;
  const lock: DestinationLock | undefined = opts.lock ? {
    lost: run.closed,
    setPreciseTimes: (files) => {
      // One quoted command per line (a name with a newline keeps its whole-second time).
      times = files.filter(([path]) => !path.includes('\n'))
        .map(([path, s, ns]) => `touch -c -m -d @${s}.${String(ns).padStart(9, '0')} -- ${shQuote(path)} 2>/dev/null\n`).join('');
    },
    run: (script) => {
      if (released || script.includes('\n') || Buffer.byteLength(script) > LOCK_RUN_MAX_BYTES) return Promise.resolve(undefined);
      const token = randomBytes(8).toString('hex');
      const marker = Buffer.from(`Z${token}\0`, 'latin1');
      const start = () => new Promise<Buffer | undefined>((resolve) => {
        const got: Buffer[] = [];
        let size = 0;
        const done = (out: Buffer | undefined) => { run.onMore(undefined); resolve(out); };
        run.onMore((d) => {
          got.push(d);
          size += d.length;
          if (size < marker.length) return;
          const all = Buffer.concat(got);
          if (all.subarray(-marker.length).equals(marker)) done(all.subarray(0, -marker.length));
          else got.splice(0, got.length, all);
        });
        void run.closed.then(() => done(undefined));
        run.channel.write(`( ${script} ) </dev/null 2>/dev/null; printf 'Z%s\\0' ${token}\n`);
      });
      const pending = runs ? runs.then(start) : start();
      const settled = pending.then(() => { if (runs === settled) runs = undefined; });
      runs = settled;
      return pending;
    },
    release: async () => {
      if (released) return;
      released = true;
      await runs;
      // Done once the shell says the lock file is gone (after the exact mtimes): not when it has exited
      // and the channel closed, which takes the host's process teardown and another round trip.
      const token = randomBytes(8).toString('hex');
      const marker = Buffer.from(`R${token}\0`, 'latin1');
      let tail = Buffer.alloc(0);
      const removed = new Promise<void>((resolve) => run.onMore((d) => {
        tail = Buffer.concat([tail, d]).subarray(-marker.length);
        if (tail.equals(marker)) resolve();
      }));
      // The shell lives on (its next listing needs no new one): it is back at its commands once R is printed.
      run.channel.write(Buffer.from(`${times}rm -f -- "$l"; trap - EXIT; printf 'R%s\\0' ${token}\n`, 'utf8'));
      run.finish(await Promise.race([removed.then(() => true), run.closed.then(() => false)]));
    },
  } : undefined;
  if (!opts.lock) run.finish(true);
  try {
    const { parsed } = run;
    if (!parsed.home) throw new Error(`listing ${req.dest.spec} failed: no output`);
    const dest = parsed.fileAtPath ? req.fileAt!.parent : req.dest;
    const absDest = absolutePath(dest, parsed.home);
    const base = { home: parsed.home, absDest, probe: parsed.probe, fileAtPath: parsed.fileAtPath, lock };
    if (parsed.rc === NO_PRINTF_EXIT) {
      const viaSftp = await listViaSftp(pool, host, absDest, parsed.fileAtPath ? [req.fileAt!.leaf] : req.names);
      return { ...base, ...viaSftp };
    }
    const errors: PathError[] = [];
    if (parsed.rc !== 0) errors.push({ path: dest.spec, message: `remote listing incomplete: find exited with ${parsed.rc}` });
    const leftovers = req.names ? parsed.leftovers : [...setAsideTemps(parsed.entries), ...parsed.leftovers];
    return { ...base, state: parsed.state, entries: parsed.entries, leftovers, errors, via: 'find' };
  } catch (err) {
    await lock?.release();
    throw err;
  }
}

const KIND_BY_TYPE: Array<[number, string]> = [
  [0o040000, 'd'], [0o100000, 'f'], [0o120000, 'l'], [0o010000, 'p'], [0o140000, 's'], [0o020000, 'c'], [0o060000, 'b'],
];

export function kindOf(mode: number): string {
  const type = mode & 0o170000;
  return KIND_BY_TYPE.find(([t]) => t === type)?.[1] ?? '?';
}

type Attrs = { mode: number; size: number; mtime: number };
const entryOf = (a: Attrs): RemoteEntry => ({ kind: kindOf(a.mode), size: a.size, mtime: a.mtime, mode: a.mode & 0o7777 });
const isTemp = (name: string) => name.startsWith('.') && name.includes(TEMP_MARKER);

async function listViaSftp(
  pool: Pool, host: string, absDest: string, names: readonly string[] | undefined,
): Promise<Pick<RemoteListing, 'state' | 'entries' | 'errors' | 'via' | 'leftovers'>> {
  const lease = await pool.sftp(host);
  try {
    const sftp = lease.channel;
    const entries = new Map<string, RemoteEntry>();
    const errors: PathError[] = [];
    const leftovers: string[] = [];
    const result = (state: RemoteListing['state']) => ({ state, entries, errors, leftovers, via: 'sftp' as const });
    const top = await sftpCall<Attrs>(sftp, (cb) => sftp.lstat(absDest, cb)).catch(() => undefined);
    if (!top) return result('missing');
    if (kindOf(top.mode) !== 'd' && kindOf(top.mode) !== 'l') {
      entries.set('', entryOf(top));
      return result('other');
    }
    if (names) {
      const list = await sftpCall<Array<{ filename: string; attrs: Attrs }>>(sftp, (cb) => sftp.readdir(absDest, cb));
      for (const item of list) {
        if (names.includes(item.filename)) entries.set(item.filename, await withLink(sftp, `${absDest}/${item.filename}`, entryOf(item.attrs)));
        else if (isTemp(item.filename) && names.some((n) => item.filename.startsWith(`.${n}${TEMP_MARKER}`))) leftovers.push(item.filename);
      }
      return result('dir');
    }
    await walkSftp(sftp, absDest, '', entries, errors, leftovers);
    const parent = absDest.slice(0, absDest.lastIndexOf('/')) || '/';
    const base = absDest.slice(absDest.lastIndexOf('/') + 1);
    const beside = await sftpCall<Array<{ filename: string }>>(sftp, (cb) => sftp.readdir(parent, cb)).catch(() => []);
    for (const b of beside) if (b.filename.startsWith(`.${base}${TEMP_MARKER}`)) leftovers.push(`../${b.filename}`);
    return result('dir');
  } finally {
    endSftp(lease);
  }
}

async function withLink(sftp: SFTPWrapper, path: string, entry: RemoteEntry): Promise<RemoteEntry> {
  if (entry.kind === 'l') entry.linkTarget = await sftpCall<string>(sftp, (cb) => sftp.readlink(path, cb)).catch(() => '');
  return entry;
}

async function walkSftp(
  sftp: SFTPWrapper, absDest: string, rel: string, entries: Map<string, RemoteEntry>, errors: PathError[], leftovers: string[],
): Promise<void> {
  const dir = rel === '' ? absDest : `${absDest}/${rel}`;
  let list: Array<{ filename: string; attrs: Attrs }>;
  try {
    list = await sftpCall(sftp, (cb) => sftp.readdir(dir, cb));
  } catch (err) {
    errors.push({ path: rel || '.', message: `cannot list remote directory: ${(err as Error).message}` });
    return;
  }
  for (const item of list) {
    const name = item.filename;
    if (name === '.' || name === '..') continue;
    const childRel = rel === '' ? name : `${rel}/${name}`;
    if (isTemp(name)) { leftovers.push(childRel); continue; }
    const entry = await withLink(sftp, `${dir}/${name}`, entryOf(item.attrs));
    entries.set(childRel, entry);
    if (entry.kind === 'd') await walkSftp(sftp, absDest, childRel, entries, errors, leftovers);
  }
}
