// startRun against a real sshd fleet: per-host outcomes on 50 hosts, cancel/timeout that really stop the
// remote process group (root on OpenSSH 9.2 refuses signals), quoting on four login shells, hostile and
// huge output, a connection lost mid-run. No mocks.
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveHost } from '../../src/core/config/sshConfig';
import { coalesce, prefixLines, sanitizeForView } from '../../src/core/exec/output';
import { DEFAULT_DISK_CAP, startRun, type HostResult, type RunSpec } from '../../src/core/exec/run';
import { countOutcomes, outcomeClass } from '../../src/core/jobs/outcome';
import type { Pool } from '../../src/core/ssh/pool';
import { pgrep, waitUntil as waitFor, startFleet, type TestFleet } from './fleet';

const canRunLab = process.getuid?.() === 0;

function ppidOf(pid: string): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]!;
}

function cmdlineOf(pid: string): string {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim(); } catch { return ''; }
}

/** ssh_config with `Host * ConnectTimeout 2` first, plus extra aliases cloned from existing blocks. */
function fleetConfig(fleet: TestFleet, clones: Record<string, string>, connectTimeout = 2): string {
  const original = readFileSync(fleet.lab.info.sshConfig, 'utf8');
  const blocks = new Map<string, string>();
  for (const part of original.split(/\n(?=Host )/)) {
    const m = /^Host (\S+)\n/.exec(part);
    if (m) blocks.set(m[1]!, part.slice(m[0].length));
  }
  let extra = '';
  for (const [alias, from] of Object.entries(clones)) {
    const body = blocks.get(from);
    if (!body) throw new Error(`no Host ${from} in the lab config`);
    extra += `Host ${alias}\n${body.replace(/\n*$/, '\n')}\n`;
  }
  const file = join(fleet.dir, `fleet-${Object.keys(clones).length}-${connectTimeout}.ssh_config`);
  writeFileSync(file, `Host *\n  ConnectTimeout ${connectTimeout}\n\n${extra}${original}`);
  return file;
}

/** Exit depends on the server address the session came in on: lab-7, -14, -21, ... fail with 7 % 5 + 1 etc. */
const BY_ADDRESS = 'set -- $SSH_CONNECTION; n=${3##*.}; if [ $((n % 7)) -eq 0 ]; then exit $((n % 5 + 1)); fi; echo ok-$n';

