// The fleet report from what is known: the latest probe of each host, the recorded health history and
// (optionally) the drift of a pushed folder. Pure: the same input always gives the same report.
import { sanitizeForView } from '../exec/output';
import { analyzeHost, groupAvailability, WINDOWS, type WindowName } from '../health/availability';
import { conditionOf, sampleOf, type HealthRecord, type HealthSample } from '../health/record';
import type { HostHealth } from '../health/probe';
import type { Tailnet, TailscalePeer } from '../config/tailscale';
import type { DriftReport } from './drift';
import {
  DEFAULT_THRESHOLDS, REPORT_SCHEMA,
  type Alert, type FleetReport, type GroupReport, type HostReport, type LatencyClass, type Recommendation, type TailnetPeerReport, type Thresholds,
} from './types';

export interface ReportInput {
  now: number;
  hosts: readonly { alias: string; groups: readonly string[] }[];
  groups: ReadonlyMap<string, readonly string[]>;
  /** Latest probe per host (e.g. just made, or the editor's polling). */
  current: ReadonlyMap<string, HostHealth>;
  history: readonly HealthRecord[];
  drift?: DriftReport;
  /** Tailscale peers (with the alias each was matched to), or why there are none. */
  tailnet?: Pick<Tailnet, 'peers' | 'byAlias' | 'reason'>;
  thresholds?: Partial<Thresholds>;
  /** How far back the timeline goes (default: 24 h, or since the first record if that is more recent, at least 2 min). */
  timelineMs?: number;
}

/** The seed's latency classes: excellent < 50 ms, good < 100, fair < 200, poor beyond. */
export function latencyClass(ms: number, poorFrom = DEFAULT_THRESHOLDS.poorLatencyMs): LatencyClass {
  if (ms < 50) return 'excellent';
  if (ms < 100) return 'good';
  return ms < poorFrom ? 'fair' : 'poor';
}

const MIN_TIMELINE_MS = 2 * 60_000;
const round1 = (n: number) => Math.round(n * 10) / 10;
const windows = (a: Partial<Record<WindowName, number>>): Record<WindowName, number | null> =>
  Object.fromEntries((Object.keys(WINDOWS) as WindowName[]).map((w) => [w, a[w] ?? null])) as Record<WindowName, number | null>;

