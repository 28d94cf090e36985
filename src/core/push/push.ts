// The one push session every front end uses (CLI, extension, tasks): scan once, plan every host (events as
// each host's plan arrives), then apply. Two shapes:
//   push(...)                 — plan and apply in one go (the CLI): each host is planned under its
//                               destination's lock and applied at once, so what is applied is what was planned;
//   planSession(...) + applySession(...) — plan as a dry run, show it, ask, then apply (the editor): the local
//                               tree is re-checked first, and each host is re-planned under its lock and refused
//                               if the destination changed in a way the approved plan did not show.
import type { Pool } from '../ssh/pool';
import { applyHost, DEFAULT_LOCK_WAIT_SECONDS, hostOutcomeOf, type ApplyOptions, type HostPushResult, type ProgressEvent } from './apply';
import { listForPlan, planHost, releaseListing, planTarget, type ListingForPlan, type LocalHashCache, type PlanOptions, type PlannableScan, type PlannedHost, type PlanTarget } from './plan';
import type { LockRequest } from './remoteList';
import { changedSince, scanSource, sourceOf, type PushSource, type ScanOptions, type ScanOutput } from './scan';

export interface PushOptions extends PlanOptions, ScanOptions, Omit<ApplyOptions, 'signal' | 'onProgress' | 'onWaiting'> {
  /** Progress as events: each host's plan as it arrives, lock waits, transfer progress, each host's result. */
  on?: (e: PushEvent) => void;
  /** @deprecated use `on` (kept for callers that only want progress). */
  onProgress?: (e: ProgressEvent) => void;
}

export type PushEvent =
  | { kind: 'scanned'; scan: ScanOutput }
  | { kind: 'planned'; host: string; plan: PlannedHost }
  | { kind: 'waiting'; host: string; why: string }
  | ({ kind: 'progress' } & ProgressEvent)
  | { kind: 'applied'; host: string; result: HostPushResult };

export interface PushRun {
  scan: ScanOutput;
  plans: PlannedHost[];
  /** Absent for a dry run. */
  results?: HostPushResult[];
}

/** What a dry-run session holds for the apply. */
export interface PlannedSession {
  source: PushSource;
  remote: string;
  scan: ScanOutput;
  plans: PlannedHost[];
  options: PushOptions;
}

const filesOf = (source: PushSource) => (source.kind === 'files' ? source.names : undefined);

interface Scanned {
  source: PushSource;
  scan: ScanOutput;
  target: PlanTarget;
  /** Each host's listing, in the order of `hosts`. */
  listings: Array<Promise<ListingForPlan>>;
}

/**
 * The local scan and every host's listing, at the same time: a folder's destination does not depend on its
 * scan, so the remote round trip overlaps the local walk (a file's REMOTE rules need its scan: listed after).
 * Throws DestinationError (before contacting anyone) for a bad destination; a failed scan lets go of any
 * lock its listings took.
 */
async function scanAndList(
  pool: Pool, hosts: readonly string[], local: string | PushSource, remote: string, opts: PushOptions, lock: (host: string) => LockRequest | undefined,
): Promise<Scanned> {
  const source = typeof local === 'string' ? await sourceOf(local) : local;
  const list = (target: PlanTarget) => hosts.map((host) => listForPlan(pool, host, target, { signal: opts.signal, lock: lock(host) }));
  if (source.kind === 'files') {
    const scan = await scanSource(source, opts);
    opts.on?.({ kind: 'scanned', scan });
    const target = planTarget(scan, remote, { root: opts.root, files: filesOf(source) });
    return { source, scan, target, listings: list(target) };
  }
  const target = planTarget(NO_ENTRIES, remote, { root: opts.root });
  const listings = list(target);
  let scan: ScanOutput;
  try {
    scan = await scanSource(source, opts);
  } catch (err) {
    await Promise.all(listings.map(async (l) => releaseListing(pool, await l)));
    throw err;
  }
  opts.on?.({ kind: 'scanned', scan });
  return { source, scan, target, listings };
}

