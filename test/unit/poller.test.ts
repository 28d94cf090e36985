// The core poller (core/schedule/poller.ts) that the health monitor and the Agents view both schedule
// with: runs only while subscribed, backs off failing keys, shares work in flight, drops late results.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Poller } from '../../src/core/schedule/poller';

const INTERVAL = 1000;

function setup(failing: Set<string> = new Set()) {
  const runs: string[] = [];
  const results: Array<[string, string]> = [];
  let release: (() => void) | undefined;
  let hold = false;
  const poller = new Poller<string>({
    intervalMs: INTERVAL,
    maxBackoffMs: 4 * INTERVAL,
    work: async (key) => {
      runs.push(key);
      if (hold) await new Promise<void>((r) => (release = r));
      return failing.has(key) ? 'bad' : 'good';
    },
    onError: () => 'bad',
    failed: (r) => r === 'bad',
    onResult: (key, r) => results.push([key, r]),
  });
  return { poller, runs, results, holdNext: () => (hold = true), release: () => { hold = false; release?.(); } };
}

describe('Poller', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('runs nothing until subscribed, then every interval, and nothing once the last consumer leaves', async () => {
    const { poller, runs } = setup();
    poller.setKeys(['a']);
    await vi.advanceTimersByTimeAsync(3 * INTERVAL);
    expect(runs).toEqual([]);
    const one = poller.subscribe();
    const two = poller.subscribe();
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toEqual(['a']);
    await vi.advanceTimersByTimeAsync(2 * INTERVAL);
    expect(runs).toHaveLength(3);
    one();
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(runs).toHaveLength(4);
    two();
    two();
    await vi.advanceTimersByTimeAsync(5 * INTERVAL);
    expect(runs).toHaveLength(4);
    poller.dispose();
  });

  it('backs off a failing key (1, 2, 4, 4 intervals) and forgets its failures on reset', async () => {
    const { poller, runs } = setup(new Set(['dead']));
    poller.setKeys(['dead']);
    poller.subscribe();
    await vi.advanceTimersByTimeAsync(1);
    const t0 = Date.now();
    const at: number[] = [];
    for (let i = 0; i < 12; i++) {
      const before = runs.length;
      await vi.advanceTimersByTimeAsync(INTERVAL);
      if (runs.length > before) at.push(Math.round((Date.now() - t0) / INTERVAL));
    }
    expect(at).toEqual([1, 3, 7, 11]);
    poller.reset('dead');
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toHaveLength(6);
    poller.dispose();
  });

  it('shares work in flight and drops the result of a key no longer watched', async () => {
    const { poller, runs, results, holdNext, release } = setup();
    poller.setKeys(['a', 'b']);
    holdNext();
    const first = poller.run('a');
    const second = poller.run('a');
    expect(second).toBe(first);
    poller.setKeys(['b']);
    release();
    expect(await first).toBe('good');
    expect(runs).toEqual(['a']);
    expect(results).toEqual([]);
    await poller.run('b');
    expect(results).toEqual([['b', 'good']]);
    poller.dispose();
  });

  it('paces a big key set: with maxRunsPerSecond each key waits keys ÷ pace, a small set keeps the interval', async () => {
    const runs: string[] = [];
    const poller = new Poller<string>({
      intervalMs: INTERVAL,
      maxRunsPerSecond: 10,
      work: async (key) => { runs.push(key); return 'good'; },
      onError: () => 'bad',
      failed: (r) => r === 'bad',
      onResult: () => {},
    });
    const keys = Array.from({ length: 50 }, (_, i) => `h${i}`);
    poller.setKeys(keys.slice(0, 5));
    expect(poller.periodMs).toBe(INTERVAL);
    poller.setKeys(keys);
    expect(poller.periodMs).toBe(5 * INTERVAL);
    expect(poller.waitAfter(3)).toBe(20 * INTERVAL);
    const off = poller.subscribe();
    await vi.advanceTimersByTimeAsync(1);
    expect(runs.length).toBe(50);
    await vi.advanceTimersByTimeAsync(5 * INTERVAL - 10);
    expect(runs.length).toBe(50);
    await vi.advanceTimersByTimeAsync(20);
    expect(runs.length).toBe(100);
    // Over a minute, 10 runs a second on average (the first round at once included).
    await vi.advanceTimersByTimeAsync(60 * 1000);
    expect(runs.length).toBeLessThanOrEqual(50 + 60 * 10 + 50);
    off();
    poller.dispose();
  });
});
