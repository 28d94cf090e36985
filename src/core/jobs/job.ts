// The job layer: every recorded operation (a run, a least-loaded run, a run after a push) goes through
// startJob. It assigns the id and writes the record before any host is contacted, keeps the record and
// the per-host output files current as they stream, takes cancel requests from any process, and emits
// events. Front ends only render it and ask questions.
import type { Decision, HerdOptions, PlaceOptions } from '../balance/place';
import type { MetricsCache } from '../health/metrics';
import { HealthHistory } from '../health/history';
import { healthOfConnect, type HostHealth } from '../health/probe';
import { sampleOf, type HealthSample } from '../health/record';
import {
  checkRunSpec, commandText, DEFAULT_TIMEOUT_MS, newRunId, startRun, withoutOutput,
  type HostResult, type RunEvent, type RunSpec,
} from '../exec/run';
import { push } from '../push/push';
import type { Pool } from '../ssh/pool';
import { archiveRunFiles, filesWorkdir } from './files';
import { decidePlacement, recordPlacement } from './placement';
import type { HostOutcome } from './outcome';
import { ownerHere, startedByHere, type HostEntry, type Placement, type RunDoc, type RunPhase, type RunStore } from './store';

export interface LeastLoaded {
  /** Place options without the herd, which is shared through the store. */
  options?: Omit<PlaceOptions, 'herd' | 'now' | 'record'>;
  herd?: HerdOptions;
  /** A decision the user already saw (the editor shows it before running): not measured again. */
  decision?: Decision;
  /** The host the user picked instead of the decision's choice. */
  chosen?: string;
  /** Disk whose use counts (default: the run's cwd). */
  diskPath?: string;
}

export interface JobRequest extends Pick<RunSpec, 'cwd' | 'env' | 'timeoutMs' | 'concurrency' | 'pty' | 'origin' | 'outputCapBytes' | 'stdin'> {
  /** The target as the user wrote it, for the record and `history TARGET`. */
  target?: string;
  /** Hosts to run on, or the candidates when `leastLoaded` is set. */
  hosts: readonly string[];
  command: string | readonly string[];
  leastLoaded?: LeastLoaded;
  /** Push this local folder to `cwd` on the chosen host(s) first. */
  pushFirst?: string;
  /** Local paths placed in a private temp directory on each host; the command runs there. */
  files?: readonly string[];
  keepFiles?: boolean;
}

export interface JobDeps {
  store: RunStore;
  pool: Pool;
  connectTimeoutMs: number;
  metrics?: MetricsCache;
  /** The extension's health check (also updates the Hosts view). */
  check?: (alias: string) => Promise<HostHealth>;
  /** Where each host's connect is recorded (source `run`); default: the health history beside the run store. */
  history?: HealthHistory;
  /** Hears each host's connect as health, at once (the editor's health monitor shows it without waiting for a probe). */
  observe?: (h: HostHealth) => void;
}

export type JobEvent =
  | RunEvent
  | { type: 'phase'; phase: RunPhase; detail?: string }
  | { type: 'placed'; placement: Placement; decision: Decision }
  | { type: 'files-kept'; host: string; dir: string };

export interface JobResult {
  doc: RunDoc;
  /** The hosts that ran, with their in-memory output heads. */
  results: HostResult[];
}

export interface Job {
  readonly id: string;
  readonly dir: string;
  /** The record as it stands (a copy). */
  doc(): RunDoc;
  readonly done: Promise<JobResult>;
  /** Cancels one host, or all (also during measuring and pushing). */
  cancel(host?: string): void;
}

/** Validates the request before anything is recorded or contacted; throws RunSpecError. */
export function checkJobRequest(req: JobRequest): void {
  checkRunSpec({ command: req.command, cwd: req.files?.length ? '/tmp/flotilla-run.XXXXXXXX' : req.cwd, env: req.env, timeoutMs: req.timeoutMs, concurrency: req.concurrency });
}

function entryOf(r: HostResult): HostEntry {
  const { stdout: _o, stderr: _e, ...rest } = r;
  return rest;
}

/**
 * Writes the record at most every `intervalMs` while the run goes on (50 hosts starting at once are one
 * write, not 50), and at once when flushed.
 */
class DocWriter {
  private timer?: NodeJS.Timeout;
  private writing: Promise<void> = Promise.resolve();
  constructor(private readonly store: RunStore, private readonly doc: () => RunDoc, private readonly intervalMs = 100) {}
  soon(): void {
    this.timer ??= setTimeout(() => { this.timer = undefined; void this.now(); }, this.intervalMs);
  }
  now(): Promise<void> {
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
    const snapshot = this.doc();
    this.writing = this.writing.then(() => this.store.write(snapshot)).catch(() => {});
    return this.writing;
  }
}

