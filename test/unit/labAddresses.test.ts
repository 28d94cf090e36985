import { describe, expect, it } from 'vitest';
import { blocksFor, MAX_NORMAL_HOSTS, normalHostAddress, SPECIAL_OCTET } from '../lab/addresses';
import { mapLimited, settleLimited } from '../lab/limit';

describe('lab addresses', () => {
  it('keeps lab-1..200 in the first /24 and spills later hosts into the next ones, never onto a special octet', () => {
    expect(normalHostAddress('127.90.7', 1)).toBe('127.90.7.1');
    expect(normalHostAddress('127.90.7', 200)).toBe('127.90.7.200');
    expect(normalHostAddress('127.90.7', 201)).toBe('127.90.8.1');
    expect(normalHostAddress('127.90.7', 500)).toBe('127.90.9.100');
    const all = Array.from({ length: MAX_NORMAL_HOSTS }, (_, i) => normalHostAddress('127.90.7', i + 1));
    expect(new Set(all).size).toBe(MAX_NORMAL_HOSTS);
    const specials = Object.values(SPECIAL_OCTET).map((o) => `127.90.7.${o}`);
    expect(all.filter((a) => specials.includes(a))).toEqual([]);
    expect([blocksFor(3), blocksFor(200), blocksFor(201), blocksFor(500)]).toEqual([1, 1, 2, 3]);
  });
});

describe('lab concurrency limit', () => {
  it('keeps at most `limit` calls in flight, in input order, and reports every failure', async () => {
    let inFlight = 0;
    let peak = 0;
    const out = await mapLimited([...Array(20).keys()], 3, async (n) => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((r) => setTimeout(r, 2));
      inFlight--;
      return n * 2;
    });
    expect(out).toEqual([...Array(20).keys()].map((n) => n * 2));
    expect(peak).toBe(3);
    const settled = await settleLimited([1, 2, 3], 2, async (n) => { if (n === 2) throw new Error('two'); return n; });
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    await expect(mapLimited([1, 2], 2, async (n) => { if (n === 1) throw new Error('one'); return n; })).rejects.toThrow('one');
  });
});
