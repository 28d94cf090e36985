// The core health monitor's schedule: probes only while subscribed, backoff for failing hosts, shared
// in-flight probes, per-host change events batched over the debounce. The probe itself is the lab's
// business (test/integration); here it is a function whose answers the test decides.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HealthMonitor } from '../../src/core/health/monitor';
import type { HostHealth } from '../../src/core/health/probe';
import type { Pool } from '../../src/core/ssh/pool';

const INTERVAL = 1000;

function setup(states: Record<string, HostHealth['state']>) {
  const probes: string[] = [];
  const probe = vi.fn(async (alias: string) => {
    probes.push(alias);
    return { alias, state: states[alias]!, layers: {}, checkedAt: Date.now() } satisfies HostHealth;
  });
  const monitor = new HealthMonitor({} as Pool, { connectTimeoutMs: 100, intervalMs: INTERVAL, maxBackoffMs: 4 * INTERVAL }, { probe, debounceMs: 10 });
  monitor.setHosts(Object.keys(states));
  return { monitor, probes, probe };
}

describe('HealthMonitor', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('probes nothing on its own until a consumer subscribes, and stops when the last one leaves', async () => {
    const { monitor, probes } = setup({ a: 'online', b: 'online' });
    await vi.advanceTimersByTimeAsync(5 * INTERVAL);
    expect(probes).toEqual([]);
    const off = monitor.subscribe();
    await vi.advanceTimersByTimeAsync(1);
    expect(probes.sort()).toEqual(['a', 'b']);
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(probes).toHaveLength(4);
    off();
    await vi.advanceTimersByTimeAsync(10 * INTERVAL);
    expect(probes).toHaveLength(4);
    monitor.dispose();
  });

  it('backs off a host that keeps failing (1, 2, 4, 4 intervals) while a healthy one keeps its interval', async () => {
    const { monitor, probes } = setup({ up: 'online', dead: 'offline' });
    monitor.subscribe();
    await vi.advanceTimersByTimeAsync(1);
    const deadAt: number[] = [];
    const t0 = Date.now();
    for (let i = 0; i < 12; i++) {
      const before = probes.filter((p) => p === 'dead').length;
      await vi.advanceTimersByTimeAsync(INTERVAL);
      if (probes.filter((p) => p === 'dead').length > before) deadAt.push(Math.round((Date.now() - t0) / INTERVAL));
    }
    expect(deadAt).toEqual([1, 3, 7, 11]);
    expect(probes.filter((p) => p === 'up')).toHaveLength(13);
    monitor.dispose();
  });

  it('shares a probe in flight and announces changes per host, batched', async () => {
    const { monitor, probe } = setup({ a: 'online', b: 'degraded' });
    const events: string[][] = [];
    monitor.onDidChange((aliases) => events.push([...aliases].sort()));
    const [x, y] = await Promise.all([monitor.check(['a']), monitor.check(['a'])]);
    expect(probe).toHaveBeenCalledTimes(1);
    expect(x[0]).toBe(y[0]);
    await vi.advanceTimersByTimeAsync(20);
    expect(events).toEqual([['a']]);
    expect(monitor.get('a')?.state).toBe('online');
    expect(monitor.snapshot().map((h) => h.state)).toEqual(['online', 'checking']);
    monitor.dispose();
  });

  it('forgets hosts that leave the fleet and ignores late results for them', async () => {
    const { monitor } = setup({ a: 'online', b: 'online' });
    const pending = monitor.check(['b']);
    monitor.setHosts(['a']);
    await pending;
    expect(monitor.get('b')).toBeUndefined();
    expect(monitor.snapshot().map((h) => h.alias)).toEqual(['a']);
    monitor.dispose();
  });
  describe('observe: what a run saw of a host, shown at once', () => {
    const seen = (alias: string, state: HostHealth['state'], reason?: string): HostHealth => ({ alias, state, reason, layers: {}, checkedAt: Date.now() });

    it('a failed connect turns a host shown online offline at once, announced, and the next probe runs when due', async () => {
      const { monitor, probes } = setup({ a: 'online', b: 'online' });
      const events: string[][] = [];
      monitor.onDidChange((aliases) => events.push([...aliases]));
      monitor.subscribe();
      await vi.advanceTimersByTimeAsync(20);
      expect(monitor.get('a')?.state).toBe('online');
      events.length = 0;
      const probed = probes.length;
      await vi.advanceTimersByTimeAsync(INTERVAL / 4);
      monitor.observe(seen('a', 'offline', 'connection refused'));
      expect(monitor.get('a')).toMatchObject({ state: 'offline', reason: 'connection refused' });
      expect(monitor.snapshot().map((h) => h.state)).toEqual(['offline', 'online']);
      await vi.advanceTimersByTimeAsync(20);
      expect(events).toEqual([['a']]);
      expect(probes).toHaveLength(probed); // no probe of its own
      await vi.advanceTimersByTimeAsync(INTERVAL);
      expect(probes.slice(probed).sort()).toEqual(['a', 'b']); // the schedule did not move
      expect(monitor.get('a')?.state).toBe('online'); // and the probe's answer is shown again
      monitor.dispose();
    });

    it('an authentication or host-key failure shows as unusable', async () => {
      const { monitor } = setup({ a: 'online' });
      await monitor.check(['a']);
      monitor.observe(seen('a', 'unusable', 'authentication failed'));
      expect(monitor.get('a')).toMatchObject({ state: 'unusable', reason: 'authentication failed' });
      monitor.dispose();
    });

    it('a successful connect corrects a host shown offline, but never replaces a probe that measured it', async () => {
      const { monitor } = setup({ down: 'offline', loaded: 'degraded' });
      await monitor.check(['down', 'loaded']);
      vi.advanceTimersByTime(5);
      monitor.observe(seen('down', 'online'));
      monitor.observe(seen('loaded', 'online'));
      expect(monitor.get('down')?.state).toBe('online');
      expect(monitor.get('loaded')?.state).toBe('degraded');
      monitor.dispose();
    });

    it('ignores results older than the one shown and hosts it does not watch', async () => {
      const { monitor } = setup({ a: 'online' });
      const old = seen('a', 'offline');
      vi.advanceTimersByTime(5);
      await monitor.check(['a']);
      monitor.observe(old);
      monitor.observe(seen('elsewhere', 'offline'));
      expect(monitor.get('a')?.state).toBe('online');
      expect(monitor.get('elsewhere')).toBeUndefined();
      monitor.dispose();
    });

    it('a probe that started before the run saw the failure does not hide it', async () => {
      let answer!: (h: HostHealth) => void;
      const probe = vi.fn((alias: string) => {
        const checkedAt = Date.now();
        return new Promise<HostHealth>((resolve) => { answer = (h) => resolve({ ...h, alias, checkedAt }); });
      });
      const monitor = new HealthMonitor({} as Pool, { connectTimeoutMs: 100, intervalMs: INTERVAL }, { probe, debounceMs: 10 });
      monitor.setHosts(['a']);
      const probing = monitor.check(['a']);
      vi.advanceTimersByTime(5);
      monitor.observe(seen('a', 'offline', 'connection refused'));
      answer({ alias: 'a', state: 'online', layers: {}, checkedAt: 0 });
      await probing;
      expect(monitor.get('a')?.state).toBe('offline');
      monitor.dispose();
    });
  });
});
