// Plan = local scan × remote listing → create / update / delete / unchanged per host. Size+mtime (at the
// precision both sides keep) decides; equal size with a different mtime is settled by hashing both sides, so
// a touched-but-identical file costs a metadata fix, not an upload. The plan also predicts the apply: a
// destination the login user cannot write, or a filesystem too small for what will be sent, makes the host
// fail in the plan, before anything is written.
import { createHash } from 'node:crypto';
import { ConnectError } from '../ssh/connect';
import type { LeasedChannel, Pool } from '../ssh/pool';
import { shQuote } from '../ssh/quote';
import { runScript } from '../ssh/script';
import type { SFTPWrapper } from 'ssh2';
import { freeBytes, keepSftp, keptSftp, openSftp, sftpCall, SFTP_STATUS } from './sftp';
import { listRemote, type DestinationLock, type ListRequest, type LockRequest, type RemoteListing } from './remoteList';
import { absolutePath, joinRemote, parentOf, parseDestination, shellWord, type RemoteDestination } from './remotePath';
import { hashLocalFile, sourcePath } from './scan';
import { remoteModeFor, type HostPlan, type LocalEntry, type PathError, type PlanItem, type RemoteEntry, type ScanResult } from './types';

export const DEFAULT_MAX_DELETE = 100;

export interface PlanOptions {
  delete?: boolean;
  maxDelete?: number;
  /** Allow deleting more than half of the destination's entries. */
  allowMassDelete?: boolean;
  /** Configured root that every destination must be inside. */
  root?: string;
  /** A dry run leaves the destination untouched (stale temp files are only removed by a real push). */
  dryRun?: boolean;
  /** Compare every same-size file by content, whatever its mtime (rsync --checksum). */
  checksum?: boolean;
  signal?: AbortSignal;
}

/** What a plan needs from the scan beyond ScanResult (optional so a scan made elsewhere can be planned). */
export type PlannableScan = ScanResult & { isExcluded?(rel: string, isDir: boolean): boolean };

/** A host plan plus what apply needs to carry it out. */
export interface PlannedHost extends HostPlan {
  destination: RemoteDestination;
  /** What this host's plan was made from (a single file may carry another name on this host). */
  scan: PlannableScan;
  absDest?: string;
  destMissing?: boolean;
  /** Remote directories that must be removed before a file/link can take their place (delete enabled only). */
  replaceDirs: string[];
  /** Only the listed names of the destination were compared (file pushes): never deletes, never tars. */
  namesOnly?: boolean;
  /** Held from the listing to the end of the apply on a real push. */
  lock?: DestinationLock;
  /**
   * An SFTP channel opened during the content check of a real push (an upload or a metadata fix follows
   * either way): the apply takes it, or closes it when it needs none.
   */
  sftp?: Promise<LeasedChannel<SFTPWrapper> | Error>;
  /** The destination, or its nearest existing ancestor (where free space is measured). */
  nearest?: string;
  /** How it was planned, so the apply can re-plan under the destination's lock. */
  target: PlanTarget;
  options: PlanOptions;
}

export interface Diff {
  create: PlanItem[];
  update: PlanItem[];
  delete: PlanItem[];
  unchanged: number;
  /** Same size, different mtime: content must be compared by hash. */
  needHash: PlanItem[];
  conflicts: PathError[];
  replaceDirs: string[];
  /** Remote entries that are not in the local tree (whether or not deletion is on). */
  extraneous: number;
}

const localNsec = (l: LocalEntry) => l.mtimeNsec ?? Math.round((l.mtimeMs - Math.floor(l.mtimeMs / 1000) * 1000) * 1e6);

/**
 * Same mtime at the precision both sides keep: whole seconds when the remote shows none (a filesystem, tool
 * or SFTP that sets seconds only), else microseconds (what a double mtimeMs and every common filesystem keep).
 */
