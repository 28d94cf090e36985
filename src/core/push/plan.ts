// Plan = local scan × remote listing → create / update / delete / unchanged per host. Size+mtime (whole
// seconds) decides; equal size with a different mtime is settled by hashing both sides, so a touched-but-
// identical file costs a metadata fix, not an upload.
import { ConnectError } from '../ssh/connect';
import type { Pool } from '../ssh/pool';
import { execScript, splitNul } from './remoteExec';
import { listRemote, type RemoteListing } from './remoteList';
import { parseDestination, shellWord, type RemoteDestination } from './remotePath';
import { hashLocalFile, localPath } from './scan';
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
  signal?: AbortSignal;
}

/** What a plan needs from the scan beyond ScanResult (optional so a scan made elsewhere can be planned). */
export type PlannableScan = ScanResult & { isExcluded?(rel: string, isDir: boolean): boolean };

/** A host plan plus what apply needs to carry it out. */
export interface PlannedHost extends HostPlan {
  destination: RemoteDestination;
  absDest?: string;
  destMissing?: boolean;
  /** Remote directories that must be removed before a file/link can take their place (delete enabled only). */
  replaceDirs: string[];
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
}

const sameSecond = (localMs: number, remoteSeconds: number) => Math.floor(localMs / 1000) === remoteSeconds;

function remoteType(kind: string): PlanItem['type'] {
  return kind === 'f' ? 'file' : kind === 'd' ? 'dir' : kind === 'l' ? 'symlink' : 'other';
}

/** Pure diff of a scan against a listing (no I/O), exported for unit tests. */
export function diffEntries(scan: PlannableScan, remote: ReadonlyMap<string, RemoteEntry>, opts: { delete?: boolean } = {}): Diff {
  const d: Diff = { create: [], update: [], delete: [], unchanged: 0, needHash: [], conflicts: [], replaceDirs: [] };
  for (const [path, l] of scan.entries) {
    const r = remote.get(path);
    const base = { path, type: l.type, size: l.type === 'file' ? l.size : 0 } as const;
    if (!r) {
      d.create.push({ ...base, action: 'create', changes: {} });
      continue;
    }
    if (r.kind === 'd' && l.type !== 'dir') {
      if (!opts.delete) {
        d.conflicts.push({ path, message: `a remote directory is in the way of this ${l.type}; push with delete enabled to replace it` });
        continue;
      }
      d.replaceDirs.push(path);
      d.update.push({ ...base, action: 'update', changes: { type: true } });
      continue;
    }
    const item = compareSameType(l, r);
    if (item === 'unchanged') d.unchanged++;
    else if (item === 'hash') d.needHash.push({ ...base, action: 'update', changes: {} });
    else d.update.push({ ...base, action: 'update', changes: item });
  }
  if (opts.delete) {
    for (const [path, r] of remote) {
      if (path === '' || scan.entries.has(path)) continue;
      if (isProtected(scan, path, r.kind === 'd')) continue;
      d.delete.push({ path, action: 'delete', type: remoteType(r.kind), size: r.size, changes: {} });
    }
    d.delete.sort((a, b) => depth(b.path) - depth(a.path) || (a.path < b.path ? -1 : 1));
  }
  return d;
}

const depth = (p: string) => p.split('/').length;

/** Excluded, skipped or unreadable locally: never deleted remotely (rsync protects excluded files too). */
function isProtected(scan: PlannableScan, path: string, isDir: boolean): boolean {
  if (scan.isExcluded?.(path, isDir)) return true;
  const hit = (p: string) => path === p || path.startsWith(`${p}/`);
  return scan.skipped.some((s) => hit(s.path)) || scan.errors.some((e) => hit(e.path));
}

function compareSameType(l: LocalEntry, r: RemoteEntry): PlanItem['changes'] | 'unchanged' | 'hash' {
  const perms = remoteModeFor(l.mode) !== (r.mode & 0o7777);
  if (l.type === 'dir') {
    if (r.kind !== 'd') return { type: true };
    return perms ? { perms: true } : 'unchanged';
  }
  if (l.type === 'symlink') {
    if (r.kind !== 'l') return { type: true };
    return r.linkTarget === l.linkTarget ? 'unchanged' : { link: true };
  }
  if (r.kind !== 'f') return { type: true };
  if (r.size !== l.size) return { content: true, size: true, time: !sameSecond(l.mtimeMs, r.mtime), perms };
  if (!sameSecond(l.mtimeMs, r.mtime)) return 'hash';
  return perms ? { perms: true } : 'unchanged';
}

