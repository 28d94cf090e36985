// Pool on the lab fleet: channel queueing under MaxSessions, push and run on a MaxSessions 1 host, keepalive on a frozen server, MaxStartups retries.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect as tcpConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveHost } from '../../src/core/config/sshConfig';
import { startJob } from '../../src/core/jobs/job';
import { RunStore } from '../../src/core/jobs/store';
import { push } from '../../src/core/push/push';
import { MAX_CONNECTIONS_PER_HOST } from '../../src/core/ssh/pool';
import { refusingPrompter } from '../../src/core/types';
import type { LabHost } from '../lab/types';
import { execOn as run, execOut, pgrep, startFleet, waitUntil, type TestFleet } from './fleet';

const canRunLab = process.getuid?.() === 0;

function block(alias: string, h: LabHost, identityFile: string, knownHosts: string, extra: string[] = []): string {
  return [
    `Host ${alias}`,
    `  HostName ${h.address}`,
    `  Port ${h.port}`,
    `  User ${h.user}`,
    `  IdentityFile ${identityFile}`,
    '  IdentitiesOnly yes',
    `  UserKnownHostsFile ${knownHosts}`,
    ...extra.map((l) => `  ${l}`),
  ].join('\n');
}

function logSize(file: string): number {
  return readFileSync(file).length;
}
function logSince(file: string, offset: number): string {
  return readFileSync(file).subarray(offset).toString();
}

