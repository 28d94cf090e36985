// One health monitor per process, shared by every consumer (the Hosts view, the status bar, pickers,
// `flotilla hosts --status`). It probes on demand, and on a schedule only while a consumer is
// subscribed; a host that keeps failing is probed less and less often (backoff); a probe in flight is
// shared by everyone who asks (that schedule is core/schedule/poller.ts, shared with the Agents view);
// changes are announced per host, batched over a short debounce.
import { checkHealth, ConnectGate, type HealthOptions, type HostHealth } from './probe';
import { MetricsCache } from './metrics';
import type { Pool } from '../ssh/pool';
import { Poller, type Unsubscribe } from '../schedule/poller';

export interface MonitorSettings {
  connectTimeoutMs: number;
  /** Probe period for healthy hosts while a consumer is subscribed. */
  intervalMs: number;
  /** Longest wait between probes of a host that keeps failing (default 8 × intervalMs). */
  maxBackoffMs?: number;
  /**
   * Hosts *connecting* at once (default 32): a big fleet must not open hundreds of handshakes together;
   * hosts with a pooled connection probe without a slot.
   */
  concurrency?: number;
  highLoadPerCore?: number;
  /** Where every result is recorded (the health history), as coming from `source`. */
  history?: HealthOptions['history'];
  /** The optional tailnet layer (`tailscale ping` of tailnet hosts). */
  tailscalePing?: HealthOptions['tailscalePing'];
}

export interface MonitorDeps {
  /** Probes one host; the default is the layered probe over the pool. */
  probe?: (alias: string, opts: HealthOptions) => Promise<HostHealth>;
  /** Changes arriving within this many ms are announced together (default 50). */
  debounceMs?: number;
  now?: () => number;
  /** The metrics cache shared with other measurers (least-loaded placement). */
  metrics?: MetricsCache;
}

export type { Unsubscribe };

const DEFAULT_CONCURRENCY = 32;

export class HealthMonitor {
  readonly metrics: MetricsCache;
  private settings: MonitorSettings;
  private readonly health = new Map<string, HostHealth>();
  /** Results this process learned without a probe (see `observe`). */
  private readonly observed = new WeakSet<HostHealth>();
  /** The schedule (subscriptions, due times, backoff, shared probes in flight): the same poller the Agents view uses. */
  private readonly poller: Poller<HostHealth>;
  private gate: ConnectGate;
  private readonly listeners = new Set<(aliases: readonly string[]) => void>();
  private pending = new Set<string>();
  private flushTimer: NodeJS.Timeout | undefined;
  private disposed = false;
  private readonly debounceMs: number;
  private readonly now: () => number;

  constructor(pool: Pool, settings: MonitorSettings, deps: MonitorDeps = {}) {
    this.settings = { ...settings };
    this.metrics = deps.metrics ?? new MetricsCache();
    this.gate = new ConnectGate(Math.max(1, settings.concurrency ?? DEFAULT_CONCURRENCY));
    const probeHost = deps.probe ?? ((alias, opts) => checkHealth(pool, alias, opts));
    this.debounceMs = deps.debounceMs ?? 50;
    this.now = deps.now ?? Date.now;
    this.poller = new Poller<HostHealth>({
      intervalMs: settings.intervalMs,
      maxBackoffMs: settings.maxBackoffMs,
      now: this.now,
      work: (alias) => probeHost(alias, this.probeOptions()),
      onError: (alias, err) => ({ alias, state: 'offline', reason: err instanceof Error ? err.message : String(err), layers: {}, checkedAt: this.now() }),
      failed: (h) => h.state !== 'online',
      onResult: (alias, h) => {
        // A probe that started before a run saw the host change must not hide what the run saw.
        const shown = this.health.get(alias);
        if (shown && this.observed.has(shown) && shown.checkedAt > h.checkedAt) return;
        this.health.set(alias, h);
        this.announce([alias]);
      },
    });
  }

  private get aliases(): readonly string[] {
    return this.poller.watched;
  }

  /** The hosts to watch; the ones gone are forgotten, new ones are probed soon if anyone is subscribed. */
  setHosts(aliases: readonly string[]): void {
    const keep = new Set(aliases);
    for (const a of [...this.health.keys()]) if (!keep.has(a)) this.health.delete(a);
    this.poller.setKeys(aliases);
  }

  /** New probe settings; every host is due again (they changed what a probe means). */
  configure(settings: MonitorSettings): void {
    this.settings = { ...settings };
    this.gate = new ConnectGate(Math.max(1, settings.concurrency ?? DEFAULT_CONCURRENCY));
    this.health.clear();
    this.announce(this.aliases);
    this.poller.setInterval(settings.intervalMs, settings.maxBackoffMs);
  }