/** Settles the same-size/different-mtime items once both sides' hashes are known. */
export function settleHashed(
  items: readonly PlanItem[], scan: ScanResult, remote: ReadonlyMap<string, RemoteEntry>,
  localHashes: ReadonlyMap<string, string>, remoteHashes: ReadonlyMap<string, string>,
): PlanItem[] {
  return items.map((item) => {
    const l = scan.entries.get(item.path)!;
    const perms = remoteModeFor(l.mode) !== ((remote.get(item.path)?.mode ?? 0) & 0o7777);
    const same = localHashes.get(item.path) !== undefined && localHashes.get(item.path) === remoteHashes.get(item.path);
    return { ...item, changes: same ? { time: true, perms } : { content: true, time: true, perms } };
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
    if (!h) cache.set(p, (h = hashLocalFile(localPath(scan.root, p))));
    out.set(p, await h.catch(() => ''));
  }));
  return out;
}

/** One `sha256sum -z` for all paths; names travel NUL-separated on stdin so any name works. */
export async function remoteHashes(pool: Pool, host: string, dest: RemoteDestination, paths: readonly string[], signal?: AbortSignal): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!paths.length) return out;
  const script = `cd -- ${shellWord(dest)} || exit 1\nxargs -0 sha256sum -z --`;
  const stdin = Buffer.from(paths.map((p) => `${p}\0`).join(''), 'utf8');
  const res = await execScript(pool, host, script, stdin, signal);
  for (const line of splitNul(res.stdout)) {
    const m = /^([0-9a-f]{64}) [ *]([\s\S]*)$/.exec(line);
    if (m) out.set(m[2]!, m[1]!);
  }
  return out;
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

function emptyPlan(host: string, dest: RemoteDestination, scan: ScanResult): PlannedHost {
  return {
    host, dest: dest.spec, destination: dest, create: [], update: [], delete: [], unchanged: 0,
    skipped: [...scan.skipped], errors: [...scan.errors], remoteEntries: 0, replaceDirs: [],
  };
}

export async function planHost(
  pool: Pool, host: string, scan: PlannableScan, dest: RemoteDestination, opts: PlanOptions = {}, cache: LocalHashCache = new Map(),
): Promise<PlannedHost> {
  const plan = emptyPlan(host, dest, scan);
  let listing: RemoteListing;
  try {
    listing = await listRemote(pool, host, dest, { cleanStale: !opts.dryRun, signal: opts.signal });
  } catch (err) {
    plan.fatal = (err as Error).message;
    plan.unreachable = err instanceof ConnectError || /connect|handshake|authentication|timed out/i.test(plan.fatal);
    return plan;
  }
  plan.absDest = listing.absDest;
  plan.errors.push(...listing.errors);
  if (listing.state === 'other') {
    plan.fatal = `${dest.spec} exists on ${host} and is not a directory; remove it or choose another destination`;
    return plan;
  }
  plan.destMissing = listing.state === 'missing';
  plan.remoteEntries = listing.entries.size;
  const diff = diffEntries(scan, listing.entries, { delete: opts.delete });
  plan.errors.push(...diff.conflicts);
  let hashed: PlanItem[] = [];
  if (diff.needHash.length) {
    const paths = diff.needHash.map((i) => i.path);
    const [lh, rh] = await Promise.all([localHashes(scan, paths, cache), remoteHashes(pool, host, dest, paths, opts.signal).catch(() => new Map<string, string>())]);
    hashed = settleHashed(diff.needHash, scan, listing.entries, lh, rh);
  }
  plan.create = diff.create;
  plan.update = [...diff.update, ...hashed].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  plan.delete = diff.delete;
  plan.unchanged = diff.unchanged;
  plan.replaceDirs = diff.replaceDirs;
  plan.deleteBlocked = deleteBlockReason(scan, diff, listing.entries.size, opts);
  return plan;
}

/** Plans every host in parallel. Throws DestinationError (before contacting anyone) for a bad destination. */
export async function planPush(pool: Pool, hosts: readonly string[], scan: PlannableScan, destSpec: string, opts: PlanOptions = {}): Promise<PlannedHost[]> {
  const dest = parseDestination(destSpec, { root: opts.root });
  const cache: LocalHashCache = new Map();
  return Promise.all(hosts.map((h) => planHost(pool, h, scan, dest, opts, cache)));
}

/** rsync `--itemize-changes`-like code for one item. */
export function itemize(item: PlanItem): string {
  const X = item.type === 'dir' ? 'd' : item.type === 'symlink' ? 'L' : 'f';
  if (item.action === 'delete') return '*deleting  ';
  if (item.action === 'create') return `${item.type === 'file' ? '>' : 'c'}${X}+++++++++`;
  const c = item.changes;
  const Y = c.content || c.type ? (item.type === 'file' ? '>' : 'c') : c.link ? 'c' : '.';
  const flags = [c.content && !c.size ? 'c' : '.', c.size ? 's' : '.', c.time ? 't' : '.', c.perms ? 'p' : '.', '.....'].join('');
  return `${Y}${X}${c.type ? '+++++++++' : flags}`;
}
