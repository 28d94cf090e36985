// One command per host returns what placement and the health view need: CPU (loadavg ÷ cores and a
// short /proc/stat sample), memory, disk use of a path, cores, uptime. Linux and macOS; anything else is
// "cannot measure", never zeros.
import { buildRemoteCommand, shQuote } from '../ssh/quote';
import type { Pool } from '../ssh/pool';

export interface HostMetrics {
  os: 'linux' | 'darwin';
  cores: number;
  load1: number;
  load5: number;
  load15: number;
  /** load1 ÷ cores. */
  loadPerCore: number;
  /** Busy share of all CPUs over a short sample, 0..1 (Linux only). */
  cpuBusy?: number;
  memTotalKb: number;
  memAvailableKb: number;
  diskPath: string;
  diskUsedPct: number;
  diskAvailKb: number;
  uptimeSec: number;
  measuredAt: number;
  /** Round trip of the probe command, ms. */
  latencyMs: number;
  /** Host clock minus ours, ms (±0.5 s: the host's clock is read in whole seconds). */
  clockSkewMs?: number;
}

export type ProbeResult =
  | { state: 'ok'; metrics: HostMetrics }
  | { state: 'cannot-measure'; reason: string; latencyMs: number };

const SAMPLE_SECONDS = '0.25';

// Every process the probe starts is paid for on every host at every poll (500 hosts: thousands of forks
// per round), so /proc is read with the shell's own `read` and the helpers are the few that must run:
// date, uname, df, getconf and the sleep of the CPU sample.
export function probeScript(diskPath: string): string {
  const disk = diskPath === '~' || diskPath === '' ? '"$HOME"' : diskPath.startsWith('~/') ? `"$HOME"/${shQuote(diskPath.slice(2))}` : shQuote(diskPath);
  return [
    "printf 'clock='; date +%s || echo",
    'os=$(uname -s 2>/dev/null)',
    'echo "os=$os"',
    `d=${disk}; while [ ! -e "$d" ] && [ "$d" != / ]; do d=$(dirname "$d"); done; echo "diskpath=$d"`,
    // the header line comes first; the last df= line (the file system) is the one kept
    'df -Pk "$d" 2>/dev/null | while read -r l; do echo "df=$l"; done',
    'case "$os" in',
    'Linux)',
    "  printf 'cores='; getconf _NPROCESSORS_ONLN 2>/dev/null || nproc 2>/dev/null || echo",
    '  read -r l < /proc/loadavg; echo "loadavg=$l"',
    '  while read -r k v _; do case "$k" in MemTotal:|MemAvailable:|MemFree:|Buffers:|Cached:) echo "${k%:}=$v";; esac; done < /proc/meminfo',
    '  read -r u _ < /proc/uptime; echo "uptime=$u"',
    `  read -r s < /proc/stat; echo "stat1=$s"; sleep ${SAMPLE_SECONDS}; read -r s < /proc/stat; echo "stat2=$s";;`,
    'Darwin)',
    '  echo "cores=$(sysctl -n hw.ncpu)"',
    '  echo "loadavg=$(sysctl -n vm.loadavg | tr -d "{}")"',
    '  echo "MemTotal=$(( $(sysctl -n hw.memsize) / 1024 ))"',
    '  echo "vmstat_pagesize=$(sysctl -n hw.pagesize)"',
    `  vm_stat | awk '/^Pages (free|inactive|speculative|purgeable):/ {k=$2; sub(/:$/, "", k); v=$NF; sub(/[.]$/, "", v); print "vm_" k "=" v}'`,
    '  echo "boottime=$(sysctl -n kern.boottime | sed "s/.*sec = \\([0-9]*\\).*/\\1/")"; echo "now=$(date +%s)";;',
    'esac',
  ].join('\n');
}

function fields(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) m.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return m;
}

function cpuBusyFromStat(a: string | undefined, b: string | undefined): number | undefined {
  const nums = (s: string) => s.split(/\s+/).slice(1).map(Number);
  if (!a || !b) return undefined;
  const x = nums(a), y = nums(b);
  if (x.length < 4 || y.length < 4 || x.some(Number.isNaN) || y.some(Number.isNaN)) return undefined;
  const idle = (v: number[]) => v[3]! + (v[4] ?? 0);
  const total = (v: number[]) => v.reduce((s, n) => s + n, 0);
  const dt = total(y) - total(x);
  if (dt <= 0) return undefined;
  return Math.min(1, Math.max(0, 1 - (idle(y) - idle(x)) / dt));
}

