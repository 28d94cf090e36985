// Least-loaded placement: score each candidate from one probe (CPU, memory, disk; lower is better),
// exclude what cannot or must not take work (with the reason said out loud), and protect against the
// herd: a host just chosen carries an expected extra task that fades over a few seconds, so quick
// successive launches spread out instead of all landing on the host that looked idlest (LSF `lsplace`).
import { checkHealth, type HostHealth } from '../health/probe';
import type { Pool } from '../ssh/pool';
import type { HostMetrics, MetricsCache, ProbeResult } from '../health/metrics';

export interface Weights {
  cpu: number;
  mem: number;
  disk: number;
}

export const DEFAULT_WEIGHTS: Readonly<Weights> = { cpu: 0.4, mem: 0.3, disk: 0.3 };

/** Hosts beyond any of these are never chosen. Undefined or 0: no limit. */
export interface HardLimits {
  maxLoadPerCore?: number;
  minMemAvailableKb?: number;
  maxDiskUsedPct?: number;
}

export const DEFAULT_HARD_LIMITS: Readonly<HardLimits> = { maxLoadPerCore: 4, maxDiskUsedPct: 98 };

/** What the job needs from a host, whatever its load. */
export interface Requirements {
  /** Total memory of the host, kB. */
  minMemKb?: number;
  minCores?: number;
}

export interface Candidate {
  alias: string;
  health?: HostHealth;
  probe?: ProbeResult;
}

export interface ScoredCandidate {
  host: string;
  /** Weighted sum, 0..1, lower is better; null when excluded before scoring. */
  score: number | null;
  /** Normalised CPU pressure 0..1 (load per core, herd extra included, blended with the busy sample). */
  cpu: number | null;
  /** Used share of memory, 0..1. */
  mem: number | null;
  /** Used share of the disk, 0..1. */
  disk: number | null;
  excluded: string | null;
  /** Raw figures behind the normalised ones, for the explanation. */
  detail?: { cores: number; load1: number; loadPerCore: number; cpuBusy?: number; herdTasks: number; memAvailableKb: number; memTotalKb: number; diskUsedPct: number };
}

export interface Decision {
  chosen?: string;
  /** In input order. */
  candidates: ScoredCandidate[];
  explanation: string;
  decidedAt: number;
}

export interface PlaceOptions {
  weights?: Partial<Weights>;
  hardLimits?: HardLimits;
  require?: Requirements;
  herd?: HerdGuard;
  /** Record the choice in the herd guard (default true); false when the user confirms first and the caller records. */
  record?: boolean;
  /** Share of the CPU figure taken from the /proc/stat busy sample when there is one (default 0.3). */
  busyBlend?: number;
  now?: number;
}

// ---------------------------------------------------------------------------------------------------
// Herd protection

export interface HerdOptions {
  /** How long a choice keeps weighing on its host; the weight fades linearly to zero (default 20 s). */
  decayMs?: number;
  /** Expected runnable tasks one launch adds (default 1). */
  tasksPerLaunch?: number;
}

/**
 * Remembers recent choices. Each adds `tasksPerLaunch` expected runnable tasks to its host, fading
 * linearly over `decayMs`, the time a 1-minute load average needs to start showing the new work.
 */
export class HerdGuard {
  readonly decayMs: number;
  readonly tasksPerLaunch: number;
  private choices: { alias: string; at: number }[] = [];

  constructor(opts: HerdOptions = {}) {
    this.decayMs = Math.max(0, opts.decayMs ?? 20_000);
    this.tasksPerLaunch = opts.tasksPerLaunch ?? 1;
  }

  record(alias: string, now = Date.now()): void {
    this.prune(now);
    if (this.decayMs > 0) this.choices.push({ alias, at: now });
  }

  /** Expected extra runnable tasks on `alias` right now. */
  extraTasks(alias: string, now = Date.now()): number {
    if (this.decayMs <= 0) return 0;
    let sum = 0;
    for (const c of this.choices) {
      const age = now - c.at;
      if (c.alias === alias && age >= 0 && age < this.decayMs) sum += this.tasksPerLaunch * (1 - age / this.decayMs);
    }
    return sum;
  }

  forget(alias?: string): void {
    this.choices = alias === undefined ? [] : this.choices.filter((c) => c.alias !== alias);
  }