export function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 129_600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} d ago`;
}

const skewText = (ms: number) => `${(Math.abs(ms) / 1000).toFixed(1)} s ${ms > 0 ? 'ahead of' : 'behind'} this machine`;

function hostReport(alias: string, groups: readonly string[], records: readonly HealthRecord[], input: ReportInput, t: Thresholds, from: number): HostReport {
  const history = analyzeHost(alias, records, input.now, from);
  const own = records.filter((r): r is HealthSample => r.k === 's');
  const live = input.current.get(alias);
  const last: HealthSample | undefined = (live && sampleOf(live, 'cli')) ?? own[own.length - 1];
  // A host that is down now has no current latency (an old figure would read as a live one).
  const rttMs = !last || conditionOf(last) === 'down' ? null : last.rttMs ?? [...own].reverse().find((s) => s.rttMs !== undefined)?.rttMs ?? null;
  const m = live?.metrics;
  const ping = live?.layers.tailscale;
  return {
    alias,
    groups: [...groups],
    state: last?.state ?? 'unknown',
    condition: last ? conditionOf(last) : 'unknown',
    reason: last?.state === 'online' ? null : last?.reason ?? null,
    layer: last?.layer ?? null,
    lastChecked: last?.t ?? null,
    lastSeenOnline: last && last.state === 'online' ? Math.max(last.t, history.lastSeenOnline ?? 0) : history.lastSeenOnline ?? null,
    availability: windows(history.availability),
    flapping: history.flapping,
    changesLastHour: history.changesLastHour,
    latency: {
      rttMs,
      class: rttMs === null ? null : latencyClass(rttMs, t.poorLatencyMs),
      avgMs: history.rtt ? round1(history.rtt.avg) : null,
      minMs: history.rtt?.min ?? null,
      maxMs: history.rtt?.max ?? null,
      connectMs: last?.connectMs ?? null,
    },
    resources: m ? {
      cores: m.cores,
      loadPerCore: Math.round(m.loadPerCore * 100) / 100,
      cpuPercent: m.cpuBusy === undefined ? null : round1(m.cpuBusy * 100),
      memoryPercent: m.memTotalKb > 0 ? round1((1 - m.memAvailableKb / m.memTotalKb) * 100) : 0,
      diskPercent: m.diskUsedPct,
      diskPath: m.diskPath,
    } : null,
    hostKey: last?.hostKey ?? null,
    tailscalePing: ping ? { ok: ping.ok, ms: ping.ms, detail: ping.detail === undefined ? null : sanitizeForView(ping.detail) } : null,
    clockSkewMs: m?.clockSkewMs === undefined ? null : Math.round(m.clockSkewMs),
    timeline: history.timeline,
  };
}

function alertsFor(h: HostReport, t: Thresholds, now: number): Alert[] {
  const a: Alert[] = [];
  const add = (severity: Alert['severity'], kind: Alert['kind'], message: string) => a.push({ severity, kind, host: h.alias, message });
  const seen = h.lastSeenOnline ? `last seen online ${ago(now - h.lastSeenOnline)}` : 'never seen online';
  if (h.hostKey === 'changed' || h.hostKey === 'revoked') add('critical', 'host-key', `${h.alias}: host key ${h.hostKey} — connections are refused`);
  else if (h.hostKey === 'unknown') add('warning', 'host-key', `${h.alias}: host key not trusted yet — Review Host Keys`);
  else if (h.state === 'offline') add('critical', 'host-down', `${h.alias} is down: ${h.reason ?? 'no answer'} (${seen})`);
  else if (h.condition === 'down') add('critical', 'unusable', `${h.alias} cannot be used: ${h.reason ?? h.layer ?? 'unknown'}`);
  const r = h.resources;
  if (r && r.diskPercent > t.diskPercent) add('warning', 'disk', `${h.alias}: disk ${r.diskPercent}% used (${r.diskPath})`);
  if (r && r.memoryPercent > t.memoryPercent) add('warning', 'memory', `${h.alias}: memory ${r.memoryPercent}% used`);
  if (r && r.loadPerCore > t.loadPerCore) add('warning', 'load', `${h.alias}: load ${r.loadPerCore} per core (${r.cores} cores)`);
  if (h.latency.class === 'poor') add('warning', 'latency', `${h.alias}: round trip ${h.latency.rttMs} ms (poor)`);
  if (h.clockSkewMs !== null && Math.abs(h.clockSkewMs) > t.clockSkewMs) add('warning', 'clock', `${h.alias}: clock ${skewText(h.clockSkewMs)}`);
  if (h.flapping) add('warning', 'flapping', `${h.alias}: ${h.changesLastHour} up/down changes in the last hour`);
  return a;
}

function recommendationsFor(h: HostReport, alerts: readonly Alert[], hosts: readonly HostReport[]): Recommendation[] {
  const out: Recommendation[] = [];
  const kinds = new Set(alerts.filter((a) => a.host === h.alias).map((a) => a.kind));
  const rec = (text: string, ...because: Alert['kind'][]) => out.push({ host: h.alias, text, because });
  const r = h.resources;
  if (kinds.has('host-key')) {
    rec(h.hostKey === 'unknown'
      ? `Review Host Keys: compare ${h.alias}'s fingerprint with the machine's own before trusting it`
      : `Verify ${h.alias}'s new host key out of band; Flotilla refuses it until known_hosts is fixed`, 'host-key');
  }
  if (kinds.has('host-down')) rec(`Check ${h.alias}: is it powered, is sshd running, is the network path open?`, 'host-down');
  if (kinds.has('unusable')) rec(`Fix access to ${h.alias} (${h.reason ?? 'login refused'})`, 'unusable');
  if (kinds.has('load') || kinds.has('memory')) {
    const spare = hosts
      .filter((o) => o.alias !== h.alias && o.condition === 'up' && o.resources)
      .sort((x, y) => x.resources!.loadPerCore - y.resources!.loadPerCore)[0];
    const why = [kinds.has('load') ? `load ${r!.loadPerCore}/core` : '', kinds.has('memory') ? `memory ${r!.memoryPercent}%` : ''].filter(Boolean).join(', ');
    rec(`Move work off ${h.alias} (${why})${spare ? ` — ${spare.alias} has room (load ${spare.resources!.loadPerCore}/core, memory ${spare.resources!.memoryPercent}%)` : ''}`,
      ...(['load', 'memory'] as const).filter((k) => kinds.has(k)));
  }
  if (kinds.has('disk')) rec(`Free disk space on ${h.alias} (${r!.diskPercent}% of ${r!.diskPath} used)`, 'disk');
  if (kinds.has('latency')) rec(`Investigate the network path to ${h.alias} (round trip ${h.latency.rttMs} ms)`, 'latency');
  if (kinds.has('clock')) rec(`Sync ${h.alias}'s clock (NTP): it is ${skewText(h.clockSkewMs!)}; logs, TLS and builds go wrong`, 'clock');
  if (kinds.has('flapping')) rec(`${h.alias} keeps going up and down: check its network link and power`, 'flapping');
  return out;
}

function groupReport(name: string, members: readonly string[], hosts: ReadonlyMap<string, HostReport>, input: ReportInput): GroupReport {
  const reports = members.map((a) => hosts.get(a)).filter((h): h is HostReport => !!h);
  const measured = reports.filter((h) => h.resources);
  const avg = (f: (h: HostReport) => number | null) => {
    const v = measured.map(f).filter((x): x is number => x !== null);
    return v.length ? round1(v.reduce((s, x) => s + x, 0) / v.length) : null;
  };
  return {
    name,
    hosts: [...members],
    up: reports.filter((h) => h.condition === 'up' || h.condition === 'degraded').length,
    down: reports.filter((h) => h.condition === 'down').length,
    availability: windows(groupAvailability(input.history, members, input.now)),
    average: {
      loadPerCore: avg((h) => h.resources!.loadPerCore),
      cpuPercent: avg((h) => h.resources!.cpuPercent),
      memoryPercent: avg((h) => h.resources!.memoryPercent),
      diskPercent: avg((h) => h.resources!.diskPercent),
    },
  };
}

