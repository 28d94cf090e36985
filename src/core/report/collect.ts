// Gathers what a fleet report needs — a fresh probe (or the caller's latest results), the recorded
// history, optionally the drift of a folder — and builds it. The CLI and the editor both come here.
import { MetricsCache } from '../health/metrics';
import { checkFleet } from '../health/monitor';
import type { HealthOptions, HostHealth } from '../health/probe';
import { WINDOWS } from '../health/availability';
import { HealthHistory } from '../health/history';
import type { ProbeSource } from '../health/record';
import type { Pool } from '../ssh/pool';
import { buildReport, type ReportInput } from './build';
import { analyzeDrift, type DriftReport } from './drift';
import type { FleetReport } from './types';

export interface CollectOptions {
  pool: Pool;
  hosts: ReportInput['hosts'];
  groups: ReportInput['groups'];
  /** The health history (`new HealthHistory(dataRoot)`: it lives in the data root's `health/` folder). */
  history: HealthHistory;
  /** Latest results the caller already has; with `probe` (default) hosts missing here are probed (and recorded as `source`). */
  current?: ReadonlyMap<string, HostHealth>;
  probe?: boolean;
  source: ProbeSource;
  connectTimeoutMs: number;
  metrics?: MetricsCache;
  /** Compare this folder with the hosts (dry-run push plan), or show a drift measured before. */
  drift?: { local: string; remote: string; exclude?: readonly string[] };
  driftReport?: DriftReport;
  thresholds?: ReportInput['thresholds'];
  tailnet?: ReportInput['tailnet'];
  /** The probe's `tailscale ping` layer for tailnet hosts (see tailnetPinger); the report shows it per host. */
  tailscalePing?: HealthOptions['tailscalePing'];
  now?: () => number;
}

export async function collectReport(opts: CollectOptions): Promise<FleetReport> {
  const store = opts.history;
  const aliases = opts.hosts.map((h) => h.alias);
  const current = new Map(opts.current ?? []);
  const probe = opts.probe ?? true;
  const missing = probe ? aliases.filter((a) => !current.has(a) || current.get(a)!.state === 'checking') : [];
  const [probed, drift] = await Promise.all([
    missing.length
      ? checkFleet(opts.pool, missing, { connectTimeoutMs: opts.connectTimeoutMs, metrics: opts.metrics ?? new MetricsCache(), history: { store, source: opts.source }, tailscalePing: opts.tailscalePing })
      : Promise.resolve([]),
    opts.drift ? analyzeDrift(opts.pool, aliases, opts.drift.local, opts.drift.remote, { exclude: opts.drift.exclude }) : Promise.resolve(opts.driftReport),
  ]);
  for (const h of probed) current.set(h.alias, h);
  // Whoever probes also folds old days (cheap; another process doing it at the same time is fine).
  if (probe) await store.compact().catch(() => undefined);
  const now = (opts.now ?? Date.now)();
  const { records } = await store.read({ since: now - WINDOWS.d7, hosts: aliases });
  return buildReport({ now, hosts: opts.hosts, groups: opts.groups, current, history: records, drift, thresholds: opts.thresholds, tailnet: opts.tailnet });
}
