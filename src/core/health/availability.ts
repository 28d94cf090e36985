// What the health history says about a host: last seen online, availability over windows, flapping,
// up/down bands for a timeline, round-trip figures. Pure functions over recorded samples and buckets.
import { asBucket, type Condition, type HealthBucket, type HealthRecord } from './record';

export const WINDOWS = { h1: 3_600_000, h24: 86_400_000, d7: 7 * 86_400_000 } as const;
export type WindowName = keyof typeof WINDOWS;

/** A raw sample stands for this long at most when the next one is further away (polling stopped). */
export const SAMPLE_COVER_MS = 5 * 60_000;
/** Changes between usable and down within the last hour from which a host counts as flapping. */
export const FLAP_CHANGES = 4;

export interface TimelineBand {
  from: number;
  to: number;
  /** `mixed`: a downsampled stretch with both up and down samples. */
  condition: Condition | 'mixed';
}

export interface HostHistory {
  host: string;
  samples: number;
  lastChecked?: number;
  lastSeenOnline?: number;
  /** Share of samples where the host was usable (up or degraded), 0..1; absent when the window has no samples. */
  availability: Partial<Record<WindowName, number>>;
  /** Changes between usable and down in the last hour. */
  changesLastHour: number;
  flapping: boolean;
  timeline: TimelineBand[];
  rtt?: { avg: number; min: number; max: number; samples: number };
}

const usable = (b: HealthBucket) => b.up + b.degraded;

function conditionOfBucket(b: HealthBucket): TimelineBand['condition'] {
  if (b.down === b.n) return 'down';
  if (b.up === b.n) return 'up';
  if (b.down === 0) return 'degraded';
  return 'mixed';
}

/** Bands from `from` to `now`: consecutive records of one condition merged; gaps without data are left out. */
export function timeline(records: readonly HealthBucket[], from: number, now: number): TimelineBand[] {
  const sorted = records.filter((r) => r.t + r.span >= from && r.t <= now).sort((a, b) => a.t - b.t);
  const bands: TimelineBand[] = [];
  sorted.forEach((r, i) => {
    const next = sorted[i + 1]?.t ?? now;
    const end = r.span > 0 ? r.t + r.span : Math.min(next, r.t + SAMPLE_COVER_MS, now);
    const band: TimelineBand = { from: Math.max(from, r.t), to: Math.max(Math.max(from, r.t), Math.min(end, now)), condition: conditionOfBucket(r) };
    const last = bands[bands.length - 1];
    if (last && last.condition === band.condition && band.from - last.to <= 1000) last.to = Math.max(last.to, band.to);
    else bands.push(band);
  });
  return bands;
}

export function analyzeHost(host: string, records: readonly HealthRecord[], now: number, timelineFrom = now - WINDOWS.h24): HostHistory {
  const buckets = records.filter((r) => r.host === host).map(asBucket).sort((a, b) => a.t - b.t);
  const h: HostHistory = { host, samples: 0, availability: {}, changesLastHour: 0, flapping: false, timeline: timeline(buckets, timelineFrom, now) };
  let rtt: { n: number; sum: number; min: number; max: number } | undefined;
  let previous: boolean | undefined;
  for (const b of buckets) {
    h.samples += b.n;
    h.lastChecked = Math.max(h.lastChecked ?? 0, b.t + b.span);
    if (usable(b) > 0) h.lastSeenOnline = Math.max(h.lastSeenOnline ?? 0, b.span ? Math.min(now, b.t + b.span) : b.t);
    if (b.t >= now - WINDOWS.h1) {
      const isUp = usable(b) > 0 && b.down === 0;
      if (previous !== undefined && previous !== isUp) h.changesLastHour++;
      if (b.down > 0 && usable(b) > 0) h.changesLastHour++; // a mixed bucket changed at least once inside
      previous = isUp;
    }
    if (b.rtt && b.t >= now - WINDOWS.h24) {
      rtt = rtt
        ? { n: rtt.n + b.rtt.n, sum: rtt.sum + b.rtt.sum, min: Math.min(rtt.min, b.rtt.min), max: Math.max(rtt.max, b.rtt.max) }
        : { ...b.rtt };
    }
  }
  h.availability = availabilityOf(buckets, now);
  h.flapping = h.changesLastHour >= FLAP_CHANGES;
  if (rtt) h.rtt = { avg: rtt.sum / rtt.n, min: rtt.min, max: rtt.max, samples: rtt.n };
  return h;
}

/** Availability of a group: the samples of all its hosts together. */
export function groupAvailability(records: readonly HealthRecord[], hosts: readonly string[], now: number): Partial<Record<WindowName, number>> {
  const members = new Set(hosts);
  return availabilityOf(records.filter((r) => members.has(r.host)).map(asBucket), now);
}

/** Usable share of the samples in each window that has any. */
function availabilityOf(buckets: readonly HealthBucket[], now: number): Partial<Record<WindowName, number>> {
  const out: Partial<Record<WindowName, number>> = {};
  for (const [name, ms] of Object.entries(WINDOWS) as [WindowName, number][]) {
    const inWindow = buckets.filter((b) => b.t + b.span >= now - ms);
    const n = inWindow.reduce((s, b) => s + b.n, 0);
    if (n) out[name] = inWindow.reduce((s, b) => s + usable(b), 0) / n;
  }
  return out;
}
