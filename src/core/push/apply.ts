// Carrying out a host plan under the destination's lock: leftovers of interrupted pushes removed, missing
// parents created (mkdir -p, modes from the umask), directories (parents first), then files and links through
// a sliding window of pipelined SFTP transfers (or one tar stream into a new destination), then deletions
// (deepest first, only when enabled and not blocked), then directory modes and mtimes. Every item gets a
// result; a cause shared by many items (disk full, connection lost) is reported once for the host.
import type { SFTPWrapper } from 'ssh2';
import type { HostOutcome } from '../jobs/outcome';
import type { ConnectError } from '../ssh/connect';
import type { LeasedChannel, Pool } from '../ssh/pool';
import { isMetadataOnly, formatSize, planHost, spaceProblem, type PlannedHost } from './plan';
import { joinRemote } from './remotePath';
import { sourcePath } from './scan';
import { freeBytes, keepSftp, openSftp, sftpCall, sftpErrorText, SFTP_STATUS } from './sftp';
import { changeableInSameSecond, remoteModeFor, type ItemAction, type PlanItem } from './types';
import { ensureDirectory, removeEntry, removeTree, uploadFile, uploadSymlink } from './upload';
import { tarIntoNewDestinationBatched } from './tarBatch';
import { runWindow } from './window';

export type PushState = 'ok' | 'partial' | 'failed' | 'cancelled' | 'unreachable';

export interface ItemResult {
  path: string;
  action: ItemAction;
  type: PlanItem['type'];
  ok: boolean;
  /** Short; a cause shared by many items is in the host's `reason`, not repeated here. */
  error?: string;
}

export interface HostPushResult {
  host: string;
  state: PushState;
  reason?: string;
  results: ItemResult[];
  bytes: number;
  durationMs: number;
  deleteBlocked?: string;
  /** The plan actually applied (re-made under the destination's lock). */
  applied?: PlannedHost;
  /** The same end in the run engine's words (design.md's HostOutcome), for the job layer to record. */
  outcome?: HostOutcome;
  /** Why the host could not be reached, when its connect failed (unreachable): the job layer records it as health. */
  connectError?: ConnectError;
}

/** rsync's exit status for "partial transfer due to error"; a push that wrote nothing fails with 1. */
export const PARTIAL_EXIT = 23;

/** A push result as a HostOutcome: ok, failed (exit 23 partial / 1), cancelled, lost (connection), unreachable. */
export function hostOutcomeOf(r: HostPushResult): HostOutcome {
  const durationMs = r.durationMs;
  switch (r.state) {
    case 'ok': return { state: 'ok', exit: 0, durationMs };
    case 'cancelled': return { state: 'cancelled', remoteStopped: true, durationMs, reason: r.reason };
    case 'unreachable': return { state: 'unreachable', reason: r.reason ?? 'unreachable', durationMs };
    default:
      if (/connection lost/.test(r.reason ?? '')) return { state: 'lost', remoteStopped: true, durationMs, reason: r.reason };
      return { state: 'failed', exit: r.state === 'partial' ? PARTIAL_EXIT : 1, durationMs, reason: r.reason };
  }
}

export interface ProgressEvent {
  host: string;
  done: number;
  total: number;
  bytes: number;
}

export interface ApplyOptions {
  /** Files in flight per connection (default 32). */
  window?: number;
  /** Never use the tar fast path (tests of the SFTP path; hosts where tar misbehaves). */
  noTar?: boolean;
  /** Seconds to wait for another push to the same destination (default 120). */
  lockWaitSeconds?: number;
  signal?: AbortSignal;
  onProgress?: (e: ProgressEvent) => void;
  /** Another push holds the destination: we are waiting for it. */
  onWaiting?: (host: string) => void;
}

export const DEFAULT_WINDOW = 32;
export const DEFAULT_LOCK_WAIT_SECONDS = 120;
/** Files given sub-second mtimes after the apply (one `touch` each, while the lock is released). */
const PRECISE_TIMES_MAX = 200;