  get(alias: string): HostHealth | undefined {
    return this.health.get(alias);
  }

  /** Health of the watched hosts, in their order; hosts never probed read as "checking". */
  snapshot(): HostHealth[] {
    return this.aliases.map((a) => this.health.get(a) ?? { alias: a, state: 'checking', layers: {}, checkedAt: 0 });
  }

  /** Announces the hosts whose health changed (batched). */
  onDidChange(listener: (aliases: readonly string[]) => void): Unsubscribe {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A consumer that shows health: while at least one is subscribed, hosts are probed when due. */
  subscribe(): Unsubscribe {
    return this.poller.subscribe();
  }

  get subscribed(): boolean {
    return this.poller.subscribed;
  }

  /** Probes now (all watched hosts by default); a probe already in flight for a host is shared. */
  check(aliases: readonly string[] = this.aliases): Promise<HostHealth[]> {
    return Promise.all(aliases.map((a) => this.checkOne(a)));
  }

  private checkOne(alias: string): Promise<HostHealth> {
    if (!this.health.has(alias) && !this.poller.isRunning(alias)) {
      this.health.set(alias, { alias, state: 'checking', layers: {}, checkedAt: this.now() });
      this.announce([alias]);
    }
    return this.poller.run(alias);
  }

  /**
   * What this process just learned of a host without probing it (a run's connect, see `healthOfConnect`):
   * shown at once and announced, while the schedule stays as it was (the next probe still runs when due).
   * A failed connect replaces what is shown; a successful one only corrects a host shown as not reachable
   * (offline, unusable) or not yet known — a login says nothing of the load a probe measured. A result
   * older than the one shown is ignored.
   */
  observe(h: HostHealth): void {
    if (this.disposed || h.state === 'checking' || !this.aliases.includes(h.alias)) return;
    const shown = this.health.get(h.alias);
    if (shown && shown.state !== 'checking' && shown.checkedAt > h.checkedAt) return;
    const reachable = (s: HostHealth['state']) => s === 'online' || s === 'degraded';
    if (reachable(h.state) && shown && reachable(shown.state)) return;
    this.observed.add(h);
    this.health.set(h.alias, h);
    this.announce([h.alias]);
  }

  /** Clears a host's result (e.g. its key was just accepted) without probing. */
  forget(alias: string): void {
    this.health.delete(alias);
    this.poller.reset(alias);
    this.announce([alias]);
  }

  /** The wait before the next scheduled probe: the interval, doubled for each failure after the first, capped. */
  waitAfter(failures: number): number {
    return this.poller.waitAfter(failures);
  }

  private probeOptions(): HealthOptions {
    return {
      connectTimeoutMs: this.settings.connectTimeoutMs,
      metrics: this.metrics,
      highLoadPerCore: this.settings.highLoadPerCore,
      history: this.settings.history,
      tailscalePing: this.settings.tailscalePing,
      connectGate: this.gate,
    };
  }

  private announce(aliases: readonly string[]): void {
    for (const a of aliases) this.pending.add(a);
    if (this.flushTimer || this.disposed) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      const changed = [...this.pending];
      this.pending = new Set();
      for (const l of [...this.listeners]) l(changed);
    }, this.debounceMs);
    this.flushTimer.unref?.();
  }

  dispose(): void {
    this.disposed = true;
    this.poller.dispose();
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.listeners.clear();
  }
}

/**
 * Probes these hosts once, now (what `flotilla hosts --status`, reports and tools ask for): a monitor
 * with nobody subscribed, so nothing is scheduled. `onHost` hears each result as it arrives.
 */
export async function checkFleet(
  pool: Pool,
  aliases: readonly string[],
  opts: HealthOptions & { concurrency?: number },
  onHost?: (h: HostHealth) => void,
): Promise<HostHealth[]> {
  const monitor = new HealthMonitor(
    pool,
    { connectTimeoutMs: opts.connectTimeoutMs, intervalMs: 0, concurrency: opts.concurrency ?? 64, highLoadPerCore: opts.highLoadPerCore, history: opts.history, tailscalePing: opts.tailscalePing },
    { metrics: opts.metrics, probe: opts.connectGate ? (alias, o) => checkHealth(pool, alias, { ...o, connectGate: opts.connectGate }) : undefined },
  );
  monitor.setHosts([...new Set(aliases)]);
  try {
    return await Promise.all(aliases.map(async (a) => {
      const [h] = await monitor.check([a]);
      onHost?.(h!);
      return h!;
    }));
  } finally {
    monitor.dispose();
  }
}

