import { execFile } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { analyzeHost, groupAvailability, timeline } from '../../src/core/health/availability';
import { dayOf, DEFAULT_POLICY, HealthHistory } from '../../src/core/health/history';
import { healthOfConnect } from '../../src/core/health/probe';
import { asBucket, downsample, sampleOf, type HealthSample } from '../../src/core/health/record';
import type { ConnectFact } from '../../src/core/exec/run';
import { ConnectError } from '../../src/core/ssh/connect';

const DAY = 86_400_000;
const NOW = Date.parse('2026-11-20T12:00:00Z');

function sample(host: string, t: number, state: HealthSample['state'] = 'online', extra: Partial<HealthSample> = {}): HealthSample {
  return { k: 's', t, host, state, layer: state === 'online' ? 'metrics' : 'tcp', source: 'cli', ...extra };
}

let root: string;
beforeEach(() => { root = mkdtempSync(join(tmpdir(), 'flotilla-health-')); });
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('health history store', () => {
  it('keeps samples per host under <root>/health, one raw file per UTC day, read back in time order', async () => {
    const h = new HealthHistory(root);
    await h.record([sample('web-1', NOW - DAY), sample('web-2', NOW, 'offline', { reason: 'connection refused' })]);
    await h.record([sample('web-1', NOW - 1000)]);
    expect(readdirSync(join(root, 'health')).sort()).toEqual([`${dayOf(NOW - DAY)}.jsonl`, `${dayOf(NOW)}.jsonl`]);
    const { records, damagedLines } = await h.read({ since: NOW - 2 * DAY });
    expect(damagedLines).toBe(0);
    expect(records.map((r) => [r.host, r.t])).toEqual([['web-1', NOW - DAY], ['web-1', NOW - 1000], ['web-2', NOW]]);
    expect((await h.read({ since: NOW - 2000, hosts: ['web-1'] })).records).toHaveLength(1);
  });

  it('skips a damaged line (counted) and a last line still being written (not counted)', async () => {
    const h = new HealthHistory(root);
    await h.record([sample('a', NOW)]);
    const file = join(root, 'health', `${dayOf(NOW)}.jsonl`);
    appendFileSync(file, 'not json\n{"k":"s","t":1');
    const { records, damagedLines } = await h.read({ since: NOW - DAY });
    expect(records).toHaveLength(1);
    expect(damagedLines).toBe(1);
  });

  it('reading again picks up what was appended since, including a line that was half written before', async () => {
    const h = new HealthHistory(root);
    await h.record([sample('a', NOW - 3000)]);
    const file = join(root, 'health', `${dayOf(NOW)}.jsonl`);
    const line = JSON.stringify(sample('b', NOW - 2000)) + '\n';
    appendFileSync(file, line.slice(0, 20));
    expect((await h.read({ since: NOW - DAY })).records.map((r) => r.host)).toEqual(['a']);
    appendFileSync(file, line.slice(20));
    await h.record([sample('c', NOW - 1000)]);
    const again = await h.read({ since: NOW - DAY });
    expect(again.records.map((r) => r.host)).toEqual(['a', 'b', 'c']);
    expect(again.damagedLines).toBe(0);
    expect((await h.read({ since: NOW - DAY })).records).toHaveLength(3);
    rmSync(file);
    expect((await h.read({ since: NOW - DAY })).records).toEqual([]);
  });

  it('compacts old raw days into buckets, re-buckets past a week, deletes past retention', async () => {
    const h = new HealthHistory(root);
    const threeDaysAgo = Date.parse('2026-11-17T10:00:00Z');
    const samples: HealthSample[] = [];
    for (let i = 0; i < 60; i++) samples.push(sample('db', threeDaysAgo + i * 30_000, i % 10 === 0 ? 'offline' : 'online', i % 10 ? { rttMs: 1 + (i % 3) } : {}));
    await h.record([...samples, sample('db', NOW - 10 * DAY), sample('db', NOW - 40 * DAY), sample('db', NOW)]);
    const before = await h.read({ since: NOW - 8 * DAY, until: NOW - 2 * DAY });
    const result = await h.compact(NOW);
    expect(result.locked).toBeUndefined();
    expect(result.removedDays).toEqual([dayOf(NOW - 40 * DAY)]);
    expect(result.compactedDays.sort()).toEqual([dayOf(NOW - 10 * DAY), dayOf(threeDaysAgo)].sort());
    const files = readdirSync(join(root, 'health')).sort();
    expect(files).toEqual([`${dayOf(NOW - 10 * DAY)}.compact.jsonl`, `${dayOf(threeDaysAgo)}.compact.jsonl`, `${dayOf(NOW)}.jsonl`].sort());
    const after = (await h.read({ since: NOW - 8 * DAY, until: NOW - 2 * DAY })).records;
    // 30 minutes of 30 s samples -> three 10-minute buckets holding every sample
    expect(after).toHaveLength(3);
    expect(after.reduce((s, r) => s + asBucket(r).n, 0)).toBe(before.records.length);
    expect(after.reduce((s, r) => s + asBucket(r).down, 0)).toBe(6);
    const a = analyzeHost('db', before.records, NOW, NOW - 8 * DAY).availability.d7;
    expect(analyzeHost('db', after, NOW, NOW - 8 * DAY).availability.d7).toBeCloseTo(a!, 10);
    const old = (await h.read({ since: NOW - 11 * DAY, until: NOW - 9 * DAY })).records;
    expect(old.map((r) => r.k === 'b' && r.span)).toEqual([DEFAULT_POLICY.coarseSpanMs]);
    // a second compaction changes nothing
    expect((await h.compact(NOW)).compactedDays).toEqual([]);
  });

  it('finishes a compaction cut short between rename and removal, and merges lines appended late, without double counting', async () => {
    const h = new HealthHistory(root);
    const old = NOW - 3 * DAY;
    await h.record([sample('a', old), sample('a', old + 1000)]);
    const raw = join(root, 'health', `${dayOf(old)}.jsonl`);
    const saved = readFileSync(raw);
    await h.compact(NOW);
    writeFileSync(raw, saved); // as if the compactor died before removing it
    await h.compact(NOW);
    expect(readdirSync(join(root, 'health'))).not.toContain(`${dayOf(old)}.jsonl`);
    writeFileSync(raw, saved);
    await h.record([sample('a', old + 2000, 'offline')]); // a late writer
    expect((await h.read({ since: old - DAY, until: old + DAY })).records.reduce((s, r) => s + asBucket(r).n, 0)).toBe(3);
    await h.compact(NOW);
    const records = (await h.read({ since: old - DAY, until: old + DAY })).records;
    expect(records.reduce((s, r) => s + asBucket(r).n, 0)).toBe(3);
    expect(records.reduce((s, r) => s + asBucket(r).down, 0)).toBe(1);
  });

  it('a second compactor backs off while one holds the lock', async () => {
    const h = new HealthHistory(root);
    await h.record([sample('a', NOW - 3 * DAY)]);
    writeFileSync(join(root, 'health', 'compact.lock'), '1\n');
    expect((await h.compact(NOW)).locked).toBe(true);
  });

  it('several processes recording and compacting at once lose and duplicate nothing', async () => {
    const writers = 4;
    const perWriter = 300;
    const script = join(root, 'writer.ts');
    writeFileSync(script, `
      import { HealthHistory } from ${JSON.stringify(join(process.cwd(), 'src/core/health/history'))};
      const [root, id, n, now] = process.argv.slice(2);
      const h = new HealthHistory(root);
      const day = 86_400_000;
      const jobs = [];
      for (let i = 0; i < Number(n); i++) {
        // today's and yesterday's file, with compactions of the older days racing the other processes
        const t = i % 2 ? Number(now) - day + i : Number(now) - i;
        jobs.push(h.record([{ k: 's', t, host: 'w' + id, state: 'online', layer: 'metrics', reason: 'x'.repeat(i % 50), source: 'cli' }]));
        if (i % 60 === 0) jobs.push(h.compact(Number(now)));
      }
      void Promise.all(jobs).then(() => undefined, (err) => { console.error(err); process.exitCode = 1; });
    `);
    const seeded = new HealthHistory(root);
    await seeded.record(Array.from({ length: 200 }, (_, i) => sample('old', NOW - 3 * DAY - i * 1000)));
    const tsx = join(process.cwd(), 'node_modules/.bin/tsx');
    const run = promisify(execFile);
    await Promise.all(Array.from({ length: writers }, (_, i) => run(tsx, [script, root, String(i), String(perWriter), String(NOW)])));
    const h = new HealthHistory(root);
    const count = async () => {
      const { records, damagedLines } = await h.read({ since: NOW - 5 * DAY });
      expect(damagedLines).toBe(0);
      const perHost = new Map<string, number>();
      for (const r of records) perHost.set(r.host, (perHost.get(r.host) ?? 0) + asBucket(r).n);
      return Object.fromEntries(perHost);
    };
    const expected = { old: 200, ...Object.fromEntries(Array.from({ length: writers }, (_, i) => [`w${i}`, perWriter])) };
    expect(readdirSync(join(root, 'health'))).toContain(`${dayOf(NOW - 3 * DAY)}.compact.jsonl`);
    expect(await count()).toEqual(expected);
    await h.compact(NOW);
    expect(await count()).toEqual(expected);
  }, 30_000);
});