/** Everything the plan would do, as the apply result's itemized lists (successful items only). */
export interface Itemized { create: string[]; update: string[]; delete: string[] }

export function itemizedFromPlan(plan: PlannedHost): Itemized {
  return {
    create: plan.create.map((i) => i.path).sort(),
    update: plan.update.map((i) => i.path).sort(),
    delete: plan.deleteBlocked ? [] : plan.delete.map((i) => i.path).sort(),
  };
}

export function itemizedFromApply(result: HostPushResult): Itemized {
  const pick = (a: ItemAction) => result.results.filter((r) => r.ok && r.action === a).map((r) => r.path).sort();
  return { create: pick('create'), update: pick('update'), delete: pick('delete') };
}

function outcome(results: readonly ItemResult[], cancelled: boolean, hostCause: string | undefined): { state: PushState; reason?: string } {
  if (cancelled) return { state: 'cancelled' };
  if (hostCause) return { state: 'failed', reason: hostCause };
  const failed = results.filter((r) => !r.ok);
  if (!failed.length) return { state: 'ok' };
  const causes = new Map<string, number>();
  for (const r of failed) causes.set(r.error ?? 'failed', (causes.get(r.error ?? 'failed') ?? 0) + 1);
  const top = [...causes].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([why, n]) => `${why}${n > 1 ? ` (${n} items)` : ''}`).join('; ');
  const transfers = results.filter((r) => r.type !== 'other').length;
  if (transfers > 0 && failed.length === results.length) return { state: 'failed', reason: `all ${failed.length} item(s) failed: ${top}` };
  return { state: 'partial', reason: `${failed.length} of ${results.length} item(s) failed: ${top}` };
}

const byDepth = (p: string) => (p === '' ? 0 : p.split('/').length);
const parentRel = (p: string) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');

/** Paths in `fresh` that the approved plan did not announce (a deletion or upload nobody agreed to). */
function unapproved(approved: PlannedHost, fresh: PlannedHost): string[] {
  const keys = (p: PlannedHost) => new Set([...p.create, ...p.update, ...(p.deleteBlocked ? [] : p.delete)].map((i) => `${i.action === 'delete' ? 'delete' : 'write'}\0${i.path}`));
  const ok = keys(approved);
  return [...keys(fresh)].filter((k) => !ok.has(k) && !(k.startsWith('write\0') && ok.has(`write\0${k.slice(6)}`))).map((k) => k.split('\0')[1]!);
}

/**
 * Applies a plan. A plan made without the lock (a dry run shown for confirmation) is re-made under it first;
 * if the destination changed so that the apply would do something the approved plan did not say, nothing is
 * done and the host fails with the reason.
 */
export async function applyHost(pool: Pool, approved: PlannedHost, opts: ApplyOptions = {}): Promise<HostPushResult> {
  const started = Date.now();
  const failedEarly = (plan: PlannedHost, state: PushState, reason: string): HostPushResult =>
    ({
      host: plan.host, state, reason, results: [], bytes: 0, durationMs: Date.now() - started, deleteBlocked: plan.deleteBlocked, applied: plan,
      ...(state === 'unreachable' && plan.connectError ? { connectError: plan.connectError } : {}),
    });
  const fatalState = (p: PlannedHost): PushState => (opts.signal?.aborted ? 'cancelled' : p.unreachable ? 'unreachable' : 'failed');
  if (approved.fatal && !approved.lock) return failedEarly(approved, fatalState(approved), approved.fatal);
  if (opts.signal?.aborted) {
    await closeEarlySftp(pool, approved);
    await approved.lock?.release();
    return failedEarly(approved, 'cancelled', 'cancelled before the apply started');
  }
  let plan = approved;
  if (!plan.lock) {
    try {
      plan = await planHost(pool, approved.host, approved.scan, approved.target, {
        ...approved.options, dryRun: false, signal: opts.signal,
        lock: { waitSeconds: opts.lockWaitSeconds ?? DEFAULT_LOCK_WAIT_SECONDS, onWaiting: () => opts.onWaiting?.(approved.host) },
      });
    } catch (err) {
      return failedEarly(approved, 'failed', (err as Error).message);
    }
    const surprise = plan.fatal ? [] : unapproved(approved, plan);
    if (surprise.length) {
      await closeEarlySftp(pool, plan);
      await plan.lock?.release();
      return failedEarly(plan, 'failed', `the destination changed since the plan (${surprise.slice(0, 3).join(', ')}${surprise.length > 3 ? ', …' : ''}); nothing was written — plan again`);
    }
  }
  try {
    if (plan.fatal) return failedEarly(plan, fatalState(plan), plan.fatal);
    return await applyLocked(pool, plan, opts, started);
  } finally {
    await closeEarlySftp(pool, plan);
    await plan.lock?.release();
  }
}