export function sameMtime(l: LocalEntry, r: RemoteEntry): boolean {
  if (Math.floor(l.mtimeMs / 1000) !== r.mtime) return false;
  if (!r.mtimeNsec) return true;
  return Math.floor(localNsec(l) / 1000) === Math.floor(r.mtimeNsec / 1000);
}

/**
 * The same whole second, but only the local side keeps fractions, on a remote filesystem that shows no
 * fractions anywhere (it keeps whole seconds only): a same-size file changed within that second would look
 * unchanged, so its content is compared instead. Where the filesystem keeps fractions, a whole-second mtime
 * is one our writers gave a file that could not change again within its second (changeableInSameSecond).
 */
function mtimeUncertain(l: LocalEntry, r: RemoteEntry, remoteKeepsFractions: boolean): boolean {
  return !remoteKeepsFractions && Math.floor(l.mtimeMs / 1000) === r.mtime && !r.mtimeNsec && localNsec(l) !== 0;
}

function keepsFractions(remote: ReadonlyMap<string, RemoteEntry>): boolean {
  for (const r of remote.values()) if (r.mtimeNsec) return true;
  return false;
}

function remoteType(kind: string): PlanItem['type'] {
  return kind === 'f' ? 'file' : kind === 'd' ? 'dir' : kind === 'l' ? 'symlink' : 'other';
}

/** Pure diff of a scan against a listing (no I/O), exported for unit tests. */
export function diffEntries(scan: PlannableScan, remote: ReadonlyMap<string, RemoteEntry>, opts: { delete?: boolean; checksum?: boolean } = {}): Diff {
  const d: Diff = { create: [], update: [], delete: [], unchanged: 0, needHash: [], conflicts: [], replaceDirs: [], extraneous: 0 };
  const fractions = keepsFractions(remote);
  const item = (path: string, l: LocalEntry, action: 'create' | 'update', changes: PlanItem['changes']): PlanItem =>
    ({ path, type: l.type, size: l.type === 'file' ? l.size : 0, action, changes });
  /** Remote entries the scan has too: when that is all of them, nothing is extraneous (no second pass). */
  let matched = 0;
  for (const [path, l] of scan.entries) {
    const r = remote.get(path);
    if (!r) {
      d.create.push(item(path, l, 'create', {}));
      continue;
    }
    matched++;
    if (r.kind === 'd' && l.type !== 'dir') {
      if (!opts.delete) {
        d.conflicts.push({ path, message: `a remote directory is in the way of this ${l.type}; push with delete enabled to replace it` });
        continue;
      }
      d.replaceDirs.push(path);
      d.update.push(item(path, l, 'update', { type: true }));
      continue;
    }
    const verdict = compareSameType(l, r, !!opts.checksum, fractions);
    if (verdict === 'unchanged') d.unchanged++;
    else if (verdict === 'hash') d.needHash.push(item(path, l, 'update', {}));
    else d.update.push(item(path, l, 'update', verdict));
  }
  if (matched === remote.size) return d;
  for (const [path, r] of remote) {
    if (path === '' || scan.entries.has(path)) continue;
    if (isProtected(scan, path, r.kind === 'd')) continue;
    d.extraneous++;
    if (opts.delete) d.delete.push({ path, action: 'delete', type: remoteType(r.kind), size: r.size, changes: {} });
  }
  d.delete.sort((a, b) => depth(b.path) - depth(a.path) || (a.path < b.path ? -1 : 1));
  return d;
}

const depth = (p: string) => p.split('/').length;

/** Excluded, skipped or unreadable locally: never deleted remotely (rsync protects excluded files too). */
function isProtected(scan: PlannableScan, path: string, isDir: boolean): boolean {
  if (scan.isExcluded?.(path, isDir)) return true;
  const hit = (p: string) => path === p || path.startsWith(`${p}/`);
  return scan.skipped.some((s) => hit(s.path)) || scan.errors.some((e) => hit(e.path));
}

