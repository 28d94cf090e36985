// Layered health: TCP connect → SSH banner + host key verdict → authentication → one metrics command.
// Each layer's result and timing is kept, so a badge never says "online" when only TCP answered.
import { connect as tcpConnect } from 'node:net';
import { MetricsCache, type HostMetrics } from './metrics';
import type { HealthHistory } from './history';
import { sampleOf, type ProbeSource } from './record';
import { measureRoundTrip } from './rtt';
import type { ConnectFact } from '../exec/run';
import { ConnectError, type Connection } from '../ssh/connect';
import { prefixOnce } from '../text';
import type { HostKeyVerdict } from '../ssh/knownHosts';
import type { Pool } from '../ssh/pool';
import type { HostKeyQuestion } from '../types';

/**
 * - online: logged in and measured
 * - degraded: logged in, but loaded or not measurable
 * - unusable: the host answers, but nothing can be done on it: authentication failed, or its host key is
 *   not trusted (unknown until reviewed, changed, revoked) — an error, not a warning
 * - offline: no SSH server heard (refused, timeout, no handshake)
 */
export type HealthState = 'checking' | 'online' | 'degraded' | 'unusable' | 'offline';

export interface LayerResult {
  ok: boolean;
  ms: number;
  detail?: string;
}

export interface HostHealth {
  alias: string;
  state: HealthState;
  /** One line saying why the state is not plain "online". */
  reason?: string;
  /** `rtt`: round trip of a no-op (keepalive) on the open connection — the latency figure. */
  /** `tailscale`: a `tailscale ping` of the host's tailnet peer (an optional layer, beside the others). */
  layers: { tcp?: LayerResult; ssh?: LayerResult; rtt?: LayerResult; metrics?: LayerResult; tailscale?: LayerResult };
  metrics?: HostMetrics;
  /** Set when the host presented a key that is not (or no longer) trusted: for the review flow. */
  hostKey?: { verdict: HostKeyVerdict; question: HostKeyQuestion; blob: Buffer };
  checkedAt: number;
}

export interface HealthOptions {
  connectTimeoutMs: number;
  /** loadavg ÷ cores above which a host is "degraded: high load". */
  highLoadPerCore?: number;
  metrics: MetricsCache;
  /** When set, every result is recorded there (as coming from `source`). */
  history?: { store: HealthHistory; source: ProbeSource };
  /** Limits how many hosts connect at once (checkFleet sets it); a host already connected never waits for it. */
  connectGate?: ConnectGate;
  /** The tailnet layer: a ping of the host's tailnet peer, undefined for a host that is none (see tailnetPinger). */
  tailscalePing?: (alias: string) => Promise<LayerResult> | undefined;
}

/** A counting semaphore for the connect part of probes. */
export class ConnectGate {
  private readonly waiting: Array<() => void> = [];
  constructor(private free: number) {}
  async acquire(): Promise<() => void> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((r) => this.waiting.push(r));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    };
  }
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<LayerResult> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const sock = tcpConnect({ host, port });
    const done = (r: LayerResult) => { clearTimeout(timer); sock.destroy(); resolve(r); };
    const timer = setTimeout(() => done({ ok: false, ms: Date.now() - t0, detail: `no TCP answer within ${timeoutMs} ms` }), timeoutMs);
    sock.once('connect', () => done({ ok: true, ms: Date.now() - t0 }));
    sock.once('error', (err: NodeJS.ErrnoException) => {
      const what = err.code === 'ECONNREFUSED' ? 'connection refused' : err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN' ? 'host name not found (DNS)' : err.code ?? err.message;
      done({ ok: false, ms: Date.now() - t0, detail: what });
    });
  });
}

/** Probes one host through every layer; never throws (a probe that breaks reads as offline, with why). */
export async function checkHealth(pool: Pool, alias: string, opts: HealthOptions): Promise<HostHealth> {
  let h: HostHealth;
  try {
    h = await probeLayers(pool, alias, opts);
  } catch (err) {
    h = { alias, state: 'offline', reason: err instanceof Error ? err.message : String(err), layers: {}, checkedAt: Date.now() };
  }
  await record(h, opts);
  return h;
}