/** The SFTP channel the plan opened ahead (see PlannedHost.sftp), taken: the caller owns it now. */
function takeEarlySftp(plan: PlannedHost): Promise<LeasedChannel<SFTPWrapper> | Error> | undefined {
  const early = plan.sftp;
  plan.sftp = undefined;
  return early;
}

async function closeEarlySftp(pool: Pool, plan: PlannedHost): Promise<void> {
  const lease = await takeEarlySftp(plan);
  if (lease && !(lease instanceof Error)) keepSftp(pool, lease);
}

class HostStop extends Error {}

async function applyLocked(pool: Pool, plan: PlannedHost, opts: ApplyOptions, started: number): Promise<HostPushResult> {
  const base = { host: plan.host, bytes: 0, deleteBlocked: plan.deleteBlocked, applied: plan };
  const runDeletes = plan.delete.length > 0 && !plan.deleteBlocked;
  const work = plan.create.length + plan.update.length + (runDeletes ? plan.delete.length : 0);
  // Scan errors and conflicts are failures of this push too (rsync: exit 23, partial transfer).
  const preErrors: ItemResult[] = plan.errors.map((e) => ({ path: e.path, action: 'update', type: 'other', ok: false, error: e.message }));
  if (work === 0 && !plan.destMissing && !plan.leftovers.length) {
    return { ...base, ...outcome(preErrors, false, undefined), results: preErrors, durationMs: Date.now() - started };
  }
  if (opts.signal?.aborted) return { ...base, state: 'cancelled', results: [], durationMs: 0 };
  const useTar = plan.destMissing && !plan.namesOnly && !opts.noTar && plan.create.length >= TAR_MIN_ITEMS && !plan.update.length && !runDeletes;
  // A first push with nothing to clean up needs no SFTP channel at all (its listing measured the space).
  if (useTar && !plan.leftovers.length) {
    const viaTar = await applyByTar(pool, plan, preErrors, opts, started);
    if (viaTar) return viaTar;
  }
  const lease = await (takeEarlySftp(plan) ?? openSftp(pool, plan.host).catch((err: Error) => err));
  if (lease instanceof Error) return { ...base, state: 'failed', reason: lease.message, results: [], durationMs: Date.now() - started };
  const sftp = lease.channel;
  const dest = plan.absDest!;
  const remote = (rel: string) => joinRemote(dest, rel);
  const touchedDirs = new Set<string>();
  try {
    // Free space, before writing anything, unless the plan measured it (df in a dry run or for a new
    // destination; statvfs on a kept channel while listing, or alongside the hashes).
    if (plan.freeBytes === undefined && plan.bytesToSend > 0 && plan.nearest) {
      const free = await freeBytes(sftp, plan.nearest);
      const problem = free === undefined ? undefined : spaceProblem(plan, plan.nearest, free);
      if (problem) return { ...base, state: 'failed', reason: problem, results: preErrors, durationMs: Date.now() - started };
    }
    // Leftovers of interrupted pushes: ours to remove now that we hold the lock.
    for (const rel of plan.leftovers) {
      const path = rel.startsWith('../') ? `${dest.slice(0, dest.lastIndexOf('/')) || '/'}/${rel.slice(3)}` : remote(rel);
      await removeTree(sftp, path).catch(() => undefined);
      if (!rel.startsWith('../')) touchedDirs.add(parentRel(rel));
    }
    if (useTar && plan.leftovers.length) {
      const viaTar = await applyByTar(pool, plan, preErrors, opts, started);
      if (viaTar) return viaTar;
    }
    for (const dir of plan.parents) {
      try {
        await ensureDirectory(sftp, dir, undefined);
      } catch (err) {
        return { ...base, state: 'failed', reason: `cannot create ${dir}: ${sftpErrorText(err)}`, results: preErrors, durationMs: Date.now() - started };
      }
    }
    if (plan.destMissing) {
      try {
        await ensureDirectory(sftp, dest, plan.namesOnly ? undefined : 0o755);
      } catch (err) {
        return { ...base, state: 'failed', reason: `cannot create ${dest}: ${sftpErrorText(err)}`, results: preErrors, durationMs: Date.now() - started };
      }
    }
    return await transfer(sftp, plan, preErrors, touchedDirs, opts, started, runDeletes, work);
  } finally {
    keepSftp(pool, lease);
  }
}