function compareSameType(l: LocalEntry, r: RemoteEntry, checksum: boolean, remoteKeepsFractions: boolean): PlanItem['changes'] | 'unchanged' | 'hash' {
  const perms = remoteModeFor(l.mode) !== (r.mode & 0o7777);
  if (l.type === 'dir') {
    if (r.kind !== 'd') return { type: true };
    const time = !sameMtime(l, r);
    return perms || time ? { ...(perms ? { perms } : {}), ...(time ? { time } : {}) } : 'unchanged';
  }
  if (l.type === 'symlink') {
    if (r.kind !== 'l') return { type: true };
    return r.linkTarget === l.linkTarget ? 'unchanged' : { link: true };
  }
  if (r.kind !== 'f') return { type: true };
  if (r.size !== l.size) return { content: true, size: true, time: !sameMtime(l, r), perms };
  if (checksum || !sameMtime(l, r) || mtimeUncertain(l, r, remoteKeepsFractions)) return 'hash';
  return perms ? { perms: true } : 'unchanged';
}

/** Settles the same-size/different-mtime items once both sides' hashes are known. */
export function settleHashed(
  items: readonly PlanItem[], scan: ScanResult, remote: ReadonlyMap<string, RemoteEntry>,
  localHashes: ReadonlyMap<string, string>, remoteHashes: ReadonlyMap<string, string>, checksum = false,
): PlanItem[] {
  return items.map((item) => {
    const l = scan.entries.get(item.path)!;
    const perms = remoteModeFor(l.mode) !== ((remote.get(item.path)?.mode ?? 0) & 0o7777);
    const r = remote.get(item.path);
    const time = !r || !sameMtime(l, r);
    const known = localHashes.has(item.path) && remoteHashes.has(item.path);
    // Only the sub-second part was in doubt and no hash could settle it: size+mtime decides, as before.
    if (!known && !time && !checksum) return { ...item, changes: { perms } };
    const same = known && localHashes.get(item.path) === remoteHashes.get(item.path);
    return { ...item, changes: same ? { time, perms } : { content: true, time, perms } };
  });
}

/** True when applying the item needs no data transfer (mtime/mode fix only). */
export function isMetadataOnly(item: PlanItem): boolean {
  const c = item.changes;
  return item.action === 'update' && !c.content && !c.type && !c.link;
}

export type LocalHashCache = Map<string, Promise<string>>;

async function localHashes(scan: ScanResult, paths: readonly string[], cache: LocalHashCache): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  await Promise.all(paths.map(async (p) => {
    let h = cache.get(p);
    if (!h) cache.set(p, (h = hashLocalFile(sourcePath(scan, p))));
    out.set(p, await h.catch(() => ''));
  }));
  return out;
}

/**
 * The hashing script: GNU `sha256sum -z` hashes all in one process; without it (BusyBox, macOS) one
 * `sha256sum`, `shasum -a 256` or `openssl dgst -sha256` per file reading stdin, in input order; with none,
 * only the tool line `Tnone`. The names come NUL-separated on stdin, or (`inline`) as the script's arguments,
 * so that it fits on one line for the lock's shell.
 */
function hashScript(dest: RemoteDestination, inline?: readonly string[], knownZ = false): string[] {
  const each = 'for f; do h=$($0 < "$f" 2>/dev/null); printf "%s\\0" "$h"; done';
  const z = `printf 'Tsha256sum -z\\0'; exec ${inline ? 'sha256sum -z -- "$@"' : 'xargs -0 sha256sum -z --'}`;
  const cd = [`cd -- ${shellWord(dest)} || exit 1`, ...(inline ? [`set -- ${inline.map(shQuote).join(' ')}`] : [])];
  if (knownZ) return [...cd, z];
  return [
    ...cd,
    `if printf '' | sha256sum -z >/dev/null 2>&1; then ${z}; fi`,
    't=; for c in sha256sum "shasum -a 256" "openssl dgst -sha256"; do command -v ${c%% *} >/dev/null 2>&1 && { t=$c; break; }; done',
    "[ -n \"$t\" ] || { printf 'Tnone\\0'; exit 0; }",
    "printf 'T%s\\0' \"$t\"",
    // One hash per name, in order: the tool is split into words on purpose.
    inline ? each.replaceAll('$0', '$t') : `exec xargs -0 sh -c '${each}' "$t"`,
  ];
}