async function record(h: HostHealth, opts: HealthOptions): Promise<void> {
  const sample = opts.history && sampleOf(h, opts.history.source);
  // A history that cannot be written must not turn a probe into a failure.
  if (sample) await opts.history!.store.record([sample]).catch(() => undefined);
}

async function probeLayers(pool: Pool, alias: string, opts: HealthOptions, retried = false): Promise<HostHealth> {
  // Alongside the SSH layers, never before them: it adds no wait of its own.
  const pinging = retried ? undefined : opts.tailscalePing?.(alias);
  const h = await probeSsh(pool, alias, opts, retried);
  return pinging ? withTailnetLayer(h, await pinging.catch((err: unknown) => ({ ok: false, ms: 0, detail: String(err) }))) : h;
}

/** The tailnet's answer beside the SSH layers; for a host down over SSH it says whether the machine itself is up. */
function withTailnetLayer(h: HostHealth, ping: LayerResult): HostHealth {
  const layers = { ...h.layers, tailscale: ping };
  if (h.state !== 'offline') return { ...h, layers };
  const tailnet = ping.ok ? `the tailnet reaches it (tailscale ping ${ping.detail ?? ''} in ${ping.ms} ms): the machine is up, sshd is not answering` : `tailscale ping: ${ping.detail ?? 'no reply'}`;
  return { ...h, layers, reason: h.reason ? `${h.reason}; ${tailnet}` : tailnet };
}

async function probeSsh(pool: Pool, alias: string, opts: HealthOptions, retried: boolean): Promise<HostHealth> {
  const warm = pool.isConnected(alias);
  const release = warm ? undefined : await opts.connectGate?.acquire();
  try {
    return await probeConnected(pool, alias, opts, warm, retried, release);
  } finally {
    release?.();
  }
}

/** `releaseGate`: called once the connect part is over (the rtt and metrics layers do not hold a connect slot). */
async function probeConnected(pool: Pool, alias: string, opts: HealthOptions, warm: boolean, retried: boolean, releaseGate = () => {}): Promise<HostHealth> {
  const checkedAt = Date.now();
  const layers: HostHealth['layers'] = {};
  const t1 = Date.now();
  // The TCP layer is probed alongside the SSH connect, not before it: a layer's verdict must never
  // add its own wait to the connect timeout.
  const connecting: Promise<Connection | { failed: unknown }> = pool.connection(alias, { interactive: false }).then(
    (conn) => conn,
    (err: unknown) => ({ failed: err }),
  );
  let budgetMs: number | undefined;
  let late = '';
  if (!warm) {
    const host = await pool.resolve(alias);
    if (!host.proxyJump && !host.proxyCommand) {
      budgetMs = host.connectTimeout && host.connectTimeout > 0 ? host.connectTimeout * 1000 : opts.connectTimeoutMs;
      // the words of the connect's own deadline (connect.ts): whichever comes first, the verdict reads the same
      late = `${alias}: no SSH handshake from ${host.hostname} port ${host.port} within ${budgetMs} ms`;
      layers.tcp = await tcpProbe(host.hostname, host.port, Math.max(1, budgetMs - (Date.now() - t1)));
      if (!layers.tcp.ok) return { alias, state: 'offline', reason: layers.tcp.detail, layers, checkedAt };
    }
  }
  // The connect's own ConnectTimeout starts at its TCP connect, as in OpenSSH; the probe's verdict is due one
  // timeout after the probe began: with a big fleet, resolving settings and opening sockets for every host
  // come first, and a black-holed host must still cost no more than one timeout.
  const conn = budgetMs === undefined ? await connecting : await withinBudget(connecting, t1 + budgetMs, late);
  releaseGate();
  if (!('failed' in conn)) {
    layers.ssh = { ok: true, ms: Date.now() - t1, detail: warm ? 'pooled connection' : undefined };
    layers.rtt = await roundTrip(conn, Math.min(5000, opts.connectTimeoutMs));
    // A pooled connection that no longer answers is gone (host rebooted, path cut): probe afresh.
    if (warm && !layers.rtt.ok && !retried) {
      pool.close(alias);
      return probeLayers(pool, alias, opts, true);
    }
  } else {
    const err = conn.failed;
    layers.ssh = { ok: false, ms: Date.now() - t1, detail: err instanceof Error ? err.message : String(err) };
    return connectFailureHealth(alias, err, layers, checkedAt);
  }
  const t2 = Date.now();
  try {
    const result = await opts.metrics.measure(pool, alias);
    if (result.state !== 'ok') {
      layers.metrics = { ok: false, ms: Date.now() - t2, detail: result.reason };
      return { alias, state: 'degraded', reason: `metrics: ${result.reason}`, layers, checkedAt };
    }
    layers.metrics = { ok: true, ms: result.metrics.latencyMs };
    const high = opts.highLoadPerCore ?? 2;
    if (result.metrics.loadPerCore > high) {
      return { alias, state: 'degraded', reason: `high load: ${result.metrics.load1.toFixed(2)} on ${result.metrics.cores} cores`, layers, metrics: result.metrics, checkedAt };
    }
    return { alias, state: 'online', layers, metrics: result.metrics, checkedAt };
  } catch (err) {
    layers.metrics = { ok: false, ms: Date.now() - t2, detail: err instanceof Error ? err.message : String(err) };
    return { alias, state: 'degraded', reason: `metrics unavailable: ${layers.metrics.detail}`, layers, checkedAt };
  }
}