function overall(report: Pick<FleetReport, 'summary' | 'alerts'>, t: Thresholds): FleetReport['overall'] {
  const { hosts, down, availability24h } = report.summary;
  const critical = report.alerts.filter((a) => a.severity === 'critical');
  const warnings = report.alerts.filter((a) => a.severity === 'warning');
  const list = (alerts: readonly Alert[]) => alerts.slice(0, 3).map((a) => a.message).join('; ') + (alerts.length > 3 ? '; …' : '');
  if (hosts && down / hosts >= t.downShare) {
    return { health: 'poor', rule: `${down} of ${hosts} hosts are down (at least ${Math.round(t.downShare * 100)}% of the fleet)` };
  }
  if (critical.length) return { health: 'fair', rule: `${critical.length} critical alert${critical.length === 1 ? '' : 's'}: ${list(critical)}` };
  if (availability24h !== null && availability24h < t.availability24h) {
    return { health: 'fair', rule: `fleet availability over 24 h is ${(availability24h * 100).toFixed(1)}% (below ${t.availability24h * 100}%)` };
  }
  if (warnings.length) return { health: 'good', rule: `no host down, ${warnings.length} warning${warnings.length === 1 ? '' : 's'}: ${list(warnings)}` };
  return { health: 'excellent', rule: 'every host up, no alerts' };
}

export function buildReport(input: ReportInput): FleetReport {
  const t: Thresholds = { ...DEFAULT_THRESHOLDS, ...input.thresholds };
  const first = input.history.reduce((m, r) => Math.min(m, r.t), input.now);
  const from = input.now - (input.timelineMs ?? Math.min(WINDOWS.h24, Math.max(MIN_TIMELINE_MS, input.now - first)));
  const byHost = new Map<string, HealthRecord[]>();
  for (const r of input.history) {
    const list = byHost.get(r.host);
    if (list) list.push(r);
    else byHost.set(r.host, [r]);
  }
  const hosts = input.hosts.map((h) => hostReport(h.alias, h.groups, byHost.get(h.alias) ?? [], input, t, from));
  const byAlias = new Map(hosts.map((h) => [h.alias, h]));
  const alerts = hosts.flatMap((h) => alertsFor(h, t, input.now));
  const recommendations = hosts.flatMap((h) => recommendationsFor(h, alerts, hosts));
  for (const d of input.drift?.hosts ?? []) {
    if (d.state !== 'out_of_sync') continue;
    const counts = `${d.different} different, ${d.missing} missing, ${d.extra} extra`;
    alerts.push({ severity: 'warning', kind: 'drift', host: d.host, message: `${d.host}: ${input.drift!.remote} out of sync (${counts}, ${d.syncPercent}% in sync)` });
    recommendations.push({ host: d.host, text: `Push ${input.drift!.local} to ${d.host}:${input.drift!.remote} (${counts})`, because: ['drift'] });
  }
  alerts.sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'critical' ? -1 : 1));
  const aliases = hosts.map((h) => h.alias);
  const fleet = groupAvailability(input.history, aliases, input.now);
  const summary: FleetReport['summary'] = {
    hosts: hosts.length,
    up: hosts.filter((h) => h.condition === 'up').length,
    degraded: hosts.filter((h) => h.condition === 'degraded').length,
    down: hosts.filter((h) => h.condition === 'down').length,
    unusable: hosts.filter((h) => h.state === 'unusable').length,
    unknown: hosts.filter((h) => h.condition === 'unknown').length,
    availability24h: fleet.h24 ?? null,
  };
  return {
    schema: REPORT_SCHEMA,
    generatedAt: input.now,
    timeline: { from, to: input.now },
    thresholds: t,
    overall: overall({ summary, alerts }, t),
    summary,
    hosts,
    groups: [...input.groups].filter(([, members]) => members.some((m) => byAlias.has(m))).map(([name, members]) => groupReport(name, members.filter((m) => byAlias.has(m)), byAlias, input)),
    alerts,
    recommendations,
    drift: input.drift ?? null,
    tailnet: input.tailnet ? tailnetReport(input.tailnet) : null,
  };
}

/** The tailnet as the report (and `flotilla hosts --tailscale --json`) shows it. */
export function tailnetReport(t: Pick<Tailnet, 'peers' | 'byAlias' | 'reason'>): NonNullable<FleetReport['tailnet']> {
  const aliasOf = new Map<TailscalePeer, string>([...t.byAlias].map(([alias, peer]) => [peer, alias]));
  return {
    peers: t.peers.map((p): TailnetPeerReport => ({
      name: p.name, dnsName: p.dnsName ?? null, os: p.os ?? null, online: p.online,
      lastSeen: p.online ? null : p.lastSeen ?? null, alias: aliasOf.get(p) ?? null,
      link: p.link?.kind ?? null,
      via: p.link?.kind === 'direct' ? p.link.address : p.link?.kind === 'relay' ? p.link.region : null,
    })),
    reason: t.reason ?? null,
  };
}