/** A connection's fact (DisposalScope.learn): its host's sha256sum takes -z. */
const SHA256SUM_Z = 'sha256sum takes -z';

/**
 * The remote side's SHA-256 of each path (relative to the destination), and which tool computed them (none:
 * the caller falls back to size+mtime). A real push asks the shell that holds its lock (no channel, login
 * shell or decoder to start); names with a newline, or too many for one line, go through their own exec.
 */
export async function remoteHashes(
  pool: Pool, host: string, dest: RemoteDestination, paths: readonly string[], signal?: AbortSignal, lock?: DestinationLock,
): Promise<{ hashes: Map<string, string>; tool: string }> {
  const hashes = new Map<string, string>();
  if (!paths.length) return { hashes, tool: 'none' };
  // Whether the host's sha256sum takes -z is asked once per connection (a live one: this never connects by
  // itself). Looked up without waiting, so the hashes are asked for at once, not after other hosts' diffs.
  const scope = pool.liveScope(host);
  const knownZ = !!scope?.knows(SHA256SUM_Z);
  const viaLock = lock && !paths.some((p) => p.includes('\n')) ? await lock.run(hashScript(dest, paths, knownZ).join('; ')) : undefined;
  const stdout = viaLock ?? (await runScript(pool, host, hashScript(dest, undefined, knownZ).join('\n'), { stdin: Buffer.from(paths.map((p) => `${p}\0`).join(''), 'utf8'), signal })).stdout;
  const fields = splitNul(stdout);
  const tool = (fields.shift() ?? 'Tnone').slice(1) || 'none';
  if (tool === 'sha256sum -z') scope?.learn(SHA256SUM_Z);
  if (tool === 'sha256sum -z') {
    for (const line of fields) {
      const m = /^([0-9a-f]{64}) [ *]([\s\S]*)$/.exec(line);
      if (m) hashes.set(m[2]!, m[1]!);
    }
  } else {
    fields.forEach((out, i) => {
      const m = /\b([0-9a-f]{64})\b/.exec(out);
      if (m && i < paths.length) hashes.set(paths[i]!, m[1]!);
    });
  }
  return { hashes, tool };
}

const NO_HASHES = { hashes: new Map<string, string>(), tool: 'none' };

/** The content check of same-size files read whole over SFTP (their hashes are taken here). */
export const BYTES_CHECK = 'bytes read over SFTP';
/** Same-size files compared by their bytes: each up to this size, so many, so much in all. */
const BYTES_CHECK_MAX_FILE = 64 * 1024;
const BYTES_CHECK_MAX_FILES = 64;
const BYTES_CHECK_MAX_TOTAL = 1024 * 1024;

function forBytesCheck(items: readonly PlanItem[]): string[] {
  const out: string[] = [];
  let total = 0;
  for (const item of items) {
    if (out.length === BYTES_CHECK_MAX_FILES) break;
    if (item.size > BYTES_CHECK_MAX_FILE || total + item.size > BYTES_CHECK_MAX_TOTAL) continue;
    out.push(item.path);
    total += item.size;
  }
  return out;
}

/**
 * The SHA-256 of each remote file's bytes, read over SFTP: one read for a byte more than the listing showed
 * (a file that grew since does not match), its close right behind it. A file that cannot be read is left out
 * (it is then sent).
 */