/** What planTarget reads of a folder's scan: nothing (a folder's REMOTE is always the directory). */
const NO_ENTRIES: PlannableScan = { root: '', entries: new Map(), skipped: [], errors: [] };

function applyOptions(opts: PushOptions): ApplyOptions {
  return {
    window: opts.window, noTar: opts.noTar, lockWaitSeconds: opts.lockWaitSeconds, signal: opts.signal,
    onProgress: (e) => { opts.onProgress?.(e); opts.on?.({ kind: 'progress', ...e }); },
    onWaiting: (host) => opts.on?.({ kind: 'waiting', host, why: 'another push to this destination is in progress' }),
  };
}

/** Scan and plan every host as a dry run (nothing written anywhere). */
export async function planSession(pool: Pool, hosts: readonly string[], local: string | PushSource, remote: string, opts: PushOptions = {}): Promise<PlannedSession> {
  const { source, scan, target, listings } = await scanAndList(pool, hosts, local, remote, opts, () => undefined);
  const cache: LocalHashCache = new Map();
  const plans = await Promise.all(hosts.map(async (host, i) => {
    const plan = await planHost(pool, host, scan, target, { ...opts, dryRun: true }, cache, listings[i]);
    opts.on?.({ kind: 'planned', host, plan });
    return plan;
  }));
  return { source, remote, scan, plans, options: opts };
}

export type SessionApply =
  | { kind: 'applied'; results: HostPushResult[] }
  /** The local files changed since the plan: nothing was pushed; plan again. */
  | { kind: 'local-changed'; paths: string[] };

/** Applies an approved dry-run session: local re-check, then every host in parallel under its lock. */
export async function applySession(pool: Pool, session: PlannedSession, opts: Pick<PushOptions, 'on' | 'signal' | 'window' | 'noTar' | 'lockWaitSeconds'> = {}): Promise<SessionApply> {
  const fresh = await scanSource(session.source, session.options).catch(() => undefined);
  const moved = fresh ? changedSince(session.scan, fresh) : ['(the local folder could not be read)'];
  if (moved.length) return { kind: 'local-changed', paths: moved };
  const all = { ...session.options, ...opts };
  const results = await Promise.all(session.plans.map(async (plan) => {
    const result = withOutcome(await applyHost(pool, plan, applyOptions(all)).catch((err: Error) => failed(plan.host, err)));
    all.on?.({ kind: 'applied', host: plan.host, result });
    return result;
  }));
  return { kind: 'applied', results };
}

const withOutcome = (r: HostPushResult): HostPushResult => ({ ...r, outcome: hostOutcomeOf(r) });

function failed(host: string, err: Error): HostPushResult {
  return { host, state: 'failed', reason: err.message, results: [], bytes: 0, durationMs: 0 };
}

/**
 * Scan, plan and (unless dryRun) apply. Throws DestinationError (before contacting anyone) for a bad
 * destination, and a readable Error for a local path that is neither a folder nor a file.
 */
export async function push(pool: Pool, hosts: readonly string[], local: string | PushSource, remote: string, opts: PushOptions = {}): Promise<PushRun> {
  if (opts.dryRun) {
    const s = await planSession(pool, hosts, local, remote, opts);
    return { scan: s.scan, plans: s.plans };
  }
  const apply = applyOptions(opts);
  const { scan, target, listings } = await scanAndList(pool, hosts, local, remote, opts,
    (host) => ({ waitSeconds: opts.lockWaitSeconds ?? DEFAULT_LOCK_WAIT_SECONDS, onWaiting: () => apply.onWaiting?.(host) }));
  const cache: LocalHashCache = new Map();
  const done = await Promise.all(hosts.map(async (host, i) => {
    const plan = await planHost(pool, host, scan, target, { ...opts, dryRun: false }, cache, listings[i]);
    opts.on?.({ kind: 'planned', host, plan });
    const result = withOutcome(await applyHost(pool, plan, apply).catch((err: Error) => failed(host, err)));
    opts.on?.({ kind: 'applied', host, result });
    return { plan: result.applied ?? plan, result };
  }));
  return { scan, plans: done.map((d) => d.plan), results: done.map((d) => d.result) };
}