async function transfer(
  sftp: SFTPWrapper, plan: PlannedHost, preErrors: ItemResult[], touchedDirs: Set<string>, opts: ApplyOptions, started: number,
  runDeletes: boolean, work: number,
): Promise<HostPushResult> {
  const scan = plan.scan;
  const dest = plan.absDest!;
  const remote = (rel: string) => joinRemote(dest, rel);
  let hostCause: string | undefined;
  const onLost = () => { hostCause ??= 'connection lost during the push; run it again to converge'; };
  sftp.once('close', onLost);
  const results: ItemResult[] = [...preErrors];
  let bytes = 0;
  let done = 0;
  const progress = () => opts.onProgress?.({ host: plan.host, done, total: work, bytes });
  const canStart = () => !opts.signal?.aborted && !hostCause;
  // Sub-second mtimes, touched after the apply: every file a same-second edit could still change (up to the
  // limit), then, as room allows, the others (exact mtimes are nicer, but whole seconds suffice for them).
  const precise: Array<[string, number, number]> = [];
  const preciseOld: Array<[string, number, number]> = [];
  let preciseRecent = 0;

  const attempt = async (item: PlanItem, action: () => Promise<void>) => {
    try {
      if (hostCause) throw new HostStop();
      await action();
      results.push({ path: item.path, action: item.action, type: item.type, ok: true });
      if (item.type !== 'dir') touchedDirs.add(parentRel(item.path));
    } catch (err) {
      let message: string;
      if (err instanceof HostStop || hostCause) message = 'not written';
      else if ((err as Error).message === 'cancelled') message = 'cancelled';
      else if ((err as { code?: number }).code === SFTP_STATUS.FAILURE && await diskFull(sftp, dest)) {
        hostCause ??= `remote filesystem full (no space left on device): ${formatSize(bytes)} of ${formatSize(plan.bytesToSend)} were written before it filled; free space and push again`;
        message = 'not written';
      } else message = sftpErrorText(err);
      results.push({ path: item.path, action: item.action, type: item.type, ok: false, error: message });
    }
    done++;
    progress();
  };

  const items = [...plan.create, ...plan.update];
  const dirs = items.filter((i) => i.type === 'dir');
  const others = items.filter((i) => i.type !== 'dir');
  const replaced = new Set(plan.replaceDirs);
  const window = opts.window ?? DEFAULT_WINDOW;

  // Directories level by level, so a parent exists before its children. Owner-writable while we fill it;
  // the exact mode (e.g. a read-only 0555 dir) and the mtime are set at the end.
  const levels = new Map<number, PlanItem[]>();
  for (const d of dirs) levels.set(byDepth(d.path), [...(levels.get(byDepth(d.path)) ?? []), d]);
  for (const level of [...levels.keys()].sort((a, b) => a - b)) {
    await runWindow(levels.get(level)!, window, (item) => attempt(item, async () => {
      const want = remoteModeFor(scan.entries.get(item.path)!.mode);
      if (item.changes.type) await removeEntry(sftp, remote(item.path), false);
      await ensureDirectory(sftp, remote(item.path), want | 0o700);
      touchedDirs.add(item.path);
      if (item.action === 'create') touchedDirs.add(parentRel(item.path));
    }), canStart);
  }

  await runWindow(others, window, (item) => attempt(item, async () => {
    const l = scan.entries.get(item.path)!;
    const target = remote(item.path);
    if (replaced.has(item.path)) {
      if (plan.deleteBlocked) throw new Error(`a remote directory is in the way and deletion is blocked: ${plan.deleteBlocked}`);
      await removeTree(sftp, target);
    }
    const mtimeSeconds = Math.floor(l.mtimeMs / 1000);
    if (l.type === 'symlink') return uploadSymlink(sftp, l.linkTarget!, target);
    if (l.mtimeNsec && changeableInSameSecond(scan, l)) {
      if (preciseRecent < PRECISE_TIMES_MAX) {
        preciseRecent++;
        precise.push([target, mtimeSeconds, l.mtimeNsec]);
      } else {
        // No exact mtime for this one: read it once its second is over, so whole seconds tell any later edit apart.
        await secondOver(mtimeSeconds, opts.signal);
      }
    } else if (l.mtimeNsec) preciseOld.push([target, mtimeSeconds, l.mtimeNsec]);
    if (isMetadataOnly(item)) {
      return sftpCall<void>(sftp, (cb) => sftp.setstat(target, { mode: remoteModeFor(l.mode), atime: mtimeSeconds, mtime: mtimeSeconds }, cb));
    }
    await uploadFile(sftp, { local: sourcePath(scan, item.path), remote: target, size: l.size, mode: remoteModeFor(l.mode), mtimeSeconds }, (n) => { bytes += n; }, opts.signal);
  }), canStart);

  if (runDeletes) {
    const deleteLevels = new Map<number, PlanItem[]>();
    for (const d of plan.delete) deleteLevels.set(byDepth(d.path), [...(deleteLevels.get(byDepth(d.path)) ?? []), d]);
    for (const level of [...deleteLevels.keys()].sort((a, b) => b - a)) {
      await runWindow(deleteLevels.get(level)!, window, (item) => attempt(item, () => removeEntry(sftp, remote(item.path), item.type === 'dir')), canStart);
    }
  }
  const dirTimes = hostCause ? [] : await finishDirectories(sftp, plan, touchedDirs);
  plan.lock?.setPreciseTimes([...precise, ...dirTimes, ...preciseOld].slice(0, PRECISE_TIMES_MAX));
  const cancelled = !!opts.signal?.aborted;
  markNotAttempted(plan, results, runDeletes, cancelled ? 'not attempted: cancelled' : hostCause ? 'not written' : 'not attempted');
  sftp.removeListener('close', onLost); // the channel may serve the next push
  return { host: plan.host, deleteBlocked: plan.deleteBlocked, applied: plan, ...outcome(results, cancelled, hostCause), results, bytes, durationMs: Date.now() - started };
}

