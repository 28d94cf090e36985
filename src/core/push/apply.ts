// Carrying out a host plan over one pooled SFTP channel: directories (parents first), then files and links
// through a sliding window of pipelined transfers, then deletions (deepest first, only when enabled and not
// blocked). Every item gets a result; the host gets one honest outcome.
import type { Pool } from '../ssh/pool';
import { isMetadataOnly, type PlannedHost } from './plan';
import { joinRemote } from './remotePath';
import { localPath } from './scan';
import { sftpCall, sftpErrorText } from './sftp';
import { remoteModeFor, type ItemAction, type PlanItem, type ScanResult } from './types';
import { ensureDirectory, removeEntry, removeTree, uploadFile, uploadSymlink } from './upload';
import { tarIntoNewDestinationBatched } from './tarBatch';
import { runWindow } from './window';

export type PushState = 'ok' | 'partial' | 'failed' | 'cancelled' | 'unreachable';

export interface ItemResult {
  path: string;
  action: ItemAction;
  type: PlanItem['type'];
  ok: boolean;
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
  signal?: AbortSignal;
  onProgress?: (e: ProgressEvent) => void;
}

export const DEFAULT_WINDOW = 32;

class ConnectionLost extends Error {}

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

function outcome(results: readonly ItemResult[], cancelled: boolean, lost: string | undefined): { state: PushState; reason?: string } {
  if (cancelled) return { state: 'cancelled' };
  if (lost) return { state: 'failed', reason: lost };
  const failed = results.filter((r) => !r.ok).length;
  if (!failed) return { state: 'ok' };
  const transfers = results.filter((r) => r.type !== 'other').length;
  if (transfers > 0 && failed === results.length) return { state: 'failed', reason: `all ${failed} item(s) failed` };
  return { state: 'partial', reason: `${failed} of ${results.length} item(s) failed` };
}

const byDepth = (p: string) => (p === '' ? 0 : p.split('/').length);

export async function applyHost(pool: Pool, scan: ScanResult, plan: PlannedHost, opts: ApplyOptions = {}): Promise<HostPushResult> {
  const started = Date.now();
  const base = { host: plan.host, bytes: 0, deleteBlocked: plan.deleteBlocked };
  if (plan.fatal) return { ...base, state: plan.unreachable ? 'unreachable' : 'failed', reason: plan.fatal, results: [], durationMs: 0 };
  const runDeletes = plan.delete.length > 0 && !plan.deleteBlocked;
  const work = plan.create.length + plan.update.length + (runDeletes ? plan.delete.length : 0);
  // Scan errors and conflicts are failures of this push too (rsync: exit 23, partial transfer).
  const preErrors: ItemResult[] = plan.errors.map((e) => ({ path: e.path, action: 'update', type: 'other', ok: false, error: e.message }));
  if (work === 0 && !plan.destMissing) {
    return { ...base, ...outcome(preErrors, false, undefined), results: preErrors, durationMs: Date.now() - started };
  }
  if (opts.signal?.aborted) return { ...base, state: 'cancelled', results: [], durationMs: 0 };
  if (plan.destMissing && !opts.noTar && plan.create.length >= TAR_MIN_ITEMS && !plan.update.length && !runDeletes) {
    const viaTar = await applyByTar(pool, scan, plan, preErrors, opts, started);
    if (viaTar) return viaTar;
  }

  const lease = await pool.sftp(plan.host).catch((err: Error) => err);
  if (lease instanceof Error) return { ...base, state: 'failed', reason: lease.message, results: [], durationMs: Date.now() - started };
  const sftp = lease.channel;
  let lost: string | undefined;
  sftp.once('close', () => { lost ??= 'connection lost during the push; run it again to converge'; });

  const results: ItemResult[] = [...preErrors];
  let bytes = 0;
  let done = 0;
  const progress = () => opts.onProgress?.({ host: plan.host, done, total: work, bytes });
  const dest = plan.absDest!;
  const remote = (rel: string) => joinRemote(dest, rel);
  const canStart = () => !opts.signal?.aborted && !lost;

  const attempt = async (item: PlanItem, action: () => Promise<void>) => {
    try {
      if (lost) throw new ConnectionLost(lost);
      await action();
      results.push({ path: item.path, action: item.action, type: item.type, ok: true });
    } catch (err) {
      const message = lost ? lost : (err as Error).message === 'cancelled' ? 'cancelled' : sftpErrorText(err);
      results.push({ path: item.path, action: item.action, type: item.type, ok: false, error: message });
    }
    done++;
    progress();
  };

  try {
    if (plan.destMissing) {
      try {
        await ensureDirectory(sftp, dest, 0o755);
      } catch (err) {
        return { ...base, state: 'failed', reason: `cannot create ${plan.dest}: ${sftpErrorText(err)} (its parent must exist)`, results, durationMs: Date.now() - started };
      }
    }
    const items = [...plan.create, ...plan.update];
    const dirs = items.filter((i) => i.type === 'dir');
    const others = items.filter((i) => i.type !== 'dir');
    const replaced = new Set(plan.replaceDirs);

    // Directories level by level, so a parent exists before its children. Owner-writable while we fill it;
    // the exact mode (e.g. a read-only 0555 dir) is set at the end.
    const finalDirModes: Array<[string, number]> = [];
    const levels = new Map<number, PlanItem[]>();
    for (const d of dirs) levels.set(byDepth(d.path), [...(levels.get(byDepth(d.path)) ?? []), d]);
    for (const level of [...levels.keys()].sort((a, b) => a - b)) {
      await runWindow(levels.get(level)!, opts.window ?? DEFAULT_WINDOW, (item) => attempt(item, async () => {
        const want = remoteModeFor(scan.entries.get(item.path)!.mode);
        if (item.changes.type) await removeEntry(sftp, remote(item.path), false);
        await ensureDirectory(sftp, remote(item.path), want | 0o700);
        if ((want | 0o700) !== want) finalDirModes.push([item.path, want]);
      }), canStart);
    }

    await runWindow(others, opts.window ?? DEFAULT_WINDOW, (item) => attempt(item, async () => {
      const l = scan.entries.get(item.path)!;
      const target = remote(item.path);
      if (replaced.has(item.path)) {
        if (plan.deleteBlocked) throw new Error(`a remote directory is in the way and deletion is blocked: ${plan.deleteBlocked}`);
        await removeTree(sftp, target);
      }
      const mtimeSeconds = Math.floor(l.mtimeMs / 1000);
      if (l.type === 'symlink') return uploadSymlink(sftp, l.linkTarget!, target);
      if (isMetadataOnly(item)) {
        return sftpCall<void>(sftp, (cb) => sftp.setstat(target, { mode: remoteModeFor(l.mode), atime: mtimeSeconds, mtime: mtimeSeconds }, cb));
      }
      await uploadFile(sftp, { local: localPath(scan.root, item.path), remote: target, size: l.size, mode: remoteModeFor(l.mode), mtimeSeconds }, (n) => { bytes += n; }, opts.signal);
    }), canStart);

    if (runDeletes) {
      const deleteLevels = new Map<number, PlanItem[]>();
      for (const d of plan.delete) deleteLevels.set(byDepth(d.path), [...(deleteLevels.get(byDepth(d.path)) ?? []), d]);
      for (const level of [...deleteLevels.keys()].sort((a, b) => b - a)) {
        await runWindow(deleteLevels.get(level)!, opts.window ?? DEFAULT_WINDOW, (item) => attempt(item, () => removeEntry(sftp, remote(item.path), item.type === 'dir')), canStart);
      }
    }
    for (const [path, mode] of finalDirModes) await sftpCall<void>(sftp, (cb) => sftp.setstat(remote(path), { mode }, cb)).catch(() => undefined);
  } finally {
    lease.release();
  }
  const cancelled = !!opts.signal?.aborted;
  markNotAttempted(plan, results, runDeletes, cancelled ? 'not attempted: cancelled' : lost ?? 'not attempted');
  return { ...base, ...outcome(results, cancelled, lost), results, bytes, durationMs: Date.now() - started };
}

