// The one polling schedule under everything that looks at hosts repeatedly (the health monitor, the
// Agents view's tmux listing): work per key on demand, and on a schedule only while a consumer is
// subscribed; a key whose work keeps failing waits longer and longer (backoff); work in flight for a
// key is shared by everyone who asks; results of keys no longer watched are dropped.

export type Unsubscribe = () => void;

export interface PollerOptions<R> {
  /** Period between runs of a key that is doing fine, while someone is subscribed. */
  intervalMs: number;
  /**
   * Runs per second across all keys, on average: with more keys than `intervalMs` allows at this pace, each
   * key's period grows to keys ÷ pace (a big fleet is listed less often per host, not harder all at once).
   */
  maxRunsPerSecond?: number;
  /** Longest wait for a key that keeps failing (default 8 × the period). */
  maxBackoffMs?: number;
  /** The work for one key; a rejection is mapped by `onError` to a result. */
  work: (key: string) => Promise<R>;
  onError: (key: string, err: unknown) => R;
  /** Whether a result counts as a failure (failing keys back off). */
  failed: (result: R) => boolean;
  /** Hears each result of a key that is still watched. */
  onResult: (key: string, result: R) => void;
  now?: () => number;
}

export class Poller<R> {
  private keys: string[] = [];
  /** Consecutive runs whose result was a failure. */
  private readonly failures = new Map<string, number>();
  private readonly due = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<R>>();
  private subscribers = 0;
  private timer: NodeJS.Timeout | undefined;
  private disposed = false;
  private intervalMs: number;
  private maxBackoffMs: number | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: PollerOptions<R>) {
    this.intervalMs = opts.intervalMs;
    this.maxBackoffMs = opts.maxBackoffMs;
    this.now = opts.now ?? Date.now;
  }

  get watched(): readonly string[] {
    return this.keys;
  }

  /** The keys to watch; the ones gone are forgotten, new ones are due at once. */
  setKeys(keys: readonly string[]): void {
    const keep = new Set(keys);
    for (const k of [...this.due.keys()]) {
      if (!keep.has(k)) {
        this.failures.delete(k);
        this.due.delete(k);
      }
    }
    this.keys = [...keys];
    for (const k of this.keys) if (!this.due.has(k)) this.due.set(k, 0);
    this.reschedule();
  }

  /** A new period; with `reset`, every key is due again and its failures are forgotten. */
  setInterval(intervalMs: number, maxBackoffMs?: number, reset = true): void {
    this.intervalMs = intervalMs;
    this.maxBackoffMs = maxBackoffMs;
    if (reset) {
      this.failures.clear();
      for (const k of this.keys) this.due.set(k, 0);
    }
    this.reschedule();
  }

  /** Forgets a key's failures and makes it due at once (without running it). */
  reset(key: string): void {
    this.failures.delete(key);
    if (this.keys.includes(key)) this.due.set(key, 0);
    this.reschedule();
  }

  /** A consumer that shows the results: while at least one is subscribed, keys are run when due. */
  subscribe(): Unsubscribe {
    this.subscribers++;
    this.reschedule();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.subscribers--;
      this.reschedule();
    };
  }

  get subscribed(): boolean {
    return this.subscribers > 0;
  }

  isRunning(key: string): boolean {
    return this.inFlight.has(key);
  }

  /** Runs a key now; work already in flight for it is shared. */
  run(key: string): Promise<R> {
    const running = this.inFlight.get(key);
    if (running) return running;
    const p = this.opts.work(key)
      .catch((err: unknown) => this.opts.onError(key, err))
      .then((result) => {
        this.inFlight.delete(key);
        if (this.disposed || !this.keys.includes(key)) return result;
        const failures = this.opts.failed(result) ? (this.failures.get(key) ?? 0) + 1 : 0;
        this.failures.set(key, failures);
        this.due.set(key, this.now() + this.waitAfter(failures));
        this.opts.onResult(key, result);
        this.reschedule();
        return result;
      });
    this.inFlight.set(key, p);
    return p;
  }

  /** The period of a key that is doing fine: the interval, or longer where the pace across keys asks for it. */
  get periodMs(): number {
    const pace = this.opts.maxRunsPerSecond;
    return pace ? Math.max(this.intervalMs, Math.ceil((this.keys.length * 1000) / pace)) : this.intervalMs;
  }

  /** The wait before the next scheduled run: the period, doubled for each failure after the first, capped. */
  waitAfter(failures: number): number {
    const period = this.periodMs;
    const cap = Math.max(period, this.maxBackoffMs ?? period * 8);
    return failures <= 1 ? period : Math.min(cap, period * 2 ** (failures - 1));
  }

  private reschedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.disposed || !this.subscribers) return;
    const waiting = this.keys.filter((k) => !this.inFlight.has(k));
    if (!waiting.length) return;
    const next = Math.min(...waiting.map((k) => this.due.get(k) ?? 0));
    this.timer = setTimeout(() => this.runDue(), Math.max(0, next - this.now()));
    this.timer.unref?.();
  }

  private runDue(): void {
    this.timer = undefined;
    const now = this.now();
    for (const k of this.keys.filter((k) => !this.inFlight.has(k) && (this.due.get(k) ?? 0) <= now)) void this.run(k);
    this.reschedule();
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