async function bytesHashes(sftp: SFTPWrapper, absDest: string, items: readonly PlanItem[], paths: readonly string[]): Promise<{ hashes: Map<string, string>; tool: string }> {
  const sizes = new Map(items.map((i) => [i.path, i.size]));
  const hashes = new Map<string, string>();
  await Promise.all(paths.map(async (rel) => {
    const size = sizes.get(rel)!;
    try {
      const handle = await sftpCall<Buffer>(sftp, (cb) => sftp.open(joinRemote(absDest, rel), 'r', cb));
      const buf = Buffer.allocUnsafe(size + 1);
      const [got] = await Promise.all([
        sftpCall<number>(sftp, (cb) => sftp.read(handle, buf, 0, size + 1, 0, cb)).catch((err: { code?: number }) => {
          if (err.code === SFTP_STATUS.EOF) return 0;
          throw err;
        }),
        sftpCall<void>(sftp, (cb) => sftp.close(handle, cb)),
      ]);
      if (got === size) hashes.set(rel, createHash('sha256').update(buf.subarray(0, size)).digest('hex'));
    } catch {
      /* left out: the file is sent */
    }
  }));
  return { hashes, tool: BYTES_CHECK };
}

function deleteBlockReason(scan: ScanResult, diff: Diff, remoteEntries: number, opts: PlanOptions): string | undefined {
  if (!diff.delete.length) return undefined;
  if (scan.errors.length) {
    return `the local scan had ${scan.errors.length} error(s) (e.g. ${scan.errors[0]!.path}: ${scan.errors[0]!.message}); deletions skipped, as rsync does after I/O errors`;
  }
  const max = opts.maxDelete ?? DEFAULT_MAX_DELETE;
  if (diff.delete.length > max) return `${diff.delete.length} deletions exceed the limit of ${max}; raise maxDelete if this is intended`;
  if (!opts.allowMassDelete && diff.delete.length * 2 > remoteEntries) {
    return `would delete ${diff.delete.length} of ${remoteEntries} remote entries (more than half); check the local folder and destination, or allow mass deletion`;
  }
  return undefined;
}

function emptyPlan(host: string, dest: RemoteDestination, scan: PlannableScan, target: PlanTarget, options: PlanOptions): PlannedHost {
  return {
    host, dest: dest.spec, destination: dest, scan, target, options, create: [], update: [], delete: [], unchanged: 0,
    skipped: [...scan.skipped], errors: [...scan.errors], remoteEntries: 0, replaceDirs: [],
    parents: [], leftovers: [], bytesToSend: 0, extraneous: 0,
  };
}

const BLOCK = 4096;
/** Head-room kept free beyond the estimate (filesystem metadata, the temp file of an update beside its original). */
export const SPACE_MARGIN = 256 * 1024;

/** Disk the apply will use: every file rounded up to whole blocks, a block per new directory, plus a margin. */
export function spaceNeeded(plan: Pick<PlannedHost, 'create' | 'update'>): { bytes: number; disk: number } {
  let bytes = 0;
  let disk = SPACE_MARGIN;
  for (const item of [...plan.create, ...plan.update]) {
    if (item.type === 'file' && !isMetadataOnly(item)) {
      bytes += item.size;
      disk += Math.ceil(item.size / BLOCK) * BLOCK;
    } else if (item.action === 'create') disk += BLOCK;
  }
  return { bytes, disk };
}

export function formatSize(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return `${v.toFixed(1)} ${units[u]}`;
}

/** Missing directories from the nearest existing ancestor down to (not including) `absDest`. */
export function missingParents(nearest: string, absDest: string): string[] {
  const base = nearest.replace(/\/+$/, '');
  if (!absDest.startsWith(`${base}/`)) return [];
  const parts = absDest.slice(base.length + 1).split('/');
  return parts.slice(0, -1).map((_, i) => `${base}/${parts.slice(0, i + 1).join('/')}`);
}

/** The space check of a plan against a free-byte count (undefined when it fits). */
export function spaceProblem(plan: Pick<PlannedHost, 'create' | 'update'>, where: string, freeBytes: number): string | undefined {
  const { disk } = spaceNeeded(plan);
  return disk > freeBytes ? `not enough space on ${where}: the push needs about ${formatSize(disk)}, ${formatSize(freeBytes)} free` : undefined;
}

