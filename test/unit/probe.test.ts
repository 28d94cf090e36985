import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MetricsCache, parseProbeOutput, probeScript } from '../../src/core/health/metrics';

const LINUX = `os=Linux
diskpath=/home/flotilla
df=/dev/sda1 100000000 42000000 58000000 42% /
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
`;

// What the Darwin branch of the script prints on an Apple-silicon Mac (vm_stat pages, 16 KiB pages).
const DARWIN = `os=Darwin
diskpath=/Users/me
df=/dev/disk3s5 482797652 301234567 181563085 63% /System/Volumes/Data
cores=10
loadavg= 2.47 2.11 1.98 
MemTotal=16777216
vmstat_pagesize=16384
vm_free=10000
vm_inactive=200000
vm_speculative=5000
vm_purgeable=1000
boottime=1700000000
now=1700086400
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

describe('probeScript', () => {
  it('quotes the disk path and expands ~ on the remote side', () => {
    expect(probeScript('~')).toContain('d="$HOME";');
    expect(probeScript("~/my dir/it's")).toContain(`d="$HOME"/'my dir/it'\\''s';`);
    expect(probeScript('/srv/$(reboot)')).toContain(`d='/srv/$(reboot)';`);
  });

  // Every helper is reached through a PATH of logging wrappers, so the test sees each program the probe starts.
  for (const shell of ['dash', 'bash']) {
    it(`measures this Linux machine under ${shell}, starting only date, uname, df, getconf and sleep`, () => {
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
        expect(started).toEqual(['date', 'df', 'dirname', 'dirname', 'getconf', 'sleep', 'uname']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
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
