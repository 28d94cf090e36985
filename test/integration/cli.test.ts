// The `flotilla` CLI (bundled like dist/cli.js, into a scratch dir) against a real sshd fleet:
// exit codes, --json shape, neutral human output, history/cat, argv quoting, SIGINT cancel, lost connection.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleCli, spawnCli, type CliResult } from './cliProcess';
import { pgrep, waitUntil as waitFor, startFleet, type TestFleet } from './fleet';

const canRunLab = process.getuid?.() === 0;

const ppidOf = (pid: string) => { const s = readFileSync(`/proc/${pid}/stat`, 'utf8'); return s.slice(s.lastIndexOf(')') + 2).split(' ')[1]!; };
const cmdlineOf = (pid: string) => { try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim(); } catch { return ''; } };

describe.skipIf(!canRunLab)('flotilla CLI on the lab fleet', () => {
  let fleet: TestFleet;
  let cli: string;
  let config: string;
  let historyDir: string;

  beforeAll(async () => {
    fleet = await startFleet({ hosts: 40 });
    cli = await bundleCli(fleet.dir);
    historyDir = join(fleet.dir, 'history');
    // Host * ConnectTimeout 2 first (first value wins), then extra aliases cloned from the lab's blocks.
    const original = readFileSync(fleet.lab.info.sshConfig, 'utf8');
    const blocks = new Map<string, string>();
    for (const part of original.split(/\n(?=Host )/)) {
      const m = /^Host (\S+)\n/.exec(part);
      if (m) blocks.set(m[1]!, part.slice(m[0].length));
    }
    const clones = { 'dead-2': 'dead', 'dead-3': 'dead', 'blackhole-2': 'blackhole', 'blackhole-3': 'blackhole', 'authfail-2': 'authfail', 'unknown-key-2': 'unknown-key' };
    let extra = '';
    for (const [alias, from] of Object.entries(clones)) extra += `Host ${alias}\n${blocks.get(from)!.replace(/\n*$/, '\n')}\n`;
    config = join(fleet.dir, 'cli.ssh_config');
    writeFileSync(config, `Host *\n  ConnectTimeout 2\n\n${extra}${original}`);
  });

  afterAll(async () => {
    await fleet?.stop();
  });

  function flotilla(args: string[], opts: { onSpawn?: (pid: number) => void } = {}): Promise<CliResult> {
    return spawnCli(cli, ['--ssh-config', config, '--history-dir', historyDir, ...args], { ...opts, env: { FLOTILLA_GROUPS: join(fleet.dir, 'none.yaml') } });
  }

  const BY_ADDRESS = 'set -- $SSH_CONNECTION; n=${3##*.}; if [ $((n % 7)) -eq 0 ]; then exit $((n % 5 + 1)); fi; echo ok-$n';
  const fifty = [
    ...Array.from({ length: 40 }, (_, i) => `lab-${i + 1}`),
    'dead', 'dead-2', 'dead-3', 'blackhole', 'blackhole-2', 'blackhole-3', 'authfail', 'authfail-2', 'unknown-key', 'unknown-key-2',
  ];

  it('50 hosts: --json shape, every state right, exit code 3, about one connect timeout', async () => {
    const r = await flotilla(['run', fifty.join(','), '--json', '--', BY_ADDRESS]);
    expect(r.code, r.stderr).toBe(3);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ state: 'done', origin: 'cli', command: BY_ADDRESS });
    expect(out.id).toMatch(/^\d{8}T\d{6}-[0-9a-f]{6}$/);
    expect(out.hosts).toHaveLength(50);
    for (const h of out.hosts) {
      for (const k of ['host', 'state', 'exit', 'signal', 'durationMs', 'stdout', 'stderr', 'truncated']) expect(h, `${h.host}.${k}`).toHaveProperty(k);
    }
    const state = Object.fromEntries(out.hosts.map((h: { host: string; state: string; exit: number | null }) => [h.host, `${h.state}${h.exit ? `:${h.exit}` : ''}`]));
    expect(state['lab-7']).toBe('failed:3');
    expect(state['lab-14']).toBe('failed:5');
    expect(state['lab-1']).toBe('ok');
    expect(['dead', 'dead-2', 'dead-3'].map((h) => state[h])).toEqual(['unreachable', 'unreachable', 'unreachable']);
    expect(['blackhole', 'blackhole-2', 'blackhole-3'].map((h) => state[h])).toEqual(['timeout', 'timeout', 'timeout']);
    expect(['authfail', 'authfail-2'].map((h) => state[h])).toEqual(['auth-failed', 'auth-failed']);
    expect(['unknown-key', 'unknown-key-2'].map((h) => state[h])).toEqual(['hostkey-rejected', 'hostkey-rejected']);
    expect(Object.values(state).filter((s) => s === 'ok')).toHaveLength(35);
    // the 2 s ConnectTimeout of the config, applied to all blackholes at once: the whole run took less than they took in sum
    const blackholeMs = out.hosts.filter((h: { host: string }) => h.host.startsWith('blackhole')).map((h: { durationMs: number }) => h.durationMs);
    for (const ms of blackholeMs) expect(ms).toBeGreaterThanOrEqual(1900);
    for (const ms of blackholeMs) expect(ms).toBeLessThan(2 * 2000);
    expect(out.durationMs).toBeLessThan(blackholeMs.reduce((a: number, b: number) => a + b, 0));

    const human = await flotilla(['run', fifty.join(','), '--', BY_ADDRESS]);
    expect(human.code).toBe(3);
    expect(human.stdout).toMatch(/^50 hosts: 35 ok, 5 failed, 3 timeout, 3 unreachable, 2 auth-failed, 2 hostkey-rejected · took .* · run /m);
    expect(human.stdout).toMatch(/^dead: +unreachable \(/m);
    expect(human.stdout).toMatch(/^lab-7: +failed \(exit 3\)/m);
  });

  it('exit codes: 0 all ok, 2 a command failed', async () => {
    expect((await flotilla(['run', 'lab-1,lab-2', '--', 'true'])).code).toBe(0);
    expect((await flotilla(['run', 'lab-1,lab-2', '--', 'exit 7'])).code).toBe(2);
  });

  it('hostile remote output is neutral in the human output', async () => {
    const evil = "printf 'a\\033]52;c;ZXZpbA==\\007b \\033]8;;http://evil/\\007link\\033]8;;\\007 \\033[2J\\033]0;title\\007\\r[lab-9] OK\\n\\302\\233 c1'";
    const r = await flotilla(['run', 'lab-2,lab-3,lab-4', '--', evil]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
    for (const line of r.stdout.split('\n').filter(Boolean)) {
      expect(line).toMatch(/^(\[lab-2 \+2\] |== lab-2,lab-3,lab-4 \(3 hosts\) ==$|lab-[234]: +ok |3 hosts: )/);
    }
    expect(r.stdout).not.toMatch(/^\[lab-9\]/m);
    const json = await flotilla(['run', 'lab-2', '--json', '--', evil]);
    expect(json.stdout.trimEnd()).not.toMatch(/[\x00-\x1f\x7f-\x9f]/);
    expect(JSON.parse(json.stdout).hosts[0].stdout).toContain('\x1b]52;c;ZXZpbA==\x07');
  });

  it('history and cat read the run store of --history-dir (the old name of --store)', async () => {
    const r = await flotilla(['run', 'lab-5,lab-6', '--json', '--', "printf 'out-%s\\n' $(hostname -I 2>/dev/null | wc -w); printf '\\033]52;c;eA==\\007err\\n' >&2; exit 4"]);
    expect(r.code).toBe(2);
    const id = JSON.parse(r.stdout).id as string;
    const hist = await flotilla(['history', '--json']);
    expect(hist.code).toBe(0);
    const runs = JSON.parse(hist.stdout).runs as Array<{ id: string; hosts: Array<{ host: string; state: string; exit: number; stdoutFile?: string }> }>;
    const mine = runs.find((x) => x.id === id)!;
    expect(mine.hosts.map((x) => [x.host, x.state, x.exit])).toEqual([['lab-5', 'failed', 4], ['lab-6', 'failed', 4]]);
    expect(mine.hosts[0]).not.toHaveProperty('stdout');
    const text = await flotilla(['history']);
    expect(text.stdout).toContain(id);
    // A prefix of the id works; it keeps most of the random part, since runs started in the same second
    // share the timestamp part (a 1-hex-digit prefix was ambiguous 1 time in 16, and cat rightly refused it).
    const cat = await flotilla(['cat', id.slice(0, -2), 'lab-6']);
    expect(cat.code).toBe(0);
    expect(cat.stdout).toMatch(/^out-/);
    expect(cat.stdout).toContain('err\n');
    expect(cat.stdout).not.toContain('\x1b');
    const raw = await flotilla(['cat', id, 'lab-6', '--raw']);
    expect(raw.stdout).toContain('\x1b]52;c;eA==\x07');
    const missing = await flotilla(['cat', id, 'lab-9']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no host "lab-9"/);
  });

  it('argv arrives byte-exact through the CLI on bash, dash, fish and tcsh', async () => {
    const hostile = ["it's", '$(id)', '`id`', 'a;b|c&d', 'new\nline', '!event', '\\', '*', '~', '${HOME}', 'tab\there', 'ünï ✓', '\x1b[2J', "'; rm -rf ~; echo '", '-n', ''];
    for (const shell of ['bash', 'dash', 'fish', 'tcsh']) {
      const r = await flotilla(['run', `shell-${shell}`, '--json', '--', 'printf', '%s\\0', ...hostile]);
      expect(r.code, `${shell}: ${r.stderr}`).toBe(0);
      expect(JSON.parse(r.stdout).hosts[0].stdout.split('\0').slice(0, -1), shell).toEqual(hostile);
      const seven = await flotilla(['run', `shell-${shell}`, '--json', '--', 'exit 7']);
      expect([seven.code, JSON.parse(seven.stdout).hosts[0].exit], shell).toEqual([2, 7]);
    }
  });

  it('SIGINT cancels: remote group stopped (root too), exit 4, run recorded', async () => {
    let pid = 0;
    const running = flotilla(['run', 'root-1,lab-8', '--json', '--', 'sleep 4761 & sleep 4761; wait'], { onSpawn: (p) => (pid = p) });
    await waitFor(() => pgrep('sleep 4761').length === 4, 10_000, 'sleep 4761 x4');
    process.kill(pid, 'SIGINT');
    const r = await running;
    expect(r.code).toBe(4);
    const out = JSON.parse(r.stdout);
    expect(out.hosts.map((h: { state: string; remoteStopped: boolean }) => [h.state, h.remoteStopped])).toEqual([['cancelled', true], ['cancelled', true]]);
    expect(pgrep('sleep 4761')).toEqual([]);
  });

  it('a connection lost mid-run is `lost` with exit code 3, never 0', async () => {
    const running = flotilla(['run', 'lab-9', '--json', '--', 'sleep 4762; echo done']);
    await waitFor(() => pgrep('sleep 4762').length === 1, 10_000, 'sleep 4762');
    const sleepPid = pgrep('sleep 4762')[0]!;
    try {
      const chain: string[] = [];
      for (let p = ppidOf(sleepPid); p !== '1' && p !== '0'; p = ppidOf(p)) {
        if (/^sshd: .*(\[priv\]|@notty)/.test(cmdlineOf(p))) chain.push(p);
        else if (chain.length) break;
      }
      expect(chain.length).toBeGreaterThan(0);
      for (const p of chain) {
        try { process.kill(Number(p), 'SIGKILL'); } catch { /* went with its parent */ }
      }
      const r = await running;
      expect(r.code).toBe(3);
      const h = JSON.parse(r.stdout).hosts[0];
      expect([h.state, h.exit, h.remoteStopped]).toEqual(['lost', null, false]);
    } finally {
      for (const p of pgrep('sleep 4762')) process.kill(Number(p), 'SIGKILL');
    }
  });

  it('hosts --status takes the ConnectTimeout of the config', async () => {
    const r = await flotilla(['hosts', '--status', '--json']);
    expect(r.code).toBe(3);
    const hosts = JSON.parse(r.stdout).hosts as Array<{ alias: string; state: string; layers: { ssh?: { ok: boolean; ms: number } } }>;
    const by = Object.fromEntries(hosts.map((h) => [h.alias, h.state]));
    expect(by['lab-3']).toBe('online');
    expect(by['dead']).toBe('offline');
    expect(by['blackhole-2']).toBe('offline');
    // the blackholes gave up at the config's 2 s, not at a default, and were waited for side by side
    const blackholes = hosts.filter((h) => h.alias.startsWith('blackhole')).map((h) => h.layers.ssh!);
    for (const ssh of blackholes) expect([ssh.ok, ssh.ms >= 1900 && ssh.ms < 4000]).toEqual([false, true]);
    expect(r.ms).toBeLessThan(blackholes.reduce((a, t) => a + t.ms, 0));
  });
});
