import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FULL_PROBE, MetricsCache, parseProbeOutput, probeParts, probeScript, SLOW_FACTS_MS, type EarlierProbe } from '../../src/core/health/metrics';
import { buildRemoteCommand } from '../../src/core/ssh/quote';

const LINUX = `clock=1700000000
diskpath=/home/flotilla
os=Linux
cores=4
loadavg=3.50 2.10 1.05 2/345 6789
MemTotal=16000000
MemFree=1000000
MemAvailable=4000000
Buffers=10000
Cached=2000000
uptime=12345.67
stat1=cpu  100 0 100 800 0 0 0 0 0 0
stat2=cpu  150 0 150 900 0 0 0 0 0 0
df-follows
Filesystem     1024-blocks     Used Available Capacity Mounted on
/dev/sda1 100000000 42000000 58000000 42% /
`;

// What the Darwin branch of the script prints on an Apple-silicon Mac (vm_stat pages, 16 KiB pages).
const DARWIN = `clock=1700086400
diskpath=/Users/me
os=Darwin
cores=10
loadavg={ 2.47 2.11 1.98 }
MemTotal=16777216
vmstat_pagesize=16384
vm_free=10000
vm_inactive=200000
vm_speculative=5000
vm_purgeable=1000
boottime={ sec = 1700000000, usec = 0 } Tue Nov 14 22:13:20 2023
df-follows
Filesystem   1024-blocks      Used Available Capacity  Mounted on
/dev/disk3s5   482797652 301234567 181563085    63%    /System/Volumes/Data
`;

describe('parseProbeOutput', () => {
  it('reads Linux: loadavg ÷ cores, MemAvailable, df, /proc/stat busy share', () => {
    const r = parseProbeOutput(LINUX, 12, 1000);
    expect(r.state).toBe('ok');
    if (r.state !== 'ok') return;
    expect(r.metrics).toMatchObject({
      os: 'linux', cores: 4, load1: 3.5, load5: 2.1, load15: 1.05, loadPerCore: 0.875,
      memTotalKb: 16000000, memAvailableKb: 4000000, diskPath: '/home/flotilla', diskUsedPct: 42, diskAvailKb: 58000000,
      uptimeSec: 12345.67, measuredAt: 1000, latencyMs: 12,
    });
    // 200 ticks elapsed, 100 idle → half busy
    expect(r.metrics.cpuBusy).toBeCloseTo(0.5);
  });

  it('falls back to free + buffers + cache on kernels without MemAvailable', () => {
    const r = parseProbeOutput(LINUX.replace(/^MemAvailable=.*\n/m, ''), 1);
    expect(r.state === 'ok' && r.metrics.memAvailableKb).toBe(1000000 + 10000 + 2000000);
  });

  it('reads macOS: sysctl loadavg with braces stripped, vm_stat pages × page size, boot time', () => {
    const r = parseProbeOutput(DARWIN, 30);
    expect(r.state).toBe('ok');
    if (r.state !== 'ok') return;
    expect(r.metrics).toMatchObject({ os: 'darwin', cores: 10, load1: 2.47, load5: 2.11, load15: 1.98, memTotalKb: 16777216, diskUsedPct: 63, uptimeSec: 86400 });
    expect(r.metrics.loadPerCore).toBeCloseTo(0.247);
    expect(r.metrics.memAvailableKb).toBe(((10000 + 200000 + 5000 + 1000) * 16384) / 1024);
    expect(r.metrics.cpuBusy).toBeUndefined();
  });

  it('says "cannot measure" for an unknown OS instead of reporting zeros', () => {
    const r = parseProbeOutput('os=FreeBSD\ndiskpath=/home/x\ndf=/dev/ada0 1 1 1 1% /\n', 5);
    expect(r).toEqual({ state: 'cannot-measure', reason: expect.stringContaining('unsupported OS "FreeBSD"'), latencyMs: 5 });
    const none = parseProbeOutput('', 5);
    expect(none.state).toBe('cannot-measure');
    expect(none.state === 'cannot-measure' && none.reason).toContain('"unknown"');
  });

  it('says what is missing when a Linux answer is incomplete', () => {
    const r = parseProbeOutput('os=Linux\ncores=2\nloadavg=0.1 0.1 0.1\n', 1);
    expect(r.state).toBe('cannot-measure');
    expect(r.state === 'cannot-measure' && r.reason).toMatch(/memTotalKb.*memAvailableKb.*diskUsedPct.*uptimeSec/);
    const zeroCores = parseProbeOutput(LINUX.replace('cores=4', 'cores=0'), 1);
    expect(zeroCores.state).toBe('cannot-measure');
  });
});