describe.skipIf(!canRunLab)('pool on the lab fleet', () => {
  let fleet: TestFleet;
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown) => uncaught.push(e);
  const host = (alias: string) => fleet.lab.info.hosts.find((h) => h.alias === alias)!;

  beforeAll(async () => {
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    fleet = await startFleet({ hosts: 2 });
  });
  afterAll(async () => {
    await fleet?.stop();
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
  });
  afterEach(() => expect(uncaught).toEqual([]));

  it('runs 20 concurrent execs on one host through one connection, none refused', async () => {
    const pool = fleet.pool();
    const log = host('lab-1').sshdLog!;
    const before = logSize(log);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => run(pool, 'lab-1', `sleep 0.3; echo n${i}`)),
    );
    results.forEach((r, i) => {
      expect(r.code).toBe(0);
      expect(r.out.trim()).toBe(`n${i}`);
    });
    const added = logSince(log, before);
    expect(added.match(/Accepted publickey for flotilla/g)?.length).toBe(1);
    // sshd may still refuse a channel now and then (it frees a session slot late, "delay detach"): the
    // pool queues and retries, so no "Channel open failure" reaches a caller (every result above is exit 0).
    expect(pool.isConnected('lab-1')).toBe(true);
    await pool.dispose();
  });

  it('keeps the exit status for a caller that attaches its listeners late', async () => {
    const pool = fleet.pool();
    const { channel } = await pool.exec('lab-1', 'exit 7');
    await new Promise((r) => setTimeout(r, 300)); // the command has exited by now
    const code = await new Promise<number | null>((resolve) => {
      channel.on('exit', (c: number | null) => resolve(c));
      channel.resume();
    });
    expect(code).toBe(7);
    await pool.dispose();
  });

  it('reconfigure keeps a running command on its connection and connects anew for the next one', async () => {
    const pool = fleet.pool();
    const log = host('lab-1').sshdLog!;
    const before = logSize(log);
    const running = run(pool, 'lab-1', 'sleep 0.57; echo still-here');
    await waitUntil(() => pgrep('sleep 0.57').length > 0, 5000, 'the command to run on the host');
    pool.reconfigure({ connectTimeoutMs: 3000 });
    const next = await run(pool, 'lab-1', 'echo fresh');
    expect(next.out.trim()).toBe('fresh');
    const first = await running;
    expect(first).toMatchObject({ code: 0 });
    expect(first.out.trim()).toBe('still-here');
    expect(logSince(log, before).match(/Accepted publickey for flotilla/g)?.length).toBe(2);
    // The retired connection closes once its command is done; the new one stays for later use.
    expect(pool.isConnected('lab-1')).toBe(true);
    await pool.dispose();
  });

  it('serves 8 concurrent commands on a MaxSessions 1 host over a bounded number of connections', async () => {
    const pool = fleet.pool();
    const log = host('one-session').sshdLog!;
    const before = logSize(log);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => run(pool, 'one-session', `sleep 0.2; echo s${i}`)));
    results.forEach((r, i) => {
      expect(r.code).toBe(0);
      expect(r.out.trim()).toBe(`s${i}`);
    });
    // One channel per connection: after the first refusal the pool opens more connections (as a
    // ControlMaster client falls back to its own), never more than MAX_CONNECTIONS_PER_HOST; the rest queue.
    const logins = logSince(log, before).match(/Accepted publickey for flotilla/g)?.length ?? 0;
    expect(logins).toBeGreaterThanOrEqual(2);
    expect(logins).toBeLessThanOrEqual(MAX_CONNECTIONS_PER_HOST);
    await pool.dispose();
  });

  describe('push on a MaxSessions 1 host (it needs two channels at once: the lock and the transfer)', () => {
    let base: string;
    beforeAll(() => {
      base = mkdtempSync(join(tmpdir(), 'flotilla-one-session-'));
    });
    afterAll(() => rmSync(base, { recursive: true, force: true }));

    function tree(name: string, files: number): string {
      const dir = join(base, name);
      for (let i = 0; i < files; i++) {
        mkdirSync(join(dir, `d${i % 5}`), { recursive: true });
        writeFileSync(join(dir, `d${i % 5}`, `f${i}.txt`), `file ${i} of ${name}\n`);
      }
      return dir;
    }

    it('a first push and an update push complete, and the tree arrives', async () => {
      const pool = fleet.pool();
      const local = tree('proj', 40);
      const first = await push(pool, ['one-session'], local, '~/one-session-proj');
      expect(first.results!.map((r) => [r.state, r.reason])).toEqual([['ok', undefined]]);
      writeFileSync(join(local, 'd1', 'f1.txt'), 'changed\n');
      const update = await push(pool, ['one-session'], local, '~/one-session-proj');
      expect(update.results!.map((r) => [r.state, r.reason])).toEqual([['ok', undefined]]);
      expect(await execOut(pool, 'one-session', 'cat ~/one-session-proj/d1/f1.txt; find ~/one-session-proj -type f | wc -l'))
        .toEqual({ out: 'changed\n40\n', code: 0 });
      await pool.dispose();
    });

    it('a run after a push completes', async () => {
      const pool = fleet.pool();
      const local = tree('runproj', 10);
      const job = await startJob({ store: new RunStore(join(base, 'runs')), pool, connectTimeoutMs: 3000 }, {
        hosts: ['one-session'], command: 'cat d0/f0.txt', cwd: '~/one-session-run', pushFirst: local, origin: 'test',
      });
      const { doc, results } = await job.done;
      expect(doc.hosts.map((h) => h.state)).toEqual(['ok']);
      expect(results[0]!.stdout).toBe('file 0 of runproj\n');
      await pool.dispose();
    });
  });

  it('notices a frozen server through keepalive: the running command ends as lost, the next exec reconnects', async () => {
    const dir = fleet.dir;
    const config = join(dir, 'keepalive_config');
    writeFileSync(config, block('frozen', host('lab-1'), fleet.lab.info.identityFile, fleet.lab.info.knownHosts, [
      'ServerAliveInterval 1',
      'ServerAliveCountMax 2',
    ]) + '\n');
    const pool = fleet.pool({ resolve: (alias) => resolveHost(alias, { configFile: config }) });
    const { channel } = await pool.exec('frozen', 'echo $PPID; exec sleep 30');
    const ppid = await new Promise<number>((resolve) => channel.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
    expect(ppid).toBeGreaterThan(1);
    // $PPID is the per-connection sshd process that carries the session.
    expect(readFileSync(`/proc/${ppid}/cmdline`, 'utf8')).toMatch(/^sshd: flotilla/);
    let exitCode: number | null | undefined;
    channel.on('exit', (c: number | null) => (exitCode = c));
    const t0 = Date.now();
    process.kill(ppid, 'SIGSTOP');
    try {
      await new Promise<void>((resolve) => channel.once('close', () => resolve()));
      const waited = Date.now() - t0;
      // ServerAliveInterval 1 x CountMax 2 (+ the interval in which the first unanswered ping goes out).
      expect(waited).toBeLessThan(6_000);
      expect(exitCode).toBeUndefined(); // outcome unknown, never "exit 0"
      await new Promise((r) => setTimeout(r, 50));
      expect(pool.isConnected('frozen')).toBe(false);
      const again = await run(pool, 'frozen', 'echo again');
      expect(again).toMatchObject({ code: 0, out: 'again\n' });
    } finally {
      process.kill(ppid, 'SIGCONT');
      try { process.kill(ppid, 'SIGKILL'); } catch { /* gone */ }
    }
    await pool.dispose();
  });

  it('retries connections dropped by MaxStartups until the server has room again', async () => {
    const target = host('lab-2');
    const log = target.sshdLog!;
    // Occupy sshd's unauthenticated-connection table (MaxStartups 10:30:100): with 60 half-open
    // connections every new one is dropped with probability ~70 %. Dropped hogs get "Exceeded MaxStartups".
    const hogs: Socket[] = [];
    const openHog = () => new Promise<boolean>((resolve) => {
      const s = tcpConnect({ host: target.address, port: target.port });
      hogs.push(s);
      s.on('error', () => resolve(false));
      s.once('close', () => resolve(false));
      s.once('data', (d: Buffer) => resolve(d.toString().startsWith('SSH-')));
    });
    let held = 0;
    for (let round = 0; held < 60 && round < 40; round++) {
      held += (await Promise.all(Array.from({ length: 60 - held }, openHog))).filter(Boolean).length;
    }
    expect(held).toBe(60);
    const before = logSize(log);
    const config = join(fleet.dir, 'maxstartups_config');
    const aliases = Array.from({ length: 10 }, (_, i) => `ms-${i}`);
    writeFileSync(config, aliases.map((a) => block(a, target, fleet.lab.info.identityFile, fleet.lab.info.knownHosts)).join('\n\n') + '\n');
    const pool = fleet.pool({ resolve: (alias) => resolveHost(alias, { configFile: config }) });
    const releaser = setTimeout(() => hogs.forEach((s) => s.destroy()), 700);
    try {
      const results = await Promise.all(aliases.map((a) => run(pool, a, 'echo through')));
      for (const r of results) expect(r).toMatchObject({ code: 0, out: 'through\n' });
      expect(logSince(log, before)).toMatch(/past MaxStartups/);
    } finally {
      clearTimeout(releaser);
      hogs.forEach((s) => s.destroy());
    }
    await pool.dispose();
  });

  it('never asks anything for interactive:false and refuses an unknown key', async () => {
    const asked: string[] = [];
    const pool = fleet.pool({
      prompter: { ...refusingPrompter, confirmHostKey: async () => { asked.push('hostkey'); return true; } },
    });
    await expect(pool.connection('unknown-key', { interactive: false })).rejects.toMatchObject({ kind: 'hostkey-rejected' });
    expect(asked).toEqual([]);
    await pool.dispose();
  });
});