describe.skipIf(!canRunLab)('exec on the lab fleet', () => {
  let fleet: TestFleet;
  let pool: Pool;
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown) => uncaught.push(e);

  beforeAll(async () => {
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    fleet = await startFleet({ hosts: 40 });
    pool = fleet.pool();
  });

  afterAll(async () => {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
    await fleet?.stop();
    expect(uncaught).toEqual([]);
  });

  const run = (hosts: string[], spec: Omit<RunSpec, 'origin'>, p = pool) => startRun(hosts, { origin: 'test', ...spec }, p);

  it('reports every one of 50 hosts correctly, in about one connect timeout', async () => {
    const config = fleetConfig(fleet, {
      'dead-2': 'dead', 'dead-3': 'dead', 'blackhole-2': 'blackhole', 'blackhole-3': 'blackhole',
      'authfail-2': 'authfail', 'unknown-key-2': 'unknown-key',
    });
    const p = fleet.pool({ resolve: (alias) => resolveHost(alias, { configFile: config }), connectTimeoutMs: 10_000 });
    const labHosts = Array.from({ length: 40 }, (_, i) => `lab-${i + 1}`);
    const special = ['dead', 'dead-2', 'dead-3', 'blackhole', 'blackhole-2', 'blackhole-3', 'authfail', 'authfail-2', 'unknown-key', 'unknown-key-2'];
    const hosts = [...labHosts, ...special];
    expect(hosts).toHaveLength(50);
    const t0 = Date.now();
    const record = await run(hosts, { command: BY_ADDRESS }, p).done;
    const wall = Date.now() - t0;
    const by = new Map(record.results.map((r) => [r.host, r]));
    for (let n = 1; n <= 40; n++) {
      const r = by.get(`lab-${n}`)!;
      if (n % 7 === 0) expect([r.state, r.exit], `lab-${n}`).toEqual(['failed', (n % 5) + 1]);
      else expect([r.state, r.exit, r.stdout], `lab-${n}`).toEqual(['ok', 0, `ok-${n}\n`]);
    }
    for (const h of ['dead', 'dead-2', 'dead-3']) expect(by.get(h)!.state, h).toBe('unreachable');
    for (const h of ['blackhole', 'blackhole-2', 'blackhole-3']) expect(by.get(h)!.state, h).toBe('timeout');
    for (const h of ['authfail', 'authfail-2']) expect(by.get(h)!.state, h).toBe('auth-failed');
    for (const h of ['unknown-key', 'unknown-key-2']) expect(by.get(h)!.state, h).toBe('hostkey-rejected');
    for (const h of special) expect(by.get(h)!.reason, h).toBeTruthy();
    expect(countOutcomes(record.results.map((r) => r.state))).toEqual({ ok: 35, command: 5, transport: 10, cancelled: 0 });
    expect(wall).toBeLessThan(2 * 2000);
    expect(wall).toBeGreaterThanOrEqual(1900); // the black holes really waited for ConnectTimeout 2
    expect(outcomeClass('failed')).toBe('command');
  });

  describe('cancel and timeout stop the remote process group', () => {
    const cases = [
      { host: 'root-1', pty: false, n: 4711 },
      { host: 'lab-1', pty: false, n: 4712 },
      { host: 'root-1', pty: true, n: 4713 },
      { host: 'lab-1', pty: true, n: 4714 },
    ];
    for (const { host, pty, n } of cases) {
      for (const how of ['cancel', 'timeout'] as const) {
        const marker = `sleep ${how === 'cancel' ? n : n + 100}`;
        it(`${how}: ${host} ${pty ? 'with' : 'without'} a pty (${marker})`, async () => {
          // One channel per connection: the stop must not need a second slot, and must free the one it had.
          const p = fleet.pool({ maxChannelsPerConnection: 1 });
          // A background child in the same group, as real scripts have.
          const command = `${marker} & ${marker}; wait`;
          const ctl = run([host], { command, pty, timeoutMs: how === 'timeout' ? 2500 : 60_000, killGraceMs: 1000 }, p);
          await waitFor(() => pgrep(marker).length === 2, 10_000, `${marker} to start`);
          if (how === 'cancel') ctl.cancel(host);
          const t0 = Date.now();
          const record = await ctl.done;
          const r = record.results[0]!;
          expect(r.state).toBe(how === 'cancel' ? 'cancelled' : 'timeout');
          expect(r.remoteStopped).toBe(true);
          expect(Date.now() - t0).toBeLessThan(how === 'cancel' ? 6000 : 9000);
          await waitFor(() => pgrep(marker).length === 0, 3000, `${marker} to be gone`).catch(() => {});
          expect(pgrep(marker)).toEqual([]);
          const next = await run([host], { command: 'echo again' }, p).done;
          expect([next.results[0]!.state, next.results[0]!.stdout.replace(/\r/g, '')]).toEqual(['ok', 'again\n']);
          await p.dispose();
        });
      }
    }

    it('cancel of every host of a busy run, including one still queued behind a slot', async () => {
      const p = fleet.pool({ maxChannelsPerConnection: 1 });
      const ctl = run(['lab-2', 'lab-3', 'root-1'], { command: 'sleep 4799' }, p);
      await waitFor(() => pgrep('sleep 4799').length === 3, 10_000, 'sleep 4799 x3');
      ctl.cancel();
      const record = await ctl.done;
      expect(record.results.map((r) => [r.state, r.remoteStopped])).toEqual([['cancelled', true], ['cancelled', true], ['cancelled', true]]);
      expect(pgrep('sleep 4799')).toEqual([]);
      await p.dispose();
    });
  });

  describe('quoting: argv arrives byte-exact on every login shell', () => {
    const hostile = [
      "it's", '$(id)', '`id`', 'a;b|c&d', 'line1\nline2', '!event', '!!', '\\', '\\n', '*', '~', '~root', '${HOME}', '$HOME',
      'tab\there', 'ünïcödé ✓ 日本', '\x1b[31mred\x1b[0m\x1b]0;title\x07', "'; rm -rf ~; echo '", '-n', '', ' lead and trail ',
      '"double"', '%s %d', '#comment', 'a\rb', '{a,b}', '?', '>out', '\u2028',
    ];
    for (const shell of ['bash', 'dash', 'fish', 'tcsh']) {
      it(`shell-${shell}: ${hostile.length} hostile strings round-trip, exit 7 propagates`, async () => {
        const record = await run([`shell-${shell}`], { command: ['printf', '%s\\0', ...hostile] }).done;
        const r = record.results[0]!;
        expect(r.state).toBe('ok');
        expect(r.stdout.split('\0').slice(0, -1)).toEqual(hostile);
        const seven = await run([`shell-${shell}`], { command: 'echo before; exit 7' }).done;
        expect([seven.results[0]!.state, seven.results[0]!.exit]).toEqual(['failed', 7]);
        // A plain-ASCII script goes to /bin/sh in clear (no base64): same meaning on every login shell.
        const plain = await run([`shell-${shell}`], { command: 'x=$(echo "a  b" | tr -s " " _); echo "$x|$((6*7))|${HOME:+home}|{a,b}|#"; exit 7' }).done;
        expect([plain.results[0]!.stdout, plain.results[0]!.exit, plain.results[0]!.stderr]).toEqual(['a_b|42|home|{a,b}|#\n', 7, '']);
        const cwd = await run([`shell-${shell}`], { command: ['sh', '-c', 'pwd; printf %s "$X"'], cwd: '/tmp', env: { X: "it's $(id) !x" } }).done;
        expect(cwd.results[0]!.stdout).toBe("/tmp\nit's $(id) !x");
      });
    }
  });

  it('hostile output is neutral in prefixLines and coalesce', async () => {
    const evil = "printf 'a\\033]52;c;ZXZpbA==\\007b \\033]8;;http://evil/\\007link\\033]8;;\\007 \\033[2J\\033]0;title\\007\\r[lab-9] OK\\n'";
    const record = await run(['lab-2', 'lab-3'], { command: evil }).done;
    for (const r of record.results) expect(r.state).toBe('ok');
    const groups = coalesce(record.results.map((r) => ({ host: r.host, text: sanitizeForView(r.stdout) })));
    expect(groups).toHaveLength(1);
    const shown = prefixLines(groups[0]!.hosts.join(','), groups[0]!.text) + record.results.map((r) => prefixLines(r.host, r.stdout)).join('');
    expect(shown).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
    for (const line of shown.split('\n').filter(Boolean)) expect(line).toMatch(/^\[lab-2(,lab-3)?\] |^\[lab-3\] /);
    expect(shown).not.toMatch(/^\[lab-9\]/m);
  });

  it('1 GiB of output keeps memory bounded and the disk copy capped', async () => {
    const dir = join(fleet.dir, 'big');
    global.gc?.();
    const base = process.memoryUsage();
    let peakRss = base.rss;
    let peakHeap = base.heapUsed;
    const sample = setInterval(() => {
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakHeap = Math.max(peakHeap, m.heapUsed);
    }, 50);
    const t0 = Date.now();
    const record = await run(['lab-4'], { command: 'yes | head -c 1G', outputDir: dir }).done;
    clearInterval(sample);
    const r = record.results[0]!;
    console.log(`1 GiB: ${Date.now() - t0} ms, RSS +${((peakRss - base.rss) / 2 ** 20).toFixed(1)} MiB, heap +${((peakHeap - base.heapUsed) / 2 ** 20).toFixed(1)} MiB`);
    expect([r.state, r.exit]).toEqual(['ok', 0]);
    expect(r.stdoutBytes).toBe(2 ** 30);
    expect(r.truncated).toBe(true);
    expect(r.stdout.length).toBeLessThan(200 * 1024);
    expect(r.stdout).toMatch(/output truncated/);
    expect(peakRss - base.rss).toBeLessThan(100 * 2 ** 20);
    expect(peakHeap - base.heapUsed).toBeLessThan(100 * 2 ** 20);
    const size = statSync(r.stdoutFile!).size;
    expect(size).toBeGreaterThanOrEqual(DEFAULT_DISK_CAP);
    expect(size).toBeLessThan(DEFAULT_DISK_CAP + 200);
    expect(readFileSync(r.stdoutFile!, 'utf8').slice(-120)).toMatch(/output cut at/);
  }, 40_000);

  it('a connection lost mid-run is `lost`, never ok', async () => {
    const p = fleet.pool();
    const ctl = run(['lab-5'], { command: 'sleep 4750; echo done' }, p);
    await waitFor(() => pgrep('sleep 4750').length === 1, 10_000, 'sleep 4750');
    const sleepPid = pgrep('sleep 4750')[0]!;
    // Walk up to the per-connection sshd ("sshd: flotilla [priv]") and kill it and its session child.
    const chain: string[] = [];
    for (let pid = ppidOf(sleepPid); pid !== '1' && pid !== '0'; pid = ppidOf(pid)) {
      if (/^sshd: .*(\[priv\]|@notty)/.test(cmdlineOf(pid))) chain.push(pid);
      else if (chain.length) break;
    }
    expect(chain.length).toBeGreaterThan(0);
    for (const pid of chain) {
      try { process.kill(Number(pid), 'SIGKILL'); } catch { /* went with its parent */ }
    }
    const record = await ctl.done.finally(() => {
      // the orphaned command is ours to clean up (sshd would have HUPed it only with a pty)
      for (const pid of pgrep('sleep 4750')) process.kill(Number(pid), 'SIGKILL');
    });
    const r: HostResult = record.results[0]!;
    expect(r.state).toBe('lost');
    expect(r.exit).toBeUndefined();
    expect(r.remoteStopped).toBe(false);
    const again = await run(['lab-5'], { command: 'echo back' }, p).done;
    expect(again.results[0]!.state).toBe('ok');
    await p.dispose();
  });

  it('leaves no remote test processes behind', () => {
    const left = execFileSync('sh', ['-c', "ps -eo pid,args | grep -E 'sleep 47[0-9][0-9]|yes$' | grep -v grep || true"], { encoding: 'utf8' });
    expect(left.trim()).toBe('');
  });
});
