// One command per host returns what placement and the health view need: CPU (loadavg ÷ cores and a
// short /proc/stat sample), memory, disk use of a path, cores, uptime. Linux and macOS; anything else is
// "cannot measure", never zeros.
import { runInKeptShell } from '../ssh/keptShell';
import { shQuote } from '../ssh/quote';
import type { Pool } from '../ssh/pool';
import { runScript } from '../ssh/script';

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
const PROBE_TIMEOUT_MS = 10_000;
/** How long a host's clock and disk use, which change slowly, are taken from an earlier probe. */
export const SLOW_FACTS_MS = 2 * 60_000;
/** An earlier /proc/stat reading this recent is the start of the CPU sample instead of a sleep. */
const CPU_BASELINE_MS = { min: 1_000, max: 10 * 60_000 };

/** What the probe reads besides load, memory, cores and uptime (each part costs the host a process). */
export interface ProbeParts {
  /** The host's clock (`date`), for the clock skew. */
  clock: boolean;
  /** Use of the disk path (`df`). */
  disk: boolean;
  /** A 0.25 s /proc/stat sample (`sleep`); without it CPU busy is measured since an earlier probe's reading. */
  cpuSample: boolean;
}
export const FULL_PROBE: ProbeParts = { clock: true, disk: true, cpuSample: true };

/** What an earlier probe of the same host and disk path learned, for the next one to reuse. */
export interface EarlierProbe {
  /** When the clock and disk below were read. */
  factsAt: number;
  clockSkewMs?: number;
  diskPath: string;
  diskUsedPct: number;
  diskAvailKb: number;
  /** The last /proc/stat total line read, and when (Linux). */
  stat?: { line: string; at: number };
}

/** The parts a probe needs now: slow facts fresh from an earlier probe, and a CPU baseline, are not re-read. */
export function probeParts(earlier: EarlierProbe | undefined, now: number): ProbeParts {
  if (!earlier) return FULL_PROBE;
  const fresh = now - earlier.factsAt < SLOW_FACTS_MS;
  const age = earlier.stat ? now - earlier.stat.at : NaN;
  const baseline = age >= CPU_BASELINE_MS.min && age <= CPU_BASELINE_MS.max;
  return { clock: !fresh, disk: !fresh, cpuSample: !baseline };
}

// Every process the probe starts is paid for on every host at every poll (500 hosts: thousands of forks
// per round), so on Linux /proc is read with the shell's own `read` (and only as far as needed), and the
// only programs a full probe starts are date, df and the sleep of the CPU sample — a later one within
// SLOW_FACTS_MS none. The script is one line without quotes, backslashes or `!`, so it travels to /bin/sh
// in clear (buildRemoteCommand) and no decoder runs on the host either.
export function probeScript(diskPath: string, parts: ProbeParts = FULL_PROBE): string {
  const disk = diskPath === '~' || diskPath === '' ? '"$HOME"' : diskPath.startsWith('~/') ? `"$HOME"/${shQuote(diskPath.slice(2))}` : shQuote(diskPath);
  const linux = [
    'echo os=Linux',
    'read -r l < /proc/loadavg; echo "loadavg=$l"',
    // MemTotal, MemFree, MemAvailable (3.14+), Buffers and Cached are the first lines
    'while read -r k v _; do case "$k" in MemTotal:|MemAvailable:|MemFree:|Buffers:) echo "${k%:}=$v";; Cached:) echo "Cached=$v"; break;; esac; done < /proc/meminfo',
    'read -r u _ < /proc/uptime; echo "uptime=$u"',
    // /proc/stat starts with the total and one cpuN line per online CPU; the long lines after them are not read
    'n=0; while read -r k r; do case "$k" in cpu) echo "stat1=$k $r";; cpu[0-9]*) n=$((n+1));; *) break;; esac; done < /proc/stat; echo "cores=$n"',
    ...(parts.cpuSample ? [`sleep ${SAMPLE_SECONDS}; read -r s < /proc/stat; echo "stat2=$s"`] : []),
  ].join('; ');
  const darwin = [
    'echo "cores=$(sysctl -n hw.ncpu)"',
    'echo "loadavg=$(sysctl -n vm.loadavg)"',
    'echo "MemTotal=$(( $(sysctl -n hw.memsize) / 1024 ))"',
    'echo "vmstat_pagesize=$(sysctl -n hw.pagesize)"',
    'vm_stat | while read -r a b c; do case "$a $b" in "Pages free:"|"Pages inactive:"|"Pages speculative:"|"Pages purgeable:") echo "vm_${b%:}=${c%.}";; esac; done',
    'echo "boottime=$(sysctl -n kern.boottime)"',
    // the uptime is the clock minus the boot time
    ...(parts.clock ? [] : ['echo "now=$(date +%s)"']),
  ].join('; ');
  return [
    ...(parts.clock ? ['printf clock=; date +%s || echo'] : []),
    ...(parts.disk ? [`d=${disk}; until [ -e "$d" ] || [ "$d" = / ]; do d=$(dirname "$d"); done; echo "diskpath=$d"`] : []),
    `if [ -r /proc/stat ] && [ -r /proc/meminfo ]; then ${linux}; else os=$(uname -s 2>/dev/null); echo "os=$os"; if [ "$os" = Darwin ]; then ${darwin}; fi; fi`,
    // df's output goes last, as it is (its last line is the file system): no subshell to prefix its lines
    ...(parts.disk ? [`echo ${DF_MARKER}; df -Pk "$d" 2>/dev/null`] : []),
  ].join('; ');
}

