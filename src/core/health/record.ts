// What the health history keeps of one probe, and the downsampled form older days are kept in.
// Both are plain JSON lines; `k` tells them apart. Nothing here does I/O.
import { sanitizeForView } from '../exec/output';
import type { HostHealth } from './probe';

export type RecordedState = 'online' | 'degraded' | 'unusable' | 'offline';

/** The layer a probe stopped at (failed), or `metrics` when it went all the way. */
export type ProbeLayer = 'tcp' | 'ssh' | 'auth' | 'hostkey' | 'metrics';

/** Who probed: the editor's polling, the CLI (`hosts --status`, `report`), a run. */
export type ProbeSource = 'editor' | 'cli' | 'run';

/** One probe result. */
export interface HealthSample {
  k: 's';
  /** Epoch ms. */
  t: number;
  host: string;
  state: RecordedState;
  layer: ProbeLayer;
  reason?: string;
  /** Round trip of a no-op request on the open connection (keepalive), ms. */
  rttMs?: number;
  /** TCP connect + SSH handshake + authentication (absent on a warm connection), ms. */
  connectMs?: number;
  /** Set when the host presented a key that is not trusted. */
  hostKey?: 'unknown' | 'changed' | 'revoked';
  source: ProbeSource;
}

/** Many samples of one host folded into one time bucket (days past the raw window). */
export interface HealthBucket {
  k: 'b';
  /** Bucket start, epoch ms. */
  t: number;
  /** Bucket length, ms. */
  span: number;
  host: string;
  n: number;
  /** Samples per condition (see `conditionOf`). */
  up: number;
  degraded: number;
  down: number;
  /** State, layer and reason of the last sample in the bucket. */
  state: RecordedState;
  layer: ProbeLayer;
  /** The last reason a sample of this bucket was not online. */
  reason?: string;
  /** Round-trip figures over the samples that had one. */
  rtt?: { n: number; sum: number; min: number; max: number };
}

export type HealthRecord = HealthSample | HealthBucket;

const MAX_REASON = 300;

function layerOf(h: HostHealth): ProbeLayer {
  if (h.state === 'online') return 'metrics';
  if (h.hostKey) return 'hostkey';
  if (h.layers.tcp && !h.layers.tcp.ok) return 'tcp';
  if (h.layers.ssh && !h.layers.ssh.ok) return /authenticat/i.test(h.reason ?? '') ? 'auth' : 'ssh';
  if (!h.layers.ssh && !h.layers.tcp) return 'ssh';
  return 'metrics';
}

/**
 * What a sample means for availability: `up` (online), `degraded` (reachable and logged in, but e.g.
 * loaded or not measurable) or `down` (offline, or unusable: auth failed, host key not trusted).
 */
export type Condition = 'up' | 'degraded' | 'down';

export function conditionOf(s: Pick<HealthSample, 'state' | 'layer'>): Condition {
  if (s.state === 'online') return 'up';
  return s.state === 'degraded' && s.layer === 'metrics' ? 'degraded' : 'down';
}

/** The sample to record for a probe result; undefined while the host is still being checked. */
export function sampleOf(h: HostHealth, source: ProbeSource): HealthSample | undefined {
  if (h.state === 'checking') return undefined;
  const s: HealthSample = { k: 's', t: h.checkedAt, host: h.alias, state: h.state, layer: layerOf(h), source };
  if (h.reason) s.reason = sanitizeForView(h.reason).replace(/\s+/g, ' ').slice(0, MAX_REASON);
  if (h.layers.rtt?.ok) s.rttMs = h.layers.rtt.ms;
  if (h.layers.ssh?.ok && !h.layers.ssh.detail) s.connectMs = h.layers.ssh.ms;
  const verdict = h.hostKey?.verdict.kind;
  if (verdict === 'unknown' || verdict === 'changed' || verdict === 'revoked') s.hostKey = verdict;
  return s;
}

/** A raw sample seen as a bucket of one (so analysis has one shape to read). */
export function asBucket(r: HealthRecord): HealthBucket {
  if (r.k === 'b') return r;
  const c = conditionOf(r);
  return {
    k: 'b', t: r.t, span: 0, host: r.host, n: 1,
    up: c === 'up' ? 1 : 0, degraded: c === 'degraded' ? 1 : 0, down: c === 'down' ? 1 : 0,
    state: r.state, layer: r.layer,
    ...(r.reason && r.state !== 'online' ? { reason: r.reason } : {}),
    ...(r.rttMs !== undefined ? { rtt: { n: 1, sum: r.rttMs, min: r.rttMs, max: r.rttMs } } : {}),
  };
}

/**
 * Folds records into buckets of `spanMs` per host, aligned to the epoch. Deterministic: the same
 * records in any order give the same buckets (compaction relies on that).
 */
export function downsample(records: readonly HealthRecord[], spanMs: number): HealthBucket[] {
  const sorted = [...records].sort((a, b) => a.t - b.t || (a.host < b.host ? -1 : a.host > b.host ? 1 : 0) || order(a) - order(b));
  const buckets = new Map<string, HealthBucket>();
  for (const r of sorted) {
    const b = asBucket(r);
    const start = Math.floor(b.t / spanMs) * spanMs;
    const key = `${b.host}\u0000${start}`;
    const acc = buckets.get(key);
    if (!acc) {
      buckets.set(key, { ...b, t: start, span: spanMs, ...(b.rtt ? { rtt: { ...b.rtt } } : {}) });
      continue;
    }
    acc.n += b.n;
    acc.up += b.up;
    acc.degraded += b.degraded;
    acc.down += b.down;
    acc.state = b.state;
    acc.layer = b.layer;
    if (b.reason) acc.reason = b.reason;
    if (b.rtt) {
      acc.rtt = acc.rtt
        ? { n: acc.rtt.n + b.rtt.n, sum: acc.rtt.sum + b.rtt.sum, min: Math.min(acc.rtt.min, b.rtt.min), max: Math.max(acc.rtt.max, b.rtt.max) }
        : { ...b.rtt };
    }
  }
  return [...buckets.values()].sort((a, b) => a.t - b.t || (a.host < b.host ? -1 : 1));
}

/** Tie-break for records of the same host and time, so sorting is total. */
function order(r: HealthRecord): number {
  return r.k === 'b' ? r.n * 8 + r.up : ['online', 'degraded', 'unusable', 'offline'].indexOf(r.state) + (r.rttMs ?? 0) / 1e6;
}

/** Parses one stored line; undefined for a line that is not a record (damaged or from a newer version). */
export function parseRecord(line: string): HealthRecord | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!v || typeof v !== 'object') return undefined;
  const r = v as Partial<HealthRecord>;
  if ((r.k !== 's' && r.k !== 'b') || typeof r.t !== 'number' || typeof r.host !== 'string' || typeof r.state !== 'string') return undefined;
  if (r.k === 'b' && (typeof r.n !== 'number' || typeof r.span !== 'number')) return undefined;
  // Recorded before `unusable` existed: a "degraded" that stopped before logging in (auth, host key) was one.
  if (r.state === 'degraded' && r.layer !== undefined && r.layer !== 'metrics') r.state = 'unusable';
  return r as HealthRecord;
}