/**
 * Every directory whose entries changed gets its local mode and mtime back (as `rsync -a` does), all
 * pipelined; returns their sub-second times for the lock's final `touch`.
 */
async function finishDirectories(sftp: SFTPWrapper, plan: PlannedHost, touched: ReadonlySet<string>): Promise<Array<[string, number, number]>> {
  const precise: Array<[string, number, number]> = [];
  await Promise.all([...touched].map(async (rel) => {
    const l = plan.scan.entries.get(rel);
    if (!l || l.type !== 'dir') return;
    const t = Math.floor(l.mtimeMs / 1000);
    const path = joinRemote(plan.absDest!, rel);
    await sftpCall<void>(sftp, (cb) => sftp.setstat(path, { mode: remoteModeFor(l.mode), atime: t, mtime: t }, cb)).catch(() => undefined);
    if (l.mtimeNsec) precise.push([path, t, l.mtimeNsec]);
  }));
  return precise;
}

/** Resolves once the local clock is past the whole second `seconds` (plus the file clock's slack). */
function secondOver(seconds: number, signal?: AbortSignal): Promise<void> {
  const wait = (seconds + 1) * 1000 + 20 - Date.now();
  if (wait <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { clearTimeout(timer); signal?.removeEventListener('abort', done); resolve(); };
    const timer = setTimeout(done, wait);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** OpenSSH answers a write on a full disk with a bare "Failure": ask statvfs whether that is what happened. */
async function diskFull(sftp: SFTPWrapper, path: string): Promise<boolean> {
  const free = await freeBytes(sftp, path);
  return free !== undefined && free < 1024 * 1024;
}

/** Below this many new entries the SFTP window is as fast and a tar stream is not worth it. */
const TAR_MIN_ITEMS = 64;

async function applyByTar(pool: Pool, plan: PlannedHost, preErrors: ItemResult[], opts: ApplyOptions, started: number): Promise<HostPushResult | undefined> {
  let bytes = 0;
  let done = 0;
  const sent = (_item: PlanItem, n: number) => {
    bytes += n;
    done++;
    opts.onProgress?.({ host: plan.host, done, total: plan.create.length, bytes });
  };
  // Depth-first (each directory followed by its whole subtree): GNU tar sets a directory's mtime once it
  // meets an entry outside it, so any other order leaves directories with the extraction time.
  const key = new Map(plan.create.map((i) => [i, i.path.split('/').join('\0')]));
  const ordered = [...plan.create].sort((a, b) => (key.get(a)! < key.get(b)! ? -1 : 1));
  let outcomeOfTar;
  try {
    outcomeOfTar = await tarIntoNewDestinationBatched(pool, plan.scan, plan, ordered, sent, opts.signal);
  } catch (err) {
    outcomeOfTar = { kind: 'failed' as const, message: (err as Error).message };
  }
  if (outcomeOfTar.kind === 'unsupported') return undefined;
  const ok = outcomeOfTar.kind === 'ok';
  const why = outcomeOfTar.kind === 'failed' ? outcomeOfTar.message : undefined;
  const itemError = opts.signal?.aborted ? 'not attempted: cancelled' : 'not written';
  const results: ItemResult[] = [
    ...preErrors,
    ...plan.create.map((i) => ({ path: i.path, action: i.action, type: i.type, ok, ...(ok ? {} : { error: itemError }) })),
  ];
  const base = { host: plan.host, bytes, deleteBlocked: plan.deleteBlocked, applied: plan, results, durationMs: Date.now() - started };
  if (ok) return { ...base, ...outcome(results, false, undefined) };
  if (opts.signal?.aborted) return { ...base, state: 'cancelled' };
  return { ...base, state: 'failed', reason: `${why}; nothing was written to ${plan.absDest} (${formatSize(bytes)} had been sent)` };
}

function markNotAttempted(plan: PlannedHost, results: ItemResult[], runDeletes: boolean, why: string): void {
  const seen = new Set(results.map((r) => `${r.action}\0${r.path}`));
  const all = [...plan.create, ...plan.update, ...(runDeletes ? plan.delete : [])];
  for (const item of all) {
    if (!seen.has(`${item.action}\0${item.path}`)) results.push({ path: item.path, action: item.action, type: item.type, ok: false, error: why });
  }
}

/** Applies every host's plan in parallel. */
export function applyAll(pool: Pool, plans: readonly PlannedHost[], opts: ApplyOptions = {}): Promise<HostPushResult[]> {
  return Promise.all(plans.map((p) => applyHost(pool, p, opts).catch((err: Error) => ({
    host: p.host, state: 'failed' as const, reason: err.message, results: [], bytes: 0, durationMs: 0,
  }))));
}