describe('downsampling and analysis', () => {
  it('downsampling is order independent and keeps counts and round-trip extremes', () => {
    const s = [sample('a', 1000, 'online', { rttMs: 2 }), sample('a', 2000, 'offline'), sample('a', 3000, 'online', { rttMs: 5 })];
    const one = downsample(s, 60_000);
    expect(downsample([...s].reverse(), 60_000)).toEqual(one);
    expect(one).toHaveLength(1);
    expect(one[0]).toMatchObject({ t: 0, span: 60_000, n: 3, up: 2, down: 1, state: 'online', rtt: { n: 2, sum: 7, min: 2, max: 5 } });
  });

  it('a host that went down and came back: last seen, availability, bands, flapping', () => {
    const start = NOW - 40 * 60_000;
    const records: HealthSample[] = [];
    for (let i = 0; i < 40; i++) records.push(sample('web', start + i * 60_000, i >= 10 && i < 20 ? 'offline' : 'online'));
    const h = analyzeHost('web', records, NOW);
    expect(h.availability.h1).toBeCloseTo(30 / 40);
    expect(h.lastSeenOnline).toBe(start + 39 * 60_000);
    expect(h.timeline.map((b) => b.condition)).toEqual(['up', 'down', 'up']);
    expect(h.timeline[1]).toEqual({ from: start + 10 * 60_000, to: start + 20 * 60_000, condition: 'down' });
    expect(h.changesLastHour).toBe(2);
    expect(h.flapping).toBe(false);
    const flappy = Array.from({ length: 10 }, (_, i) => sample('f', NOW - (10 - i) * 60_000, i % 2 ? 'offline' : 'online'));
    expect(analyzeHost('f', flappy, NOW).flapping).toBe(true);
    expect(groupAvailability([...records, ...flappy], ['web', 'f'], NOW).h1).toBeCloseTo((30 + 5) / 50);
  });

  it('a host never seen online has no last-seen; auth failure counts as down, high load as up-but-degraded', () => {
    const h = analyzeHost('x', [sample('x', NOW - 1000, 'unusable', { layer: 'auth' })], NOW);
    expect(h.lastSeenOnline).toBeUndefined();
    expect(h.availability.h1).toBe(0);
    expect(analyzeHost('y', [sample('y', NOW - 1000, 'degraded', { layer: 'metrics' })], NOW).availability.h1).toBe(1);
  });

  it('gaps without samples are not drawn as up', () => {
    const bands = timeline([asBucket(sample('a', NOW - 3 * 3_600_000)), asBucket(sample('a', NOW - 60_000))], NOW - DAY, NOW);
    expect(bands).toHaveLength(2);
    expect(bands[0]!.to - bands[0]!.from).toBe(5 * 60_000);
  });

  it('sampleOf records layer, reason, round trip and connect time of a probe, and nothing while checking', () => {
    expect(sampleOf({ alias: 'a', state: 'checking', layers: {}, checkedAt: 1 }, 'editor')).toBeUndefined();
    const s = sampleOf({
      alias: 'a', state: 'unusable', reason: 'authentication failed: \u001b[31mno\u001b[0m', checkedAt: 5,
      layers: { tcp: { ok: true, ms: 1 }, ssh: { ok: false, ms: 9, detail: 'x' } },
    }, 'cli');
    expect(s).toEqual({ k: 's', t: 5, host: 'a', state: 'unusable', layer: 'auth', reason: 'authentication failed: no', source: 'cli' });
    const ok = sampleOf({ alias: 'a', state: 'online', checkedAt: 5, layers: { tcp: { ok: true, ms: 1 }, ssh: { ok: true, ms: 30 }, rtt: { ok: true, ms: 0.4 }, metrics: { ok: true, ms: 300 } } }, 'editor');
    expect(ok).toMatchObject({ layer: 'metrics', rttMs: 0.4, connectMs: 30 });
  });

  it('a run\'s connect as a sample: up with its connect time (none on a warm connection), or down at the layer it failed', () => {
    const at = (fact: ConnectFact) => sampleOf(healthOfConnect('h', fact, 7), 'run');
    expect(at({ ok: true, ms: 42, warm: false })).toEqual({ k: 's', t: 7, host: 'h', state: 'online', layer: 'metrics', connectMs: 42, source: 'run' });
    expect(at({ ok: true, ms: 0, warm: true })).toEqual({ k: 's', t: 7, host: 'h', state: 'online', layer: 'metrics', source: 'run' });
    const refused = Object.assign(new ConnectError('unreachable', 'cannot connect to 10.0.0.9 port 22: ECONNREFUSED'), { tcp: true });
    expect(at({ ok: false, ms: 3, error: refused })).toMatchObject({ state: 'offline', layer: 'tcp', reason: 'cannot connect to 10.0.0.9 port 22: ECONNREFUSED' });
    expect(at({ ok: false, ms: 3000, error: new ConnectError('timeout', 'h: no SSH handshake from 10.0.0.9 port 22 within 3000 ms') })).toMatchObject({ state: 'offline', layer: 'ssh' });
    expect(at({ ok: false, ms: 9, error: new ConnectError('auth-failed', 'h: authentication failed as me') })).toMatchObject({ state: 'unusable', layer: 'auth', reason: 'h: authentication failed as me' });
  });
});