const DF_MARKER = 'df-follows';

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

/** Parses the probe's output; says what was missing when the output is not understood. */
export function parseProbeOutput(text: string, latencyMs: number, now = Date.now(), firstOutputAt?: number, earlier?: EarlierProbe): ProbeResult {
  return readProbe(text, latencyMs, now, firstOutputAt, earlier).result;
}

/** The result, and what the next probe of the host can reuse. */
function readProbe(text: string, latencyMs: number, now: number, firstOutputAt: number | undefined, earlier: EarlierProbe | undefined): { result: ProbeResult; next?: EarlierProbe } {
  const output = probeOutput(text);
  const result = readMetrics(output, latencyMs, now, firstOutputAt, earlier);
  if (result.state !== 'ok') return { result };
  const m = result.metrics;
  const stat1 = output.fields.get('stat1');
  return {
    result,
    next: {
      factsAt: output.ranDf || !earlier ? now : earlier.factsAt,
      clockSkewMs: m.clockSkewMs,
      diskPath: m.diskPath,
      diskUsedPct: m.diskUsedPct,
      diskAvailKb: m.diskAvailKb,
      ...(stat1 ? { stat: { line: stat1, at: now } } : {}),
    },
  };
}

/** The probe's `key=value` lines, and whether df ran (its output, after DF_MARKER, read as the `df` field). */
function probeOutput(text: string): { fields: Map<string, string>; ranDf: boolean } {
  const marker = text.search(new RegExp(`^${DF_MARKER}$`, 'm'));
  const f = fields(marker < 0 ? text : text.slice(0, marker));
  if (marker >= 0) {
    const dfLines = text.slice(marker + DF_MARKER.length).split('\n').filter((l) => l.trim() !== '');
    if (dfLines.length > 1) f.set('df', dfLines[dfLines.length - 1]!.trim());
  }
  return { fields: f, ranDf: marker >= 0 };
}

