import { describe, expect, it } from 'vitest';
import { HerdGuard, loadPressure, placeHost, type Candidate } from '../../src/core/balance/place';
import type { HostMetrics } from '../../src/core/health/metrics';
import type { HostHealth } from '../../src/core/health/probe';

function metrics(over: Partial<HostMetrics>): HostMetrics {
  return {
    os: 'linux', cores: 4, load1: 0.1, load5: 0.1, load15: 0.1, loadPerCore: 0.025, memTotalKb: 16_000_000, memAvailableKb: 12_000_000,
    diskPath: '/home/u', diskUsedPct: 40, diskAvailKb: 1, uptimeSec: 1, measuredAt: 0, latencyMs: 1, ...over,
  };
}
const online = (alias: string): HostHealth => ({ alias, state: 'online', layers: {}, checkedAt: 0 });
const host = (alias: string, m: Partial<HostMetrics>): Candidate => ({ alias, health: online(alias), probe: { state: 'ok', metrics: metrics(m) } });

describe('placeHost', () => {
  it('picks the lowest weighted score and explains why', () => {
    const d = placeHost([host('a', { load1: 3.5 }), host('b', { load1: 0.2 }), host('c', { load1: 1.0 })]);
    expect(d.chosen).toBe('b');
    const b = d.candidates.find((c) => c.host === 'b')!;
    expect(b.cpu).toBeCloseTo(loadPressure(0.05), 3);
    expect(b.mem).toBeCloseTo(0.25, 3);
    expect(b.disk).toBeCloseTo(0.4, 3);
    expect(b.score).toBeCloseTo(0.4 * b.cpu! + 0.3 * 0.25 + 0.3 * 0.4, 3);
    expect(d.candidates.map((c) => c.host)).toEqual(['a', 'b', 'c']);
    expect(d.explanation).toMatch(/^ +host +score/m);
    expect(d.explanation).toContain('b chosen: lowest score');
    expect(d.explanation).toContain('mostly CPU');
  });

  it('names every host it ties with (issue 19: it said "ties with lab-5" when three hosts tied)', () => {
    const d = placeHost([host('lab-4', {}), host('lab-5', {}), host('lab-6', {}), host('busy', { load1: 3 })]);
    expect(d.chosen).toBe('lab-4');
    expect(d.explanation).toContain('lab-4 chosen: ties with lab-5 and lab-6 and comes first');
  });

  it('weighs memory and disk, and normalises weights', () => {
    const cands = [host('a', { memAvailableKb: 1_000_000 }), host('b', { diskUsedPct: 90 }), host('c', { load1: 2 })];
    expect(placeHost(cands, { weights: { cpu: 0, mem: 1, disk: 0 } }).chosen).toBe('b');
    expect(placeHost(cands, { weights: { cpu: 0, mem: 0, disk: 5 } }).chosen).toBe('a');
    expect(placeHost(cands, { weights: { cpu: 10, mem: 0, disk: 0 } }).chosen).toBe('a');
  });

  it('blends the /proc/stat busy sample into cpu when present', () => {
    const d = placeHost([host('a', { load1: 0.1, cpuBusy: 0.9 }), host('b', { load1: 0.4, cpuBusy: 0 })], { busyBlend: 0.5 });
    expect(d.candidates[0]!.cpu).toBeCloseTo(0.5 * loadPressure(0.025) + 0.45, 3);
    expect(d.chosen).toBe('b');
  });

  it('excludes offline, unusable (auth failed, unknown key), unmeasurable and over-limit hosts with a reason', () => {
    const d = placeHost([
      { alias: 'dead', health: { alias: 'dead', state: 'offline', reason: 'connection refused', layers: {}, checkedAt: 0 } },
      { alias: 'auth', health: { alias: 'auth', state: 'unusable', reason: 'authentication failed: no key', layers: {}, checkedAt: 0 } },
      {
        alias: 'newkey',
        health: {
          alias: 'newkey', state: 'unusable', reason: 'host key unknown', layers: {}, checkedAt: 0,
          hostKey: { verdict: { kind: 'unknown' } as never, question: {} as never, blob: Buffer.alloc(0) },
        },
      },
      { alias: 'bsd', health: online('bsd'), probe: { state: 'cannot-measure', reason: 'unsupported OS "FreeBSD"', latencyMs: 1 } },
      host('hot', { load1: 30 }),
      host('full', { diskUsedPct: 99 }),
      host('small', { cores: 1 }),
      host('ok', { load1: 3 }),
    ], { hardLimits: { maxLoadPerCore: 4, maxDiskUsedPct: 98 }, require: { minCores: 2 } });
    expect(d.chosen).toBe('ok');
    const why = Object.fromEntries(d.candidates.map((c) => [c.host, c.excluded]));
    expect(why).toEqual({
      dead: 'offline: connection refused',
      auth: 'unusable: authentication failed: no key',
      newkey: 'unknown host key: review and trust it first',
      bsd: 'cannot measure: unsupported OS "FreeBSD"',
      hot: 'load 7.50 per core is above the limit 4',
      full: 'disk 99% used, above the limit 98%',
      small: 'needs 2 cores, has 1',
      ok: null,
    });
    expect(d.candidates.find((c) => c.host === 'dead')!.score).toBeNull();
    expect(d.explanation).toContain('ok chosen: the only eligible host');
  });

  it('chooses nothing, and says why, when every host is excluded', () => {
    const d = placeHost([{ alias: 'x', health: { alias: 'x', state: 'offline', reason: 'timeout', layers: {}, checkedAt: 0 } }]);
    expect(d.chosen).toBeUndefined();
    expect(d.explanation).toContain('No host chosen: all 1 candidates are excluded (x: offline: timeout)');
  });

  it('a degraded host whose only problem is high load is still scored (the limits judge it)', () => {
    const d = placeHost([{ alias: 'busy', health: { alias: 'busy', state: 'degraded', reason: 'high load', metrics: metrics({ load1: 9 }), layers: {}, checkedAt: 0 } }]);
    expect(d.chosen).toBe('busy');
  });
});

