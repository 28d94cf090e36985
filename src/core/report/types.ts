// The fleet report's shape: what `flotilla report --json` prints and the editor's Fleet Report draws.
// Stable: fields are only ever added (schema.ts is the machine-readable version; `schema` names it).
import type { Condition, ProbeLayer } from '../health/record';
import type { TimelineBand, WindowName } from '../health/availability';
import type { DriftReport } from './drift';

export const REPORT_SCHEMA = 'flotilla.report/1';

export type LatencyClass = 'excellent' | 'good' | 'fair' | 'poor';
export type OverallHealth = 'excellent' | 'good' | 'fair' | 'poor';
/** `unusable`: answers, but cannot be used (authentication failed, host key not trusted); its condition is down. */
export type HostState = 'online' | 'degraded' | 'unusable' | 'offline' | 'unknown';

export interface Thresholds {
  diskPercent: number;
  memoryPercent: number;
  loadPerCore: number;
  /** Round trip at or above which latency is "poor". */
  poorLatencyMs: number;
  /** Clock difference from ours beyond which a host's clock is wrong, ms. */
  clockSkewMs: number;
  /** Share of the fleet down from which overall health is "poor". */
  downShare: number;
  /** 24 h availability of the fleet below which overall health is at most "fair". */
  availability24h: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = {
  diskPercent: 90,
  memoryPercent: 90,
  loadPerCore: 2,
  poorLatencyMs: 200,
  clockSkewMs: 5000,
  downShare: 0.5,
  availability24h: 0.95,
};

export interface HostReport {
  alias: string;
  groups: string[];
  state: HostState;
  /** up / degraded (reachable, not healthy) / down (offline, or unusable: auth failed, host key). */
  condition: Condition | 'unknown';
  reason: string | null;
  /** Layer the last probe stopped at (`metrics` = all the way). */
  layer: ProbeLayer | null;
  lastChecked: number | null;
  lastSeenOnline: number | null;
  /** Usable share of samples per window, 0..1; null without samples in the window. */
  availability: Record<WindowName, number | null>;
  flapping: boolean;
  changesLastHour: number;
  latency: { rttMs: number | null; class: LatencyClass | null; avgMs: number | null; minMs: number | null; maxMs: number | null; connectMs: number | null };
  resources: {
    cores: number; loadPerCore: number; cpuPercent: number | null; memoryPercent: number; diskPercent: number; diskPath: string;
  } | null;
  hostKey: 'unknown' | 'changed' | 'revoked' | null;
  /**
   * The latest probe's `tailscale ping` layer (a host that is a tailnet peer, with Tailscale on): whether the peer
   * answered, in how many ms (or after how long it gave up) and `detail` (`via 1.2.3.4:41641`, `via DERP(fra)`, or
   * why not); null when it was not pinged.
   */
  tailscalePing: { ok: boolean; ms: number; detail: string | null } | null;
  /** Host clock minus ours, ms, measured by the probe (±0.5 s); null when not measured. */
  clockSkewMs: number | null;
  timeline: TimelineBand[];
}

export interface GroupReport {
  name: string;
  hosts: string[];
  up: number;
  down: number;
  availability: Record<WindowName, number | null>;
  /** Averages over the members with measurements; null when none was measured. */
  average: { loadPerCore: number | null; cpuPercent: number | null; memoryPercent: number | null; diskPercent: number | null };
}

export type AlertKind = 'host-down' | 'unusable' | 'host-key' | 'disk' | 'memory' | 'load' | 'latency' | 'clock' | 'flapping' | 'drift';

export interface Alert {
  severity: 'critical' | 'warning';
  kind: AlertKind;
  host: string;
  message: string;
}

export interface Recommendation {
  host: string | null;
  text: string;
  /** The alert kinds it answers. */
  because: AlertKind[];
}

export interface TailnetPeerReport {
  name: string;
  dnsName: string | null;
  os: string | null;
  online: boolean;
  /** As tailscale reports it (RFC 3339); null while online or never seen. */
  lastSeen: string | null;
  /** The ssh config alias this peer was matched to, if any. */
  alias: string | null;
  /** How traffic to it goes now (online peers): `direct`, through a DERP `relay`, or `idle` (no active session). */
  link: 'direct' | 'relay' | 'idle' | null;
  /** The direct address (ip:port) or the relay's region code. */
  via: string | null;
}

export interface FleetReport {
  schema: typeof REPORT_SCHEMA;
  generatedAt: number;
  /** The timeline's span. */
  timeline: { from: number; to: number };
  thresholds: Thresholds;
  overall: { health: OverallHealth; rule: string };
  /** `unusable`: of the `down` hosts, those that answer but cannot be used. */
  summary: { hosts: number; up: number; degraded: number; down: number; unusable: number; unknown: number; availability24h: number | null };
  hosts: HostReport[];
  groups: GroupReport[];
  alerts: Alert[];
  recommendations: Recommendation[];
  drift: DriftReport | null;
  /** Tailscale peers (when asked for); `reason` says why there are none (tailscale not running, not installed). */
  tailnet: { peers: TailnetPeerReport[]; reason: string | null } | null;
}