/** Records and starts the job; resolves once the record exists (the id is then valid everywhere). */
export async function startJob(
  deps: JobDeps,
  req: JobRequest,
  opts: { id?: string; on?: (e: JobEvent) => void; signal?: AbortSignal } = {},
): Promise<Job> {
  checkJobRequest(req);
  const id = opts.id ?? newRunId();
  const timeoutMs = req.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const abort = new AbortController();
  const emit = (e: JobEvent) => { try { opts.on?.(e); } catch { /* the listener's problem */ } };
  let doc: RunDoc = {
    version: 1,
    id,
    kind: req.leastLoaded ? 'least-loaded' : 'run',
    state: 'running',
    phase: req.leastLoaded && !req.leastLoaded.decision ? 'measuring' : 'running',
    origin: req.origin,
    startedBy: startedByHere(),
    owner: ownerHere(),
    startedAt: new Date().toISOString(),
    target: req.target,
    command: commandText(req.command),
    argv: typeof req.command === 'string' ? undefined : [...req.command],
    cwd: req.cwd,
    timeoutMs,
    files: req.files?.length ? [...req.files] : undefined,
    keepFiles: req.keepFiles || undefined,
    hosts: req.leastLoaded ? [] : [...new Set(req.hosts)].map((host) => ({ host, state: 'pending' })),
  };
  const dir = await deps.store.create(doc);
  const writer = new DocWriter(deps.store, () => doc);
  const update = (change: (d: RunDoc) => RunDoc, urgent = false) => {
    doc = change(doc);
    if (urgent) void writer.now(); else writer.soon();
  };
  const setPhase = (phase: RunPhase, detail?: string) => {
    update((d) => ({ ...d, phase }), true);
    emit({ type: 'phase', phase, detail });
  };
  const setHost = (host: string, entry: HostEntry) => update((d) => ({ ...d, hosts: d.hosts.map((h) => (h.host === host ? entry : h)) }));

  let cancelRun: ((host?: string) => void) | undefined;
  const cancelledHosts = new Set<string>();
  const cancel = (host?: string) => {
    if (host === undefined) abort.abort();
    else cancelledHosts.add(host);
    cancelRun?.(host);
  };
  const unwatch = deps.store.watchCancels(id, cancel);
  const onSignal = () => cancel();
  if (opts.signal?.aborted) cancel();
  opts.signal?.addEventListener('abort', onSignal, { once: true });

  // What the run learned of each host's connect goes to the health history, hosts that connect together in
  // one write; a history that cannot be written never fails the run.
  const history = deps.history ?? new HealthHistory(deps.store.root);
  let pending: HealthSample[] = [];
  const recordings: Promise<void>[] = [];
  const recordConnect = (h: HostHealth) => {
    try { deps.observe?.(h); } catch { /* the listener's problem */ }
    const sample = sampleOf(h, 'run');
    if (!sample) return;
    if (!pending.length) {
      recordings.push(new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        const batch = pending;
        pending = [];
        return history.record(batch).catch(() => undefined);
      }));
    }
    pending.push(sample);
  };

  const run = async (): Promise<JobResult> => {
    let hosts = doc.hosts.map((h) => h.host);
    const unstarted = (outcome: HostOutcome, on: readonly string[]): HostResult[] => on.map((h) => withoutOutput(h, outcome));

    if (req.leastLoaded) {
      const placed = await place(deps, req, abort.signal, (phase) => setPhase(phase));
      const placement: Placement = { candidates: [...req.hosts], chosen: placed.chosen, explanation: placed.decision.explanation };
      update((d) => ({ ...d, placement, hosts: placed.chosen ? [{ host: placed.chosen, state: 'pending' }] : [] }), true);
      emit({ type: 'placed', placement, decision: placed.decision });
      hosts = placed.chosen ? [placed.chosen] : [];
    }
    if (abort.signal.aborted) {
      const results = unstarted({ state: 'cancelled', durationMs: 0, remoteStopped: true, reason: 'cancelled before start' }, hosts);
      for (const r of results) setHost(r.host, entryOf(r));
      return { doc, results };
    }

    const failedPush: HostResult[] = [];
    if (req.pushFirst && hosts.length) {
      if (!req.cwd) throw new Error('a push before the run needs a cwd: the remote folder the local folder is pushed to');
      setPhase('pushing', `${req.pushFirst} → ${req.cwd}`);
      const t0 = Date.now();
      const pushed = await push(deps.pool, hosts, req.pushFirst, req.cwd, { signal: abort.signal });
      for (const r of pushed.results ?? []) {
        if (r.state === 'ok') continue;
        // A host the push could not connect to is health the run learned, as if the run had connected.
        if (r.state === 'unreachable' && r.connectError) recordConnect(healthOfConnect(r.host, { ok: false, ms: Date.now() - t0, error: r.connectError }, Date.now()));
        const outcome: HostOutcome = r.state === 'cancelled'
          ? { state: 'cancelled', durationMs: Date.now() - t0, remoteStopped: true, reason: 'cancelled during the push' }
          : r.state === 'unreachable'
            ? { state: 'unreachable', durationMs: Date.now() - t0, reason: `push: ${r.reason ?? 'unreachable'}` }
            : { state: 'failed', exit: 1, durationMs: Date.now() - t0, reason: `push ${r.state}${r.reason ? `: ${r.reason}` : ''}; the command was not run` };
        failedPush.push(withoutOutput(r.host, outcome));
      }
      for (const r of failedPush) setHost(r.host, entryOf(r));
      hosts = hosts.filter((h) => !failedPush.some((r) => r.host === h));
    }

    const spec: RunSpec = {
      command: req.command,
      cwd: req.cwd,
      env: req.env,
      timeoutMs,
      concurrency: req.concurrency,
      pty: req.pty,
      origin: req.origin,
      outputDir: dir,
      outputCapBytes: req.outputCapBytes,
      stdin: req.stdin,
    };
    if (req.files?.length && hosts.length) {
      setPhase('placing-files');
      const archive = await archiveRunFiles(req.files);
      spec.workdir = filesWorkdir(deps.pool, archive, { keep: req.keepFiles, onKept: (host, kept) => emit({ type: 'files-kept', host, dir: kept }) });
    }
    setPhase('running');
    const controller = startRun(hosts, spec, deps.pool, (e) => {
      if (e.type === 'host-connect') recordConnect(healthOfConnect(e.host, e.connect, e.at));
      if (e.type === 'host-start') setHost(e.host, { host: e.host, state: 'running', startedAt: new Date().toISOString() });
      if (e.type === 'host-done') setHost(e.result.host, entryOf(e.result));
      emit(e);
    }, id);
    cancelRun = (host) => controller.cancel(host);
    if (abort.signal.aborted) controller.cancel();
    for (const h of cancelledHosts) controller.cancel(h);
    const record = await controller.done;
    return { doc, results: [...failedPush, ...record.results] };
  };

  const done = run()
    .catch((err: unknown) => {
      // Nothing may stay "running": whatever did not finish is lost, with the reason.
      const reason = `internal error: ${err instanceof Error ? err.message : String(err)}`;
      const results = doc.hosts.filter((h) => h.state === 'pending' || h.state === 'running')
        .map((h) => withoutOutput(h.host, { state: 'lost', durationMs: 0, remoteStopped: false, reason }));
      for (const r of results) setHost(r.host, entryOf(r));
      if (!doc.hosts.length) update((d) => ({ ...d, placement: { candidates: [...req.hosts], explanation: reason } }));
      return { doc, results };
    })
    .then(async (result) => {
      unwatch();
      opts.signal?.removeEventListener('abort', onSignal);
      update((d) => ({ ...d, state: 'done', phase: undefined, finishedAt: new Date().toISOString() }));
      await Promise.all([writer.now(), ...recordings]);
      return { ...result, doc };
    });

  return { id, dir, doc: () => structuredClone(doc), done, cancel };
}

async function place(deps: JobDeps, req: JobRequest, signal: AbortSignal, phase: (p: RunPhase) => void): Promise<{ decision: Decision; chosen?: string }> {
  const ll = req.leastLoaded!;
  if (ll.decision) {
    const chosen = ll.chosen ?? ll.decision.chosen;
    if (chosen) await recordPlacement(deps.store.root, chosen, ll.herd);
    return { decision: ll.decision, chosen };
  }
  phase('measuring');
  const decision = await decidePlacement(
    { pool: deps.pool, storeRoot: deps.store.root, connectTimeoutMs: deps.connectTimeoutMs, metrics: deps.metrics, check: deps.check },
    req.hosts,
    { options: ll.options, herd: ll.herd, diskPath: ll.diskPath ?? req.cwd, record: !signal.aborted },
  );
  if (signal.aborted) return { decision: { ...decision, chosen: undefined, explanation: 'cancelled while measuring' } };
  return { decision, chosen: decision.chosen };
}
