// Least-loaded placement on the lab: faked /proc/loadavg and /proc/meminfo per sshd, the real probe path,
// live load changes, herd protection, and hosts that must never be chosen.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HerdGuard, measureCandidates, placeHost } from '../../src/core/balance/place';
import { startJob } from '../../src/core/jobs/job';
import { RunStore } from '../../src/core/jobs/store';
import { MetricsCache, PROBE_SHELL, probeHost } from '../../src/core/health/metrics';
import type { Pool } from '../../src/core/ssh/pool';
import { cliInProcess } from './cliInProcess';
import { countingChannels, parkedShellPid } from './countingPool';
import { execOn, startFleet, type TestFleet } from './fleet';

const canRunLab = process.getuid?.() === 0;
const GiB = 1024 * 1024;

describe.skipIf(!canRunLab)('least-loaded placement on the lab', () => {
  let fleet: TestFleet;
  let pool: Pool;
  const three = ['lab-1', 'lab-2', 'lab-3'];
  const measure = (aliases: readonly string[], metrics = new MetricsCache()) =>
    measureCandidates(pool, aliases, { metrics, connectTimeoutMs: 3000 });

  beforeAll(async () => {
    fleet = await startFleet({
      hosts: 3,
      load: { 'lab-1': 3.5, 'lab-2': 0.2, 'lab-3': 1.0, 'unknown-key': 0 },
      memAvailableKb: { 'lab-1': 2 * GiB, 'lab-2': 8 * GiB, 'lab-3': 6 * GiB, 'unknown-key': 20 * GiB },
    });
    pool = fleet.pool();
  });
  afterAll(async () => {
    await fleet?.stop();
  });

  it('the probe sees each host\'s faked loadavg and MemAvailable', async () => {
    const [one, two] = await Promise.all([probeHost(pool, 'lab-1'), probeHost(pool, 'lab-2')]);
    expect(one.state).toBe('ok');
    expect(two.state).toBe('ok');
    if (one.state !== 'ok' || two.state !== 'ok') return;
    expect(one.metrics.os).toBe('linux');
    expect(one.metrics.load1).toBe(3.5);
    expect(two.metrics.load1).toBe(0.2);
    expect(one.metrics.memAvailableKb).toBe(2 * GiB);
    expect(two.metrics.memAvailableKb).toBe(8 * GiB);
    expect(one.metrics.cores).toBeGreaterThan(0);
    expect(one.metrics.loadPerCore).toBeCloseTo(3.5 / one.metrics.cores);
    expect(one.metrics.memTotalKb).toBeGreaterThan(one.metrics.memAvailableKb);
    expect(one.metrics.diskUsedPct).toBeGreaterThanOrEqual(0);
    expect(one.metrics.cpuBusy).toBeGreaterThanOrEqual(0);
  });

  it('the probes after a full one go to a shell kept on the connection: on bash, dash, fish and tcsh accounts, no channel opens for them', async () => {
    const shells = ['shell-bash', 'shell-dash', 'shell-fish', 'shell-tcsh'];
    const { counting, opened, commands } = countingChannels(pool);
    const metrics = new MetricsCache(0);
    const first = await Promise.all(shells.map((h) => metrics.measure(counting, h)));
    // the first after the full probe starts the probe shell (exec /bin/sh -s); the third finds it parked
    const second = await Promise.all(shells.map((h) => metrics.measure(counting, h)));
    expect(commands.filter((c) => c === 'exec /bin/sh -s')).toHaveLength(shells.length);
    const before = { ...opened };
    const third = await Promise.all(shells.map((h) => metrics.measure(counting, h)));
    expect(opened).toEqual({ ...before, reused: before.reused + shells.length });
    for (const [i, h] of shells.entries()) {
      for (const r of [first[i]!, second[i]!, third[i]!]) expect(r.state, `${h}: ${r.state === 'cannot-measure' ? r.reason : ''}`).toBe('ok');
      const a = first[i]!, c = third[i]!;
      if (a.state !== 'ok' || c.state !== 'ok') continue;
      expect(c.metrics).toMatchObject({ cores: a.metrics.cores, memTotalKb: a.metrics.memTotalKb, diskPath: a.metrics.diskPath, diskUsedPct: a.metrics.diskUsedPct });
    }
  });

  it('a probe shell the host ended is replaced, and the probe measures', async () => {
    const metrics = new MetricsCache(0);
    await metrics.measure(pool, 'lab-3');
    await metrics.measure(pool, 'lab-3'); // parks lab-3's probe shell
    // the parked shell, killed on the host
    const pid = await parkedShellPid(pool, 'lab-3', PROBE_SHELL);
    expect((await execOn(pool, 'lab-3', `kill ${pid}`)).code).toBe(0);
    const { counting, commands } = countingChannels(pool);
    const r = await metrics.measure(counting, 'lab-3');
    expect(r.state, r.state === 'cannot-measure' ? r.reason : '').toBe('ok');
    expect(commands).toEqual(['exec /bin/sh -s']);
  });

  it('chooses the least-loaded host through the real probe path and explains it', async () => {
    const d = placeHost(await measure(three));
    expect(d.chosen).toBe('lab-2');
    expect(d.candidates.map((c) => c.excluded)).toEqual([null, null, null]);
    const score = (h: string) => d.candidates.find((c) => c.host === h)!.score!;
    expect(score('lab-2')).toBeLessThan(score('lab-3'));
    expect(score('lab-3')).toBeLessThan(score('lab-1'));
    expect(d.explanation).toContain('lab-2 chosen: lowest score');
  });

  it('follows the loads when they change live', async () => {
    await fleet.lab.setLoad('lab-2', 6, 1 * GiB);
    await fleet.lab.setLoad('lab-1', 0.1, 9 * GiB);
    try {
      const d = placeHost(await measure(three));
      expect(d.chosen).toBe('lab-1');
      expect(d.candidates.find((c) => c.host === 'lab-2')!.detail!.load1).toBe(6);
    } finally {
      await fleet.lab.setLoad('lab-1', 3.5, 2 * GiB);
      await fleet.lab.setLoad('lab-2', 0.2, 8 * GiB);
    }
    expect(placeHost(await measure(three)).chosen).toBe('lab-2');
  });

  it('with herd protection, 3 launches within a second land on 3 different hosts', async () => {
    // Nearly equal hosts; the loads differ in the 2nd decimal so each run's output names its host.
    const loads: Record<string, number> = { 'lab-1': 0.31, 'lab-2': 0.32, 'lab-3': 0.33 };
    for (const [alias, load] of Object.entries(loads)) await fleet.lab.setLoad(alias, load, 8 * GiB);
    try {
      const metrics = new MetricsCache();
      // The herd is shared through the run store, as it is between the CLI, the editor and agents.
      const store = new RunStore(mkdtempSync(join(tmpdir(), 'flotilla-herd-')));
      await measure(three, metrics); // warm connections and the shared cache, as the health view would
      const t0 = Date.now();
      const jobs = await Promise.all([0, 1, 2].map(() =>
        startJob({ store, pool, metrics, connectTimeoutMs: 3000 }, { hosts: three, command: 'cat /proc/loadavg', origin: 'test', leastLoaded: { herd: { decayMs: 20_000 } } })));
      const records = await Promise.all(jobs.map((j) => j.done));
      expect(Date.now() - t0).toBeLessThan(1500);
      const chosen = records.map((r) => r.doc.placement!.chosen);
      expect(new Set(chosen)).toEqual(new Set(three));
      const launches = records.map((r) => ({ decision: { explanation: r.doc.placement!.explanation } }));
      records.forEach((r, i) => {
        expect(r.results).toHaveLength(1);
        expect(r.results[0]!.state).toBe('ok');
        expect(r.results[0]!.host).toBe(chosen[i]);
        expect(r.results[0]!.stdout.startsWith(loads[chosen[i]!]!.toFixed(2))).toBe(true);
      });
      // the later decisions say why they did not take the idlest host
      expect(launches.some((l) => /recent/.test(l.decision.explanation))).toBe(true);
    } finally {
      await fleet.lab.setLoad('lab-1', 3.5, 2 * GiB);
      await fleet.lab.setLoad('lab-2', 0.2, 8 * GiB);
      await fleet.lab.setLoad('lab-3', 1.0, 6 * GiB);
    }
  });

  it('never chooses offline, black-holed, unknown-key or auth-failing hosts, and says why', async () => {
    const aliases = ['dead', 'blackhole', 'unknown-key', 'authfail', 'lab-1'];
    for (const a of aliases.slice(0, 4)) expect(fleet.lab.info.hosts.some((h) => h.alias === a)).toBe(true);
    const d = placeHost(await measure(aliases), { herd: new HerdGuard() });
    expect(d.chosen).toBe('lab-1'); // the busiest real host, yet the only eligible one
    const why = Object.fromEntries(d.candidates.map((c) => [c.host, c.excluded]));
    expect(why['dead']).toMatch(/^offline: .*refused/);
    expect(why['blackhole']).toMatch(/^offline: .*no SSH handshake .* within \d+ ms/);
    expect(why['unknown-key']).toBe('unknown host key: review and trust it first');
    expect(why['authfail']).toMatch(/^unusable: (authfail: )?authentication failed as flotilla-nokey/);
    expect(why['lab-1']).toBeNull();
    expect(d.explanation).toContain('lab-1 chosen: the only eligible host');

    const none = placeHost(await measure(['dead', 'unknown-key']));
    expect(none.chosen).toBeUndefined();
    expect(none.explanation).toMatch(/No host chosen: all 2 candidates are excluded/);
  });

  it('flotilla place --json: chosen and one row per candidate; the herd is shared with runs of other processes', async () => {
    const store = mkdtempSync(join(tmpdir(), 'flotilla-place-'));
    const cli = async (...args: string[]) => {
      const r = await cliInProcess(['--ssh-config', fleet.lab.info.sshConfig, '--groups', fleet.lab.info.groups, '--store', store, '--connect-timeout', '3', ...args]);
      return { code: r.code, out: r.stdout, err: r.stderr };
    };
    try {
      const r = await cli('place', 'lab-1,lab-2,lab-3,dead', '--json');
      expect(r.code, r.err).toBe(0);
      const out = JSON.parse(r.out) as { chosen: string; candidates: Array<Record<string, unknown>> };
      expect(Object.keys(out)).toEqual(['chosen', 'candidates', 'explanation']);
      expect(out.chosen).toBe('lab-2');
      expect(out.candidates.map((c) => c.host)).toEqual(['lab-1', 'lab-2', 'lab-3', 'dead']);
      for (const c of out.candidates) expect(Object.keys(c)).toEqual(['host', 'score', 'cpu', 'mem', 'disk', 'excluded']);
      const lab2 = out.candidates[1]!;
      expect(typeof lab2.score).toBe('number');
      expect(lab2.excluded).toBeNull();
      expect(out.candidates[3]).toMatchObject({ host: 'dead', score: null, cpu: null, mem: null, disk: null, excluded: expect.stringMatching(/^offline/) });

      // a least-loaded run records its choice in the store; the next placement (any process) weighs it
      await fleet.lab.setLoad('lab-3', 0.25, 8 * GiB);
      const run = await cli('run', 'lab-2,lab-3', '--least-loaded', '--json', '--', 'true');
      expect(run.code, run.err).toBe(0);
      expect(JSON.parse(run.out).placement.chosen).toBe('lab-2');
      const second = JSON.parse((await cli('place', 'lab-2,lab-3', '--json')).out) as { chosen: string; explanation: string };
      expect(second.chosen).toBe('lab-3');
      expect(second.explanation).toMatch(/recent/);

      const human = await cli('place', 'web');
      expect(human.out).toMatch(/host +score/);
      expect(human.out).toMatch(/chosen/);
    } finally {
      await fleet.lab.setLoad('lab-3', 1.0, 6 * GiB);
      rmSync(store, { recursive: true, force: true });
    }
  });
});