/** A /proc/stat total line as it read some ticks earlier (the busy and idle counters lower). */
const ticksBefore = (line: string) => line.split(/\s+/).map((v, i) => (i === 0 ? v : String(Math.max(0, Number(v) - 10)))).join(' ');

describe('probeScript', () => {
  it('travels in clear (no decoder on the host) unless the disk path needs quotes', () => {
    expect(buildRemoteCommand(probeScript('~'))).toBe(`exec /bin/sh -c '${probeScript('~')}'`);
    expect(buildRemoteCommand(probeScript('/srv/data'))).toBe(`exec /bin/sh -c '${probeScript('/srv/data')}'`);
    expect(buildRemoteCommand(probeScript('/srv/my data'))).toMatch(/^exec \/bin\/sh -c 'b=/);
  });

  it('quotes the disk path and expands ~ on the remote side', () => {
    expect(probeScript('~')).toContain('d="$HOME";');
    expect(probeScript("~/my dir/it's")).toContain(`d="$HOME"/'my dir/it'\\''s';`);
    expect(probeScript('/srv/$(reboot)')).toContain(`d='/srv/$(reboot)';`);
  });

  // Every helper is reached through a PATH of logging wrappers, so the test sees each program the probe starts.
  for (const shell of ['dash', 'bash']) {
    it(`measures this Linux machine under ${shell}, starting only date, df and sleep`, () => {
      const dir = mkdtempSync(join(tmpdir(), 'flotilla-probe-'));
      try {
        const log = join(dir, 'started.log');
        const tools = ['date', 'uname', 'df', 'getconf', 'nproc', 'sleep', 'dirname', 'cat', 'grep', 'tr', 'sed', 'cut', 'head', 'tail'];
        for (const tool of tools) {
          const real = execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
          writeFileSync(join(dir, tool), `#!/bin/sh\necho ${tool} >> '${log}'\nexec ${real} "$@"\n`);
          chmodSync(join(dir, tool), 0o755);
        }
        const shellPath = execFileSync('sh', ['-c', `command -v ${shell}`], { encoding: 'utf8' }).trim();
        const out = execFileSync(shellPath, ['-c', probeScript('~/not/there')], { encoding: 'utf8', env: { PATH: dir, HOME: tmpdir() } });
        const r = parseProbeOutput(out, 1, Date.now(), Date.now());
        expect(r.state, out).toBe('ok');
        if (r.state !== 'ok') return;
        expect(r.metrics).toMatchObject({ os: 'linux', diskPath: tmpdir() });
        expect(r.metrics.cores).toBeGreaterThan(0);
        expect(r.metrics.memAvailableKb).toBeLessThanOrEqual(r.metrics.memTotalKb);
        expect(r.metrics.cpuBusy).toBeGreaterThanOrEqual(0);
        expect(Math.abs(r.metrics.clockSkewMs!)).toBeLessThan(2000);
        const started = readFileSync(log, 'utf8').trim().split('\n').sort();
        expect(started).toEqual(['date', 'df', 'dirname', 'dirname', 'sleep']);
        // The next probe within SLOW_FACTS_MS starts no program: clock and disk are the earlier ones, CPU busy is since its reading.
        const now = Date.now();
        const earlier: EarlierProbe = {
          factsAt: now - 1000, clockSkewMs: r.metrics.clockSkewMs, diskPath: r.metrics.diskPath, diskUsedPct: r.metrics.diskUsedPct,
          diskAvailKb: r.metrics.diskAvailKb, stat: { line: ticksBefore(/^stat2=(.*)$/m.exec(out)![1]!), at: now - 5000 },
        };
        writeFileSync(log, '');
        const light = execFileSync(shellPath, ['-c', probeScript('~/not/there', probeParts(earlier, now))], { encoding: 'utf8', env: { PATH: dir, HOME: tmpdir() } });
        expect(readFileSync(log, 'utf8')).toBe('');
        const again = parseProbeOutput(light, 1, now, now, earlier);
        expect(again.state, light).toBe('ok');
        if (again.state !== 'ok') return;
        expect(again.metrics).toMatchObject({ diskPath: tmpdir(), diskUsedPct: r.metrics.diskUsedPct, clockSkewMs: r.metrics.clockSkewMs, cores: r.metrics.cores });
        expect(again.metrics.cpuBusy).toBeGreaterThanOrEqual(0);
        expect(r.metrics.cores).toBe(Number(execFileSync('getconf', ['_NPROCESSORS_ONLN'], { encoding: 'utf8' })));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('the probes between full ones', () => {
  const light = probeScript('~', { clock: false, disk: false, cpuSample: false });

  it('measure when written to /bin/sh -s on stdin as the probe shell gets them, sshd running it under each login shell', () => {
    const marker = 'probe-end-0123456789abcdef';
    for (const shell of ['/bin/bash', '/bin/dash', '/usr/bin/fish', '/usr/bin/tcsh'].filter((s) => existsSync(s))) {
      // two probes in one shell, as a parked shell gets them; the second one's output follows the first's marker
      const input = `{ ${light}; } </dev/null\necho ${marker}\n`.repeat(2);
      const out = execFileSync(shell, ['-c', 'exec /bin/sh -s'], { input, encoding: 'utf8', env: { PATH: '/usr/bin:/bin', HOME: tmpdir() } });
      const parts = out.split(`${marker}\n`);
      expect(parts, `${shell}: ${out}`).toHaveLength(3);
      for (const part of parts.slice(0, 2)) {
        const r = parseProbeOutput(part, 1, Date.now(), Date.now(), { factsAt: Date.now(), diskPath: '/', diskUsedPct: 1, diskAvailKb: 1 });
        expect(r.state, `${shell}: ${part}`).toBe('ok');
      }
    }
  });
});

describe('probeParts', () => {
  const now = 10_000_000;
  const earlier = (factsAge: number, statAge?: number): EarlierProbe => ({
    factsAt: now - factsAge, clockSkewMs: 120, diskPath: '/', diskUsedPct: 42, diskAvailKb: 1000,
    ...(statAge === undefined ? {} : { stat: { line: 'cpu 100 0 100 800 0 0 0 0 0 0', at: now - statAge } }),
  });

  it('reads everything the first time, and clock and disk again once they are SLOW_FACTS_MS old', () => {
    expect(probeParts(undefined, now)).toEqual(FULL_PROBE);
    expect(probeParts(earlier(1000, 30_000), now)).toEqual({ clock: false, disk: false, cpuSample: false });
    expect(probeParts(earlier(SLOW_FACTS_MS, 30_000), now)).toEqual({ clock: true, disk: true, cpuSample: false });
  });

  it('samples the CPU itself when the earlier reading is missing, under a second old or over ten minutes old', () => {
    expect(probeParts(earlier(1000), now).cpuSample).toBe(true);
    expect(probeParts(earlier(1000, 500), now).cpuSample).toBe(true);
    expect(probeParts(earlier(1000, 11 * 60_000), now).cpuSample).toBe(true);
  });

  it('a light probe keeps the earlier disk and clock and measures CPU busy since the earlier reading', () => {
    const light = LINUX.replace(/^clock=.*\n|^diskpath=.*\n|^stat2=.*\n|^df-follows\n[\s\S]*$/gm, '');
    expect(light).not.toMatch(/df|clock|stat2/);
    const r = parseProbeOutput(light, 3, now, now, earlier(1000, 30_000));
    expect(r.state).toBe('ok');
    if (r.state !== 'ok') return;
    expect(r.metrics).toMatchObject({ diskPath: '/', diskUsedPct: 42, diskAvailKb: 1000, clockSkewMs: 120, cores: 4 });
    // earlier cpu 100 0 100 800, now (stat1) 100 0 100 800: no ticks elapsed → no figure rather than a made-up one
    expect(r.metrics.cpuBusy).toBeUndefined();
    const moved = parseProbeOutput(light.replace(/^stat1=.*$/m, 'stat1=cpu 160 0 140 900 0 0 0 0 0 0'), 3, now, now, earlier(1000, 30_000));
    expect(moved.state === 'ok' && moved.metrics.cpuBusy).toBeCloseTo(0.5);
  });
});

describe('MetricsCache', () => {
  it('keeps a result for its TTL, per host and disk path', () => {
    const c = new MetricsCache(30_000);
    const r = parseProbeOutput(LINUX, 1);
    c.set('a', r, 1000);
    expect(c.get('a', 1000 + 29_999)).toBe(r);
    expect(c.get('a', 1000 + 30_000)).toBeUndefined();
    expect(c.get('a', 1000, '/srv')).toBeUndefined();
    c.invalidate('a');
    expect(c.get('a', 1000)).toBeUndefined();
  });
});