function readMetrics(output: { fields: Map<string, string>; ranDf: boolean }, latencyMs: number, now: number, firstOutputAt: number | undefined, earlier: EarlierProbe | undefined): ProbeResult {
  const f = output.fields;
  const os = f.get('os') ?? '';
  if (os !== 'Linux' && os !== 'Darwin') {
    return { state: 'cannot-measure', reason: `unsupported OS ${JSON.stringify(os || 'unknown')}: Flotilla measures Linux and macOS`, latencyMs };
  }
  // Number('') is 0: an absent field must read as "missing", never as a zero.
  const num = (v: string | undefined) => (v === undefined || v.trim() === '' ? NaN : Number(v));
  const cores = num(f.get('cores'));
  // macOS's sysctl vm.loadavg reads "{ 2.47 2.11 1.98 }"
  const [load1, load5, load15] = (f.get('loadavg') ?? '').replace(/[{}]/g, ' ').trim().split(/\s+/).map(num);
  const df = (f.get('df') ?? '').trim().split(/\s+/);
  // a probe that did not run df (probeParts) keeps the earlier probe's disk figures
  const keptDisk = !output.ranDf && !f.has('df') ? earlier : undefined;
  const diskAvailKb = keptDisk ? keptDisk.diskAvailKb : num(df[3]);
  const diskUsedPct = keptDisk ? keptDisk.diskUsedPct : num(df[4]?.replace('%', ''));
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
    // kern.boottime reads "{ sec = 1700000000, usec = 0 } Tue Nov 14 22:13:20 2023"
    uptimeSec = num(f.get('clock') ?? f.get('now')) - num(/sec = (\d+)/.exec(f.get('boottime') ?? '')?.[1]);
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
      // without a sample of its own, CPU busy is the share since the earlier probe's reading
      cpuBusy: f.has('stat2') ? cpuBusyFromStat(f.get('stat1'), f.get('stat2')) : cpuBusyFromStat(earlier?.stat?.line, f.get('stat1')),
      memTotalKb,
      memAvailableKb,
      diskPath: keptDisk ? keptDisk.diskPath : f.get('diskpath') ?? '',
      diskUsedPct,
      diskAvailKb,
      uptimeSec,
      measuredAt: now,
      latencyMs,
      ...(f.has('clock') || !earlier ? clockSkew(f.get('clock'), firstOutputAt) : earlier.clockSkewMs === undefined ? {} : { clockSkewMs: earlier.clockSkewMs }),
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
export async function probeHost(pool: Pool, alias: string, diskPath = '~', timeoutMs = PROBE_TIMEOUT_MS): Promise<ProbeResult> {
  return (await probeOnce(pool, alias, diskPath, timeoutMs, undefined)).result;
}

async function probeOnce(pool: Pool, alias: string, diskPath: string, timeoutMs: number, earlier: EarlierProbe | undefined): Promise<{ result: ProbeResult; next?: EarlierProbe }> {
  const t0 = Date.now();
  const parts = probeParts(earlier, t0);
  const script = probeScript(diskPath, parts);
  // A full probe (the clock, the disk) is a command in a session of its own: it also shows that the host still
  // starts sessions and login shells. The probes between full ones go to a shell kept on the connection.
  const ran = parts.clock ? await runAsCommand(pool, alias, script, timeoutMs) : await runInProbeShell(pool, alias, script, timeoutMs);
  if (!ran) return { result: { state: 'cannot-measure', reason: `probe did not finish within ${timeoutMs} ms`, latencyMs: Date.now() - t0 } };
  return readProbe(ran.out, Date.now() - t0, Date.now(), ran.firstOutputAt, earlier);
}

interface ProbeRun {
  out: string;
  firstOutputAt?: number;
}

const MAX_PROBE_OUTPUT = 65536;

/** The probe as the exec command of a channel of its own; undefined when it did not finish in time. */
async function runAsCommand(pool: Pool, alias: string, script: string, timeoutMs: number): Promise<ProbeRun | undefined> {
  const r = await runScript(pool, alias, script, { timeoutMs, maxOutputBytes: MAX_PROBE_OUTPUT });
  return r.timedOut ? undefined : { out: r.stdout.toString('utf8'), firstOutputAt: r.firstOutputAt };
}

/**
 * The pool's name for the shell the probes between full ones are written to (`/bin/sh -s`, parked on the
 * connection in between): the host starts no session, login shell or program for them, and no channel opens.
 */
export const PROBE_SHELL = 'health-probe-shell';

/** In the connection's kept probe shell (the probe sets a few variables and never exits: no subshell). */
function runInProbeShell(pool: Pool, alias: string, script: string, timeoutMs: number): Promise<ProbeRun | undefined> {
  return runInKeptShell(pool, alias, PROBE_SHELL, script, { timeoutMs, maxOutputBytes: MAX_PROBE_OUTPUT });
}

/**
 * A short-lived cache so placement and the health view share one measurement (default 30 s). Keyed by
 * host and disk path; concurrent requests for the same key share one probe.
 */
export class MetricsCache {
  private readonly entries = new Map<string, { at: number; result: ProbeResult }>();
  private readonly inflight = new Map<string, Promise<ProbeResult>>();
  /** Kept beyond the TTL: what the next probe of a host reuses (probeParts). */
  private readonly earlier = new Map<string, EarlierProbe>();
  constructor(public ttlMs = 30_000) {}
  private static key(alias: string, diskPath: string): string { return `${alias}\u0000${diskPath}`; }
  get(alias: string, now = Date.now(), diskPath = '~'): ProbeResult | undefined {
    const e = this.entries.get(MetricsCache.key(alias, diskPath));
    return e && now - e.at < this.ttlMs ? e.result : undefined;
  }
  set(alias: string, result: ProbeResult, now = Date.now(), diskPath = '~'): void {
    this.entries.set(MetricsCache.key(alias, diskPath), { at: now, result });
  }
  /** Forgets one host (all disk paths), or everything: its next probe reads everything again. */
  invalidate(alias?: string): void {
    for (const map of [this.entries, this.earlier]) {
      if (alias === undefined) map.clear();
      else for (const k of [...map.keys()]) if (k.startsWith(`${alias}\u0000`)) map.delete(k);
    }
  }
  async measure(pool: Pool, alias: string, diskPath = '~', opts: { maxAgeMs?: number } = {}): Promise<ProbeResult> {
    const key = MetricsCache.key(alias, diskPath);
    const e = this.entries.get(key);
    if (e && Date.now() - e.at < Math.min(this.ttlMs, opts.maxAgeMs ?? Infinity)) return e.result;
    const running = this.inflight.get(key);
    if (running) return running;
    const p = probeOnce(pool, alias, diskPath, PROBE_TIMEOUT_MS, this.earlier.get(key)).then(
      ({ result, next }) => {
        this.set(alias, result, Date.now(), diskPath);
        if (next) this.earlier.set(key, next);
        else this.earlier.delete(key);
        return result;
      },
    ).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }
}