/** Below this many new entries the SFTP window is as fast and a tar stream is not worth it. */
const TAR_MIN_ITEMS = 64;

async function applyByTar(
  pool: Pool, scan: ScanResult, plan: PlannedHost, preErrors: ItemResult[], opts: ApplyOptions, started: number,
): Promise<HostPushResult | undefined> {
  let bytes = 0;
  let done = 0;
  const sent = (_item: PlanItem, n: number) => {
    bytes += n;
    done++;
    opts.onProgress?.({ host: plan.host, done, total: plan.create.length, bytes });
  };
  let outcomeOfTar;
  try {
    outcomeOfTar = await tarIntoNewDestinationBatched(pool, scan, plan, plan.create, sent, opts.signal);
  } catch (err) {
    outcomeOfTar = { kind: 'failed' as const, message: (err as Error).message };
  }
  if (outcomeOfTar.kind === 'unsupported') return undefined;
  const ok = outcomeOfTar.kind === 'ok';
  const why = outcomeOfTar.kind === 'failed' ? outcomeOfTar.message : undefined;
  const results: ItemResult[] = [
    ...preErrors,
    ...plan.create.map((i) => ({ path: i.path, action: i.action, type: i.type, ok, ...(ok ? {} : { error: why }) })),
  ];
  const base = { host: plan.host, bytes, deleteBlocked: plan.deleteBlocked, results, durationMs: Date.now() - started };
  if (ok) return { ...base, ...outcome(results, false, undefined) };
  if (opts.signal?.aborted) return { ...base, state: 'cancelled' };
  return { ...base, state: 'failed', reason: why };
}

function markNotAttempted(plan: PlannedHost, results: ItemResult[], runDeletes: boolean, why: string): void {
  const seen = new Set(results.map((r) => `${r.action}\0${r.path}`));
  const all = [...plan.create, ...plan.update, ...(runDeletes ? plan.delete : [])];
  for (const item of all) {
    if (!seen.has(`${item.action}\0${item.path}`)) results.push({ path: item.path, action: item.action, type: item.type, ok: false, error: why });
  }
}

/** Applies every host's plan in parallel. */
export function applyAll(pool: Pool, scan: ScanResult, plans: readonly PlannedHost[], opts: ApplyOptions = {}): Promise<HostPushResult[]> {
  return Promise.all(plans.map((p) => applyHost(pool, scan, p, opts)));
}
