// The run store on a real file system: records by id and prefix, owners that died, cancel requests
// between processes, pruning, and the import of the old JSONL histories.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { importLegacyHistory } from '../../src/core/jobs/legacy';
import { ownerHere, RunNotFoundError, RunStore, type RunDoc } from '../../src/core/jobs/store';
import { parseDuration } from '../../src/core/duration';

function doc(id: string, over: Partial<RunDoc> = {}): RunDoc {
  return {
    version: 1, id, kind: 'run', state: 'done', origin: 'test', startedBy: 'me@here', owner: ownerHere(),
    startedAt: new Date().toISOString(), command: 'true', timeoutMs: 1000, hosts: [{ host: 'a', state: 'ok', exit: 0, durationMs: 5 }], ...over,
  };
}

describe('run store', () => {
  let root: string;
  let store: RunStore;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'flotilla-store-'));
    store = new RunStore(root);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('finds a run by id or unambiguous prefix, newest first in lists', async () => {
    await store.create(doc('20261201T100000-aaaaaa'));
    await store.create(doc('20261201T100001-bbbbbb'));
    await store.create(doc('20261201T100001-bbbccc'));
    expect((await store.find('20261201T100000')).id).toBe('20261201T100000-aaaaaa');
    await expect(store.find('20261201T100001-bbb')).rejects.toThrow(/ambiguous \(2 matches\)/);
    await expect(store.find('2027')).rejects.toThrow(RunNotFoundError);
    expect((await store.list()).runs.map((r) => r.id)).toEqual(['20261201T100001-bbbccc', '20261201T100001-bbbbbb', '20261201T100000-aaaaaa']);
    expect((await store.list({ hosts: ['b'] })).runs).toEqual([]);
  });

  it('a running record whose owner is gone reads as done, its unfinished hosts lost (and stays so)', async () => {
    const dead = { pid: 2 ** 22 + 12345, machine: ownerHere().machine };
    await store.create(doc('20261201T100000-aaaaaa', {
      state: 'running', owner: dead,
      hosts: [{ host: 'a', state: 'ok', exit: 0, durationMs: 5 }, { host: 'b', state: 'running', startedAt: new Date(Date.now() - 1000).toISOString() }, { host: 'c', state: 'pending' }],
    }));
    const read = (await store.read('20261201T100000-aaaaaa'))!;
    expect(read).toMatchObject({ state: 'done', ownerDied: true });
    expect(read.hosts.map((h) => [h.host, h.state, h.remoteStopped])).toEqual([['a', 'ok', undefined], ['b', 'lost', false], ['c', 'lost', false]]);
    expect(read.hosts[1]!.durationMs).toBeGreaterThanOrEqual(1000);
    expect(read.hosts[1]!.reason).toMatch(/ended before the host finished/);
    expect((await store.read('20261201T100000-aaaaaa'))!.finishedAt).toBe(read.finishedAt);
  });

  it('a live owner (this process) keeps its run running', async () => {
    await store.create(doc('20261201T100000-aaaaaa', { state: 'running', hosts: [{ host: 'a', state: 'pending' }] }));
    expect((await store.read('20261201T100000-aaaaaa'))!.state).toBe('running');
  });

  it('cancel requests reach the watcher, once each, with the host', async () => {
    await store.create(doc('20261201T100000-aaaaaa', { state: 'running' }));
    const got: Array<string | undefined> = [];
    let wake: () => void = () => {};
    const stop = store.watchCancels('20261201T100000-aaaaaa', (h) => { got.push(h); wake(); });
    const arrived = (n: number) => new Promise<void>((r) => { wake = () => { if (got.length >= n) r(); }; wake(); });
    await store.requestCancel('20261201T100000-aaaaaa', 'b');
    await arrived(1);
    await store.requestCancel('20261201T100000-aaaaaa');
    await arrived(2);
    stop();
    expect(got).toEqual(['b', undefined]);
  });

  it('prunes finished runs beyond the count and age limits, never a running one', async () => {
    const old = '20200101T000000-aaaaaa';
    await store.create(doc(old));
    await store.create(doc('20200101T000001-bbbbbb', { state: 'running' }));
    for (let i = 0; i < 3; i++) await store.create(doc(`20261201T10000${i}-cccccc`));
    const removed = await store.prune({ maxRuns: 2, maxAgeMs: 365 * 86_400_000 }, Date.UTC(2026, 11, 1, 12));
    expect(removed.sort()).toEqual([old, '20261201T100000-cccccc']);
    expect(await store.ids()).toEqual(['20261201T100002-cccccc', '20261201T100001-cccccc', '20200101T000001-bbbbbb']);
  });

  it('prunes the oldest finished runs once the store is bigger than maxBytes', async () => {
    for (let i = 0; i < 4; i++) {
      await store.create(doc(`20261201T10000${i}-dddddd`));
      writeFileSync(join(store.dirOf(`20261201T10000${i}-dddddd`), 'a.stdout'), Buffer.alloc(1000));
    }
    const removed = await store.prune({ maxBytes: 3000 }); // each run: 1000 bytes of output and its record
    expect(removed.sort()).toEqual(['20261201T100000-dddddd', '20261201T100001-dddddd']);
  });

  it('imports a legacy history.jsonl once, keeping output paths and mapping old origins', async () => {
    const legacy = { id: '20251101T010203-abcdef', startedAt: '2025-11-01T01:02:03Z', finishedAt: '2025-11-01T01:02:04Z', origin: 'palette', targets: ['a'], command: 'ls', timeoutMs: 300000,
      results: [{ host: 'a', state: 'failed', exit: 2, durationMs: 40, stdoutFile: '/old/a.stdout' }] };
    writeFileSync(join(root, 'history.jsonl'), `${JSON.stringify(legacy)}\nnot json\n`);
    expect(await importLegacyHistory(store, root)).toBe(1);
    expect(await importLegacyHistory(store, root)).toBe(0);
    expect(await store.find('20251101T010203-abcdef')).toMatchObject({ origin: 'extension', state: 'done', hosts: [{ host: 'a', state: 'failed', exit: 2, stdoutFile: '/old/a.stdout' }] });
  });
});

describe('durations', () => {
  it.each([['90', 90_000], ['90s', 90_000], ['500ms', 500], ['10m', 600_000], ['1h30m', 5_400_000], ['2d', 172_800_000], ['1.5s', 1500]])('%s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
  it.each(['', 'soon', '10 m', '1h30', 'm', '-5s'])('refuses %j', (text) => {
    expect(() => parseDuration(text, '--timeout')).toThrow(/--timeout .* is not a duration: write 90/);
  });
});