  private prune(now: number): void {
    this.choices = this.choices.filter((c) => now - c.at < this.decayMs);
  }

  /** For processes that do not live long (the CLI): the state to keep between launches. */
  toJSON(now = Date.now()): { alias: string; at: number }[] {
    this.prune(now);
    return [...this.choices];
  }

  load(saved: unknown, now = Date.now()): void {
    if (!Array.isArray(saved)) return;
    for (const c of saved) {
      if (c && typeof c.alias === 'string' && typeof c.at === 'number' && c.at <= now) this.choices.push({ alias: c.alias, at: c.at });
    }
    this.prune(now);
  }
}

// ---------------------------------------------------------------------------------------------------
// Scoring

/** Maps load per core (0..∞) onto 0..1 keeping the order: 1 per core → 0.5, 3 per core → 0.75. */
export function loadPressure(loadPerCore: number): number {
  const x = Math.max(0, loadPerCore);
  return x / (1 + x);
}

function normaliseWeights(w: Partial<Weights> | undefined): Weights {
  const merged = { ...DEFAULT_WEIGHTS, ...(w ?? {}) };
  const clean = (n: number) => (Number.isFinite(n) && n > 0 ? n : 0);
  const cpu = clean(merged.cpu), mem = clean(merged.mem), disk = clean(merged.disk);
  const sum = cpu + mem + disk;
  return sum > 0 ? { cpu: cpu / sum, mem: mem / sum, disk: disk / sum } : { ...DEFAULT_WEIGHTS };
}

function gib(kb: number): string {
  return `${(kb / 1048576).toFixed(1)} GiB`;
}

/** Why a host must not be chosen on health alone; undefined when health allows it. */
function healthExclusion(h: HostHealth | undefined): string | undefined {
  if (!h) return undefined;
  switch (h.state) {
    case 'online':
      return undefined;
    case 'checking':
      return 'not checked yet';
    case 'offline':
      return `offline: ${h.reason ?? 'no answer'}`;
    case 'unusable':
      if (h.hostKey) {
        const kind = h.hostKey.verdict.kind;
        return kind === 'unknown' ? 'unknown host key: review and trust it first' : `host key not trusted (${kind}): ${h.reason ?? ''}`.trimEnd();
      }
      return `unusable: ${h.reason ?? 'login refused'}`;
    case 'degraded':
      // "high load" is the only degradation that still carries metrics; the hard limits judge it.
      if (h.metrics) return undefined;
      return `degraded: ${h.reason ?? 'not fully reachable'}`;
  }
}

function metricsOf(c: Candidate): { metrics?: HostMetrics; reason?: string } {
  if (c.probe) return c.probe.state === 'ok' ? { metrics: c.probe.metrics } : { reason: `cannot measure: ${c.probe.reason}` };
  if (c.health?.metrics) return { metrics: c.health.metrics };
  return { reason: 'cannot measure: no metrics' };
}