/** Parses the probe's output; throws with what was missing when the output is not understood. */
export function parseProbeOutput(text: string, latencyMs: number, now = Date.now(), firstOutputAt?: number): ProbeResult {
  const f = fields(text);
  const os = f.get('os') ?? '';
  if (os !== 'Linux' && os !== 'Darwin') {
    return { state: 'cannot-measure', reason: `unsupported OS ${JSON.stringify(os || 'unknown')}: Flotilla measures Linux and macOS`, latencyMs };
  }
  // Number('') is 0: an absent field must read as "missing", never as a zero.
  const num = (v: string | undefined) => (v === undefined || v.trim() === '' ? NaN : Number(v));
  const cores = num(f.get('cores'));
  const [load1, load5, load15] = (f.get('loadavg') ?? '').trim().split(/\s+/).map(num);
  const df = (f.get('df') ?? '').trim().split(/\s+/);
  const diskAvailKb = num(df[3]);
  const diskUsedPct = num(df[4]?.replace('%', ''));
  let memTotalKb = num(f.get('MemTotal'));
  // Kernels before 3.14 have no MemAvailable: free + buffers + page cache is the usual estimate.
  let memAvailableKb = f.has('MemAvailable')
    ? num(f.get('MemAvailable'))
    : num(f.get('MemFree')) + Number(f.get('Buffers') ?? 0) + Number(f.get('Cached') ?? 0);
  let uptimeSec = num(f.get('uptime'));
  if (os === 'Darwin') {
    const page = Number(f.get('vmstat_pagesize')) || 4096;
    const pages = ['free', 'inactive', 'speculative', 'purgeable'].reduce((s, k) => s + (Number(f.get(`vm_${k}`)) || 0), 0);
    memAvailableKb = (pages * page) / 1024;
    uptimeSec = num(f.get('now')) - num(f.get('boottime'));
    if (!f.has('vm_free')) memAvailableKb = NaN;
  }
  const missing = Object.entries({ cores, load1, memTotalKb, memAvailableKb, diskUsedPct, uptimeSec })
    .filter(([, v]) => v === undefined || !Number.isFinite(v))
    .map(([k]) => k);
  if (missing.length || cores <= 0) {
    return { state: 'cannot-measure', reason: `probe output lacked ${missing.join(', ') || 'cores'}`, latencyMs };
  }
  return {
    state: 'ok',
    metrics: {
      os: os === 'Linux' ? 'linux' : 'darwin',
      cores,
      load1: load1!,
      load5: load5 ?? load1!,
      load15: load15 ?? load1!,
      loadPerCore: load1! / cores,
      cpuBusy: cpuBusyFromStat(f.get('stat1'), f.get('stat2')),
      memTotalKb,
      memAvailableKb,
      diskPath: f.get('diskpath') ?? '',
      diskUsedPct,
      diskAvailKb,
      uptimeSec,
      measuredAt: now,
      latencyMs,
      ...clockSkew(f.get('clock'), firstOutputAt),
    },
  };
}

/** The clock line is the probe's first output: it was read about when its first bytes reached us. */
function clockSkew(clock: string | undefined, firstOutputAt: number | undefined): { clockSkewMs?: number } {
  const seconds = clock === undefined || clock.trim() === '' ? NaN : Number(clock);
  if (!Number.isFinite(seconds) || firstOutputAt === undefined) return {};
  return { clockSkewMs: seconds * 1000 + 500 - firstOutputAt };
}

/** Runs the probe over the pooled connection. Connection errors propagate (the caller classifies them). */
export async function probeHost(pool: Pool, alias: string, diskPath = '~', timeoutMs = 10_000): Promise<ProbeResult> {
  const t0 = Date.now();
  const lease = await pool.exec(alias, buildRemoteCommand(probeScript(diskPath)));
  let out = '';
  let firstOutputAt: number | undefined;
  lease.channel.on('data', (d: Buffer) => {
    firstOutputAt ??= Date.now();
    if (out.length < 65536) out += d.toString('utf8');
  });
  lease.channel.stderr.on('data', () => {});
  const finished = await new Promise<boolean>((resolve) => {
    const t = setTimeout(() => resolve(false), timeoutMs);
    lease.channel.once('close', () => { clearTimeout(t); resolve(true); });
  });
  if (!finished) {
    try { lease.channel.close(); } catch { /* gone */ }
    lease.release();
    return { state: 'cannot-measure', reason: `probe did not finish within ${timeoutMs} ms`, latencyMs: Date.now() - t0 };
  }
  return parseProbeOutput(out, Date.now() - t0, Date.now(), firstOutputAt);
}

/**
 * A short-lived cache so placement and the health view share one measurement (default 30 s). Keyed by
 * host and disk path; concurrent requests for the same key share one probe.
 */
export class MetricsCache {
  private readonly entries = new Map<string, { at: number; result: ProbeResult }>();
  private readonly inflight = new Map<string, Promise<ProbeResult>>();
  constructor(public ttlMs = 30_000) {}
  private static key(alias: string, diskPath: string): string { return `${alias}\u0000${diskPath}`; }
  get(alias: string, now = Date.now(), diskPath = '~'): ProbeResult | undefined {
    const e = this.entries.get(MetricsCache.key(alias, diskPath));
    return e && now - e.at < this.ttlMs ? e.result : undefined;
  }
  set(alias: string, result: ProbeResult, now = Date.now(), diskPath = '~'): void {
    this.entries.set(MetricsCache.key(alias, diskPath), { at: now, result });
  }
  /** Forgets one host (all disk paths), or everything. */
  invalidate(alias?: string): void {
    if (alias === undefined) return this.entries.clear();
    for (const k of [...this.entries.keys()]) if (k.startsWith(`${alias}\u0000`)) this.entries.delete(k);
  }
  async measure(pool: Pool, alias: string, diskPath = '~', opts: { maxAgeMs?: number } = {}): Promise<ProbeResult> {
    const key = MetricsCache.key(alias, diskPath);
    const e = this.entries.get(key);
    if (e && Date.now() - e.at < Math.min(this.ttlMs, opts.maxAgeMs ?? Infinity)) return e.result;
    const running = this.inflight.get(key);
    if (running) return running;
    const p = probeHost(pool, alias, diskPath).then(
      (result) => { this.set(alias, result, Date.now(), diskPath); return result; },
    ).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }
}