/** `connecting`, or a timeout failure once `deadline` (epoch ms) passes first; the connect itself goes on (and ends by its own deadline). */
function withinBudget<T>(connecting: Promise<T | { failed: unknown }>, deadline: number, message: string): Promise<T | { failed: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<{ failed: unknown }>((resolve) => {
    timer = setTimeout(() => resolve({ failed: new ConnectError('timeout', message) }), Math.max(0, deadline - Date.now()));
  });
  return Promise.race([connecting, late]).finally(() => clearTimeout(timer));
}

/** What a failed SSH connect says about a host: the probe and a run (see `healthOfConnect`) read it the same way. */
export function connectFailureHealth(alias: string, err: unknown, layers: HostHealth['layers'], checkedAt: number): HostHealth {
  const message = err instanceof Error ? err.message : String(err);
  if (!(err instanceof ConnectError) || err.kind === 'unreachable' || err.kind === 'timeout') return { alias, state: 'offline', reason: message, layers, checkedAt };
  const reason = err.kind === 'auth-failed' ? prefixOnce('authentication failed', message) : message;
  return { alias, state: 'unusable', reason, layers, hostKey: err.hostKey, checkedAt };
}

/**
 * The health a run's connect showed, with no probe of its own: connected (and how long the connect took,
 * unless the connection was already open) or the failure, at the layer it happened.
 */
export function healthOfConnect(alias: string, fact: ConnectFact, checkedAt: number): HostHealth {
  if (fact.ok) return { alias, state: 'online', layers: { ssh: { ok: true, ms: fact.ms, ...(fact.warm ? { detail: 'pooled connection' } : {}) } }, checkedAt };
  const failed: LayerResult = { ok: false, ms: fact.ms, detail: fact.error.message };
  return connectFailureHealth(alias, fact.error, fact.error.tcp ? { tcp: failed } : { ssh: failed }, checkedAt);
}

/** The smaller of two back-to-back round trips, as ping's min: one sample can carry a stall of our own event loop. */
async function roundTrip(conn: Connection, timeoutMs: number): Promise<LayerResult> {
  try {
    const first = await measureRoundTrip(conn.client, timeoutMs);
    const second = await measureRoundTrip(conn.client, timeoutMs);
    return { ok: true, ms: Math.min(first, second) };
  } catch (err) {
    return { ok: false, ms: 0, detail: err instanceof Error ? err.message : String(err) };
  }
}

export interface HealthSummary { up: number; degraded: number; unusable: number; down: number; checking: number }

export function summarizeHealth(hosts: readonly HostHealth[]): HealthSummary {
  const s = { up: 0, degraded: 0, unusable: 0, down: 0, checking: 0 };
  for (const h of hosts) {
    if (h.state === 'online') s.up++;
    else if (h.state === 'degraded') s.degraded++;
    else if (h.state === 'unusable') s.unusable++;
    else if (h.state === 'offline') s.down++;
    else s.checking++;
  }
  return s;
}