function limitExclusion(m: HostMetrics, loadPerCore: number, limits: HardLimits, req: Requirements): string | undefined {
  if (req.minCores && m.cores < req.minCores) return `needs ${req.minCores} cores, has ${m.cores}`;
  if (req.minMemKb && m.memTotalKb < req.minMemKb) return `needs ${gib(req.minMemKb)} memory, has ${gib(m.memTotalKb)}`;
  if (limits.maxLoadPerCore && loadPerCore > limits.maxLoadPerCore) {
    return `load ${loadPerCore.toFixed(2)} per core is above the limit ${limits.maxLoadPerCore}`;
  }
  if (limits.minMemAvailableKb && m.memAvailableKb < limits.minMemAvailableKb) {
    return `${gib(m.memAvailableKb)} memory available, below the limit ${gib(limits.minMemAvailableKb)}`;
  }
  if (limits.maxDiskUsedPct && m.diskUsedPct > limits.maxDiskUsedPct) {
    return `disk ${m.diskUsedPct}% used, above the limit ${limits.maxDiskUsedPct}%`;
  }
  return undefined;
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;

/**
 * Chooses the candidate with the lowest score and records the choice in the herd guard. Ties keep the
 * input order. Pure apart from the herd guard: give it health and probe results.
 */
export function placeHost(candidates: readonly Candidate[], opts: PlaceOptions = {}): Decision {
  const now = opts.now ?? Date.now();
  const w = normaliseWeights(opts.weights);
  const limits = opts.hardLimits ?? DEFAULT_HARD_LIMITS;
  const req = opts.require ?? {};
  const blend = Math.min(1, Math.max(0, opts.busyBlend ?? 0.3));

  const scored: ScoredCandidate[] = candidates.map((c) => {
    const bad = healthExclusion(c.health);
    if (bad) return { host: c.alias, score: null, cpu: null, mem: null, disk: null, excluded: bad };
    const { metrics: m, reason } = metricsOf(c);
    if (!m) return { host: c.alias, score: null, cpu: null, mem: null, disk: null, excluded: reason ?? 'cannot measure' };
    const herdTasks = opts.herd?.extraTasks(c.alias, now) ?? 0;
    const loadPerCore = (m.load1 + herdTasks) / m.cores;
    const pressure = loadPressure(loadPerCore);
    const cpu = m.cpuBusy === undefined ? pressure : (1 - blend) * pressure + blend * m.cpuBusy;
    const mem = m.memTotalKb > 0 ? Math.min(1, Math.max(0, 1 - m.memAvailableKb / m.memTotalKb)) : 1;
    const disk = Math.min(1, Math.max(0, m.diskUsedPct / 100));
    const detail = { cores: m.cores, load1: m.load1, loadPerCore, cpuBusy: m.cpuBusy, herdTasks, memAvailableKb: m.memAvailableKb, memTotalKb: m.memTotalKb, diskUsedPct: m.diskUsedPct };
    // Hard limits judge the host as measured, not as inflated by our own recent launches.
    const over = limitExclusion(m, m.load1 / m.cores, limits, req);
    const score = w.cpu * cpu + w.mem * mem + w.disk * disk;
    return { host: c.alias, score: round3(score), cpu: round3(cpu), mem: round3(mem), disk: round3(disk), excluded: over ?? null, detail };
  });

  let best: ScoredCandidate | undefined;
  for (const s of scored) {
    if (s.excluded || s.score === null) continue;
    if (!best || s.score < best.score!) best = s;
  }
  if (best && opts.record !== false) opts.herd?.record(best.host, now);
  const decision: Decision = { chosen: best?.host, candidates: scored, explanation: '', decidedAt: now };
  decision.explanation = explainDecision(decision, w);
  return decision;
}

// ---------------------------------------------------------------------------------------------------
// Explanation

const pct = (n: number | null) => (n === null ? '-' : `${Math.round(n * 100)}%`);

/** A plain-text table of the candidates followed by why the winner won (or why nothing could be chosen). */
export function explainDecision(d: Pick<Decision, 'chosen' | 'candidates'>, weights: Weights = DEFAULT_WEIGHTS): string {
  const rows = [...d.candidates].sort((a, b) => {
    if (!!a.excluded !== !!b.excluded) return a.excluded ? 1 : -1;
    return (a.score ?? Infinity) - (b.score ?? Infinity);
  });
  const head = ['', 'host', 'score', 'cpu', 'load/core', 'mem', 'disk', 'note'];
  const table = rows.map((r) => [
    r.host === d.chosen ? '→' : ' ',
    r.host,
    r.score === null ? '-' : r.score.toFixed(3),
    pct(r.cpu),
    r.detail ? `${r.detail.loadPerCore.toFixed(2)}${r.detail.herdTasks > 0.005 ? ` (+${r.detail.herdTasks.toFixed(2)} recent)` : ''}` : '-',
    pct(r.mem),
    pct(r.disk),
    r.excluded ? `excluded: ${r.excluded}` : r.host === d.chosen ? 'chosen' : '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const out = [line(head), ...table.map(line)];
  out.push('', whyText(d, weights));
  return out.join('\n');
}

/** `a`, `a and b`, `a, b and c`. */
function listText(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

function whyText(d: Pick<Decision, 'chosen' | 'candidates'>, w: Weights): string {
  const eligible = d.candidates.filter((c) => !c.excluded && c.score !== null).sort((a, b) => a.score! - b.score!);
  if (!d.chosen) {
    if (!d.candidates.length) return 'No host chosen: the target has no hosts.';
    return `No host chosen: all ${d.candidates.length} candidates are excluded (${d.candidates.map((c) => `${c.host}: ${c.excluded}`).join('; ')}).`;
  }
  const winner = eligible.find((c) => c.host === d.chosen)!;
  const excluded = d.candidates.length - eligible.length;
  const tail = excluded ? ` ${excluded} excluded.` : '';
  const runnerUp = eligible.find((c) => c.host !== d.chosen);
  const weightsText = `weights cpu ${w.cpu.toFixed(2)}, mem ${w.mem.toFixed(2)}, disk ${w.disk.toFixed(2)}`;
  if (!runnerUp) return `${winner.host} chosen: the only eligible host (score ${winner.score!.toFixed(3)}).${tail}`;
  const parts = (['cpu', 'mem', 'disk'] as const).map((k) => ({ k, gain: w[k] * ((runnerUp[k] ?? 0) - (winner[k] ?? 0)) }));
  parts.sort((a, b) => b.gain - a.gain);
  const top = parts[0]!;
  const label = { cpu: 'CPU', mem: 'memory', disk: 'disk' }[top.k];
  const figure = (c: ScoredCandidate) =>
    top.k === 'cpu' && c.detail ? `load ${c.detail.loadPerCore.toFixed(2)}/core` : `${pct(c[top.k])} used`;
  const margin = runnerUp.score! - winner.score!;
  const tied = eligible.filter((c) => c.host !== d.chosen && c.score! - winner.score! < 0.0005).map((c) => c.host);
  const reason = margin < 0.0005
    ? `ties with ${listText(tied)} and comes first in the target's order`
    : `lowest score ${winner.score!.toFixed(3)} vs ${runnerUp.host} ${runnerUp.score!.toFixed(3)}; mostly ${label} (${figure(winner)} vs ${figure(runnerUp)})`;
  const herd = runnerUp.detail && runnerUp.detail.herdTasks > 0.005
    ? ` ${runnerUp.host} carries ${runnerUp.detail.herdTasks.toFixed(2)} expected tasks from a recent launch.`
    : '';
  return `${winner.host} chosen: ${reason}.${herd}${tail} (${weightsText}; lower is better)`;
}

// ---------------------------------------------------------------------------------------------------
// Measuring and running

export interface MeasureOptions {
  metrics: MetricsCache;
  connectTimeoutMs: number;
  /** Disk whose use counts (the run's cwd); default the remote home. */
  diskPath?: string;
  /** Re-probe results older than this (default: the cache's TTL). */
  maxAgeMs?: number;
  /** Called with each host's fresh health. */
  onHealth?: (h: HostHealth) => void;
  /** Replaces the health check (the extension passes its own, which also updates the Hosts view). */
  check?: (alias: string) => Promise<HostHealth>;
}

/**
 * Health and one probe per host, concurrently; a dead or black-holed host only costs its own
 * connect timeout. Shares the metrics cache with the health view.
 */
export async function measureCandidates(pool: Pool, aliases: readonly string[], opts: MeasureOptions): Promise<Candidate[]> {
  return Promise.all(aliases.map(async (alias): Promise<Candidate> => {
    let health: HostHealth;
    try {
      health = opts.check
        ? await opts.check(alias)
        : await checkHealth(pool, alias, { connectTimeoutMs: opts.connectTimeoutMs, metrics: opts.metrics, highLoadPerCore: Infinity });
    } catch (err) {
      health = { alias, state: 'offline', reason: err instanceof Error ? err.message : String(err), layers: {}, checkedAt: Date.now() };
    }
    opts.onHealth?.(health);
    if (health.state === 'offline' || health.state === 'unusable') return { alias, health };
    let probe: ProbeResult | undefined;
    try {
      probe = await opts.metrics.measure(pool, alias, opts.diskPath ?? '~', { maxAgeMs: opts.maxAgeMs });
    } catch (err) {
      probe = { state: 'cannot-measure', reason: err instanceof Error ? err.message : String(err), latencyMs: 0 };
    }
    // The probe settles what health could only guess from metrics: judge on the probe.
    if (health.state === 'degraded') health = { ...health, state: 'online', reason: undefined };
    return { alias, health, probe };
  }));
}