/** Why the apply would fail on this host before writing anything (permissions, space), or undefined. */
function predictFailure(plan: PlannedHost, listing: RemoteListing): string | undefined {
  const work = plan.create.length + plan.update.length + plan.delete.length + plan.leftovers.length;
  if (!work && !plan.destMissing) return undefined;
  const { probe } = listing;
  if (!probe.writable) {
    return plan.destMissing
      ? `cannot create ${plan.absDest}: ${probe.nearest} is not writable by the login user (permission denied)`
      : `${plan.absDest} is not writable by the login user (permission denied)`;
  }
  return plan.freeBytes === undefined ? undefined : spaceProblem(plan, probe.nearest, plan.freeBytes);
}

/** Where and what to list for a destination spec: a directory, some names in it, or one file's own path. */
export interface PlanTarget {
  request: ListRequest;
  /** A file pushed to REMOTE that names the file itself: its scan under the remote name. */
  renamed?: PlannableScan;
}

/**
 * The SFTP channel a real push's listing found kept on the connection, with the free space it measured at
 * `path` (the destination as the last listing on this connection resolved `~`) while the listing ran.
 */
export interface SftpAhead {
  lease: LeasedChannel<SFTPWrapper>;
  path: string;
  free: number | undefined;
}

/** A host's listing for a plan, or why it could not be made. */
export type ListingForPlan = (RemoteListing & { lock?: DestinationLock; sftpAhead?: SftpAhead }) | Error;

/** A connection's fact (DisposalScope.learn): its login user's home, as its last listing printed it. */
const HOME = 'push: home';

/**
 * Lists a host for a plan (under the lock for a real push); never throws. A real push also takes the SFTP
 * channel a previous push kept on the connection, if any, and measures the destination's free space on it
 * at the same time: an apply that writes then starts with neither round trip (a no-op gives it back).
 */
export async function listForPlan(pool: Pool, host: string, target: PlanTarget, opts: Pick<PlanOptions, 'signal'> & { lock?: LockRequest } = {}): Promise<ListingForPlan> {
  const scope = pool.liveScope(host);
  const home = scope?.recall(HOME);
  const dest = target.request.dest;
  const path = opts.lock && (home !== undefined || !dest.homeRelative) ? absolutePath(dest, home ?? '') : undefined;
  const ahead = path === undefined ? undefined
    : keptSftp(pool, host, (sftp) => freeBytes(sftp, path)).then((got) => got && { lease: got.lease, path, free: got.value }, () => undefined);
  const listing = await listRemote(pool, host, target.request, { lock: opts.lock, signal: opts.signal }).catch((err: Error) => err);
  const sftpAhead = await ahead;
  if (listing instanceof Error) {
    if (sftpAhead) keepSftp(pool, sftpAhead.lease);
    return listing;
  }
  pool.liveScope(host)?.learn(HOME, listing.home); // (the listing may have made the connection)
  return sftpAhead ? { ...listing, sftpAhead } : listing;
}

/** Lets go of what a listing holds when its plan is not made (the lock; a kept SFTP channel goes back). */
export async function releaseListing(pool: Pool, listing: ListingForPlan): Promise<void> {
  if (listing instanceof Error) return;
  if (listing.sftpAhead) keepSftp(pool, listing.sftpAhead.lease);
  await listing.lock?.release();
}