describe('HerdGuard', () => {
  it('spreads quick successive launches over equally loaded hosts', () => {
    const herd = new HerdGuard({ decayMs: 20_000 });
    const cands = ['a', 'b', 'c'].map((a) => host(a, { load1: 0.05, cores: 2 }));
    const t = 1_000_000;
    const chosen = [0, 300, 600].map((dt) => placeHost(cands, { herd, now: t + dt }).chosen);
    expect(new Set(chosen).size).toBe(3);
    const fourth = placeHost(cands, { herd, now: t + 900 });
    expect(fourth.chosen).toBe('a'); // the oldest choice has faded most
    expect(fourth.explanation).toMatch(/recent/);
  });

  it('fades linearly and forgets after decayMs', () => {
    const herd = new HerdGuard({ decayMs: 10_000 });
    herd.record('a', 0);
    expect(herd.extraTasks('a', 0)).toBe(1);
    expect(herd.extraTasks('a', 5000)).toBeCloseTo(0.5);
    expect(herd.extraTasks('a', 10_000)).toBe(0);
    expect(herd.extraTasks('b', 0)).toBe(0);
  });

  it('does not move a clearly better host for one recent launch elsewhere, and hard limits ignore herd load', () => {
    const herd = new HerdGuard();
    const cands = [host('idle', { load1: 0, cores: 16 }), host('busy', { load1: 3.9, cores: 1 })];
    expect(placeHost(cands, { herd, now: 0, hardLimits: { maxLoadPerCore: 4 } }).chosen).toBe('idle');
    expect(placeHost(cands, { herd, now: 10, hardLimits: { maxLoadPerCore: 4 } }).chosen).toBe('idle');
    const limited = placeHost([host('x', { load1: 3.9, cores: 1 })], { herd: new HerdGuard(), hardLimits: { maxLoadPerCore: 4 } });
    expect(limited.chosen).toBe('x');
  });

  it('survives a save and load (the CLI keeps it between processes)', () => {
    const a = new HerdGuard({ decayMs: 10_000 });
    a.record('x', 1000);
    const b = new HerdGuard({ decayMs: 10_000 });
    b.load(JSON.parse(JSON.stringify(a.toJSON(2000))), 2000);
    expect(b.extraTasks('x', 6000)).toBeCloseTo(0.5);
    b.load('garbage', 0);
  });
});