export async function planHost(
  pool: Pool, host: string, scan: PlannableScan, target: PlanTarget, opts: PlanOptions & { lock?: LockRequest } = {}, cache: LocalHashCache = new Map(),
  listed?: Promise<ListingForPlan>,
): Promise<PlannedHost> {
  const { request } = target;
  const { lock: _lock, signal: _signal, ...options } = opts;
  let plan = emptyPlan(host, request.dest, scan, target, options);
  const listing = await (listed ?? listForPlan(pool, host, target, opts));
  if (listing instanceof Error) {
    plan.fatal = listing.message;
    plan.unreachable = listing instanceof ConnectError || /connect|handshake|authentication|timed out/i.test(plan.fatal);
    if (listing instanceof ConnectError) plan.connectError = listing;
    return plan;
  }
  if (listing.fileAtPath) plan = emptyPlan(host, request.fileAt!.parent, target.renamed ?? scan, target, options);
  const planned = plan.scan;
  plan.lock = listing.lock;
  plan.namesOnly = !!request.names;
  plan.absDest = listing.absDest;
  plan.errors.push(...listing.errors);
  plan.leftovers = listing.leftovers;
  plan.freeBytes = listing.probe.freeBytes;
  plan.nearest = listing.probe.nearest;
  const ahead = listing.sftpAhead;
  if (ahead) {
    plan.sftp = Promise.resolve(ahead.lease);
    if (ahead.path === plan.nearest) plan.freeBytes ??= ahead.free;
  }
  if (listing.state === 'other') {
    plan.fatal = `${plan.dest} exists on ${host} and is not a directory; remove it or choose another destination`;
    return plan;
  }
  plan.destMissing = listing.state === 'missing';
  if (plan.destMissing) plan.parents = missingParents(listing.probe.nearest, listing.absDest);
  plan.remoteEntries = listing.entries.size;
  const diff = diffEntries(planned, listing.entries, { delete: opts.delete && !plan.namesOnly, checksum: opts.checksum });
  plan.errors.push(...diff.conflicts);
  let hashed: PlanItem[] = [];
  if (diff.needHash.length) {
    // A real push updates or fixes metadata either way: its SFTP channel and free space are asked for
    // alongside the hashes.
    if (listing.lock) plan.sftp ??= openSftp(pool, host).catch((err: Error) => err);
    const early = plan.sftp;
    const nearest = plan.nearest;
    const free = early && plan.freeBytes === undefined ? early.then((l) => (l instanceof Error ? undefined : freeBytes(l.channel, nearest))) : undefined;
    const paths = diff.needHash.map((i) => i.path);
    // Small files are compared by their bytes over that channel (no process starts on the host), the
    // others hashed on the host (in the lock's shell).
    const byBytes = early && plan.absDest ? forBytesCheck(diff.needHash) : [];
    const byTool = byBytes.length ? paths.filter((p) => !byBytes.includes(p)) : paths;
    const absDest = plan.absDest!;
    const hashOnHost = (ps: string[]) => (ps.length ? remoteHashes(pool, host, plan.destination, ps, opts.signal, listing.lock).catch(() => NO_HASHES) : undefined);
    const [lh, rh, rb, measured] = await Promise.all([
      localHashes(planned, paths, cache),
      hashOnHost(byTool),
      byBytes.length ? early!.then((l) => (l instanceof Error ? hashOnHost(byBytes) : bytesHashes(l.channel, absDest, diff.needHash, byBytes))) : undefined,
      free,
    ]);
    plan.freeBytes ??= measured;
    const label = (tool: string) => (tool === 'none' ? 'size+mtime (no sha256sum, shasum or openssl on the host)' : tool);
    plan.contentCheck = rh && rb && rb.tool !== rh.tool ? `${label(rh.tool)} (small files: ${label(rb.tool)})` : label((rh ?? rb)!.tool);
    const remote = new Map([...(rh?.hashes ?? []), ...(rb?.hashes ?? [])]);
    // --checksum compares files whose size and mtime already agree: equal content there is simply unchanged.
    const settled = settleHashed(diff.needHash, planned, listing.entries, lh, remote, !!opts.checksum);
    hashed = settled.filter((i) => i.changes.content || i.changes.time || i.changes.perms);
    diff.unchanged += settled.length - hashed.length;
  }
  plan.create = diff.create;
  plan.update = [...diff.update, ...hashed].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  plan.delete = diff.delete;
  plan.unchanged = diff.unchanged;
  plan.extraneous = diff.extraneous;
  plan.replaceDirs = diff.replaceDirs;
  plan.deleteBlocked = deleteBlockReason(planned, diff, listing.entries.size, opts);
  plan.bytesToSend = spaceNeeded(plan).bytes;
  plan.fatal = predictFailure(plan, listing);
  return plan;
}

/**
 * How a REMOTE spec is listed for a source. A folder: REMOTE is the directory that mirrors it. Files: REMOTE
 * is the directory to put them in if it ends in `/` or exists as a directory on the host; otherwise (one
 * file only) it is the file's own path. Throws DestinationError for a bad spec, before contacting anyone.
 */
export function planTarget(scan: PlannableScan, remoteSpec: string, opts: { root?: string; files?: readonly string[] }): PlanTarget {
  if (!opts.files) return { request: { dest: parseDestination(remoteSpec, { root: opts.root }) } };
  const asDir = remoteSpec.endsWith('/') || opts.files.length > 1;
  const dest = parseDestination(remoteSpec, { root: opts.root, allowTop: true });
  if (asDir || dest.parts.length === 0) return { request: { dest, names: opts.files } };
  const leaf = dest.parts[dest.parts.length - 1]!;
  const parent = parentOf(dest);
  parseDestination(parent.spec, { root: opts.root, allowTop: true });
  const entry = [...scan.entries][0];
  const renamed: PlannableScan | undefined = entry && entry[0] !== leaf
    ? { ...scan, entries: new Map([[leaf, entry[1]]]), sources: new Map([[leaf, sourcePath(scan, entry[0])]]) }
    : undefined;
  return { request: { dest, names: opts.files, fileAt: { parent, leaf } }, renamed };
}

/** Plans every host in parallel. Throws DestinationError (before contacting anyone) for a bad destination. */
export async function planPush(
  pool: Pool, hosts: readonly string[], scan: PlannableScan, destSpec: string, opts: PlanOptions & { files?: readonly string[] } = {},
): Promise<PlannedHost[]> {
  const target = planTarget(scan, destSpec, opts);
  const cache: LocalHashCache = new Map();
  return Promise.all(hosts.map((h) => planHost(pool, h, scan, target, opts, cache)));
}

/** rsync `--itemize-changes`-like code for one item (kept for tooltips and reports). */
export function itemize(item: PlanItem): string {
  const X = item.type === 'dir' ? 'd' : item.type === 'symlink' ? 'L' : 'f';
  if (item.action === 'delete') return '*deleting  ';
  if (item.action === 'create') return `${item.type === 'file' ? '>' : 'c'}${X}+++++++++`;
  const c = item.changes;
  const Y = c.content || c.type ? (item.type === 'file' ? '>' : 'c') : c.link ? 'c' : '.';
  const flags = [c.content && !c.size ? 'c' : '.', c.size ? 's' : '.', c.time ? 't' : '.', c.perms ? 'p' : '.', '.....'].join('');
  return `${Y}${X}${c.type ? '+++++++++' : flags}`;
}

/** What the item will do, in words: "new file", "content changed", "time only", "permissions", "deleted". */
export function describeItem(item: PlanItem): string {
  const kind = item.type === 'symlink' ? 'link' : item.type === 'other' ? 'entry' : item.type;
  if (item.action === 'create') return `new ${kind}`;
  if (item.action === 'delete') return `delete ${kind}`;
  const c = item.changes;
  if (c.type) return `replace (was another type)`;
  if (c.link) return 'link target changed';
  if (c.content) return c.size ? 'content changed (size differs)' : 'content changed';
  const what = [c.time && 'time', c.perms && 'permissions'].filter(Boolean).join(' + ');
  return `${what || 'metadata'} only`;
}

/** Splits a buffer on NUL bytes (a trailing NUL does not produce an empty last field). */
export function splitNul(buf: Buffer): string[] {
  const fields: string[] = [];
  let start = 0;
  for (let i = buf.indexOf(0, start); i !== -1; i = buf.indexOf(0, start)) {
    fields.push(buf.toString('utf8', start, i));
    start = i + 1;
  }
  if (start < buf.length) fields.push(buf.toString('utf8', start));
  return fields;
}
