// The CLI contract that scripts and AI agents rely on, on real lab hosts: every byte through slow pipes,
// quiet ends on closed pipes, dry runs that touch nothing, stdin EOF, concurrent writers of one run
// store, runs controlled from other processes, --file, dead owners, and local errors for bad input.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleCli, spawnCli, type CliResult } from './cliProcess';
import { pgrep, startFleet, waitUntil, type TestFleet } from './fleet';

const canRunLab = process.getuid?.() === 0;

describe.skipIf(!canRunLab)('flotilla CLI contract', () => {
  let fleet: TestFleet;
  let cli: string;
  let store: string;
  let base: string[];

  beforeAll(async () => {
    fleet = await startFleet({ hosts: 3 });
    cli = await bundleCli(fleet.dir);
    store = join(fleet.dir, 'store');
    const info = fleet.lab.info;
    // The encrypted key's host, for the prompt test.
    const config = join(fleet.dir, 'contract.ssh_config');
    const lab1 = info.hosts.find((h) => h.alias === 'lab-1')!;
    writeFileSync(config, `Host locked\n  HostName ${lab1.address}\n  Port ${lab1.port}\n  User flotilla\n  IdentityAgent none\n  IdentityFile ${info.encryptedIdentityFile}\n  IdentitiesOnly yes\n  UserKnownHostsFile ${info.knownHosts}\n\n${readFileSync(info.sshConfig, 'utf8')}`);
    const groups = join(fleet.dir, 'contract.groups.yaml');
    writeFileSync(groups, 'groups:\n  pair: [lab-1, lab-2]\n  broken: [lab-1, "-oProxyCommand=touch /tmp/pwned", "a;b"]\n');
    base = ['--ssh-config', config, '--groups', groups, '--store', store];
  });

  afterAll(async () => {
    await fleet?.stop();
  });

  const flotilla = (args: string[], opts: Parameters<typeof spawnCli>[2] = {}): Promise<CliResult> => spawnCli(cli, [...base, ...args], opts);
  /** The CLI inside bash, for pipelines: `"${F[@]}"` is the CLI with the test's global flags. */
  const shell = (script: string): Promise<CliResult> => {
    const t0 = Date.now();
    return new Promise((resolve) => {
      const array = `F=(${[process.execPath, cli, ...base].map((a) => `'${a}'`).join(' ')})\n`;
      const child = spawn('bash', ['-c', array + script], { env: { ...process.env, SSH_AUTH_SOCK: '' } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 }));
    });
  };
  const onHost = (alias: string, path: string) => join(fleet.lab.info.hosts.find((h) => h.alias === alias)!.isolatedHome!, '..', path);

  it('2 hosts × 300 KB through a reader that waits 0.5 s: complete valid JSON, every byte of cat', async () => {
    const r = await shell(`"\${F[@]}" run pair --json -- 'head -c 300000 /dev/zero | tr "\\0" x' | (sleep 0.5; cat)`);
    const out = JSON.parse(r.stdout);
    expect(out.hosts.map((h: { stdoutBytes: number; truncated: boolean }) => [h.stdoutBytes, h.truncated])).toEqual([[300000, true], [300000, true]]);
    expect(out.hosts[0].fullOutput).toBe(`flotilla cat ${out.id} lab-1`);
    const file = join(fleet.dir, 'cat-to-file');
    const toFile = await shell(`"\${F[@]}" cat ${out.id} lab-1 > '${file}'`);
    expect(toFile.stderr).toBe('');
    const slow = await shell(`"\${F[@]}" cat ${out.id} lab-1 | (sleep 0.5; wc -c)`);
    expect(readFileSync(file).length).toBe(300000);
    expect(slow.stdout.trim()).toBe('300000');
  });

  it('a closed pipe (| head -1) ends the CLI quietly with status 0', async () => {
    const r = await shell(`"\${F[@]}" run lab-1 -- 'seq 1 200000' | head -1; echo "status=\${PIPESTATUS[0]}"`);
    expect(r.stdout).toMatch(/status=(0|141)\n$/);
    expect(r.stderr).not.toMatch(/EPIPE|Error|at /);
    const cat = await shell(`"\${F[@]}" history --limit 1 --json | head -c 10 >/dev/null; echo "status=\${PIPESTATUS[0]}"`);
    expect(cat.stdout).toMatch(/status=(0|141)/);
  });

  it('--dry-run shows targets and the exact command and contacts nothing', async () => {
    const marker = '/tmp/flotilla-dry-run-marker';
    const r = await flotilla(['run', 'pair', '--dry-run', '--json', '--timeout', '1h30m', '--', `touch ${marker}`]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ dryRun: true, hosts: ['lab-1', 'lab-2'], command: `touch ${marker}`, timeoutMs: 5_400_000 });
    expect(out.remoteCommand).toMatch(/^exec \/bin\/sh -c /);
    expect(existsSync(onHost('lab-1', marker))).toBe(false);
    expect(existsSync(onHost('lab-2', marker))).toBe(false);
    // nothing recorded either
    expect((await flotilla(['history', '--json'])).stdout).not.toContain(marker);
    const send = await flotilla(['agents', 'send', 'lab-1:nope,lab-2:nope', 'rm -rf ~', '--dry-run']);
    expect(send.code).toBe(0);
    expect(send.stdout).toMatch(/would type "rm -rf ~" and Enter into:\n {2}lab-1:nope\n {2}lab-2:nope/);
    const pull = await flotilla(['pull', 'lab-1', '/etc/hostname', join(fleet.dir, 'pulled'), '--dry-run', '--json']);
    expect(JSON.parse(pull.stdout).hosts[0]).toMatchObject({ host: 'lab-1', state: 'ok', files: ['hostname'] });
    expect(existsSync(join(fleet.dir, 'pulled'))).toBe(false);
  });

  it('remote stdin gets EOF (cat ends at once); --stdin passes ours through', async () => {
    const r = await flotilla(['run', 'lab-1', '--timeout', '30s', '--json', '--', 'cat; echo end']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).hosts[0]).toMatchObject({ state: 'ok', stdout: 'end\n' });
    const piped = await flotilla(['run', 'pair', '--stdin', '--json', '--', 'tr a-z A-Z'], { stdin: 'hello fleet\n' });
    expect(JSON.parse(piped.stdout).hosts.map((h: { stdout: string }) => h.stdout)).toEqual(['HELLO FLEET\n', 'HELLO FLEET\n']);
  });

  it('four processes making 8 runs each at once leave 32 readable records', async () => {
    const before = (JSON.parse((await flotilla(['history', '--limit', '1000', '--json'])).stdout).runs as unknown[]).length;
    const script = Array.from({ length: 4 }, (_, p) =>
      `( for i in 1 2 3 4 5 6 7 8; do "\${F[@]}" run lab-$(( ${p} % 3 + 1 )) -- 'echo p${p}-'$i >/dev/null 2>&1 || echo fail; done ) &`).join('\n') + '\nwait';
    const r = await shell(script);
    expect(r.stdout).toBe('');
    const hist = JSON.parse((await flotilla(['history', '--limit', '1000', '--json'])).stdout) as { runs: Array<{ command: string; state: string }>; damaged: string[] };
    expect(hist.damaged).toEqual([]);
    expect(hist.runs.length - before).toBe(32);
    const mine = hist.runs.filter((x) => /^echo p\d-\d$/.test(x.command));
    expect(new Set(mine.map((x) => x.command)).size).toBe(32);
    expect(mine.every((x) => x.state === 'done')).toBe(true);
  });

  it('--detach → status running → cat so far → cancel from another process → cancelled, nothing left on the host', async () => {
    const d = await flotilla(['run', 'lab-2', '--detach', '--', 'i=0; while [ $i -lt 600 ]; do echo tick-$i; i=$((i+1)); sleep 4763.1 & wait; done']);
    expect(d.code, d.stderr).toBe(0);
    const id = d.stdout.trim();
    expect(id).toMatch(/^\d{8}T\d{6}-[0-9a-f]{6}$/);
    expect(d.ms).toBeLessThan(5000);
    await waitUntil(() => pgrep('sleep 4763.1').length === 1, 10_000, 'the detached run to start');
    const status = JSON.parse((await flotilla(['status', id, '--json'])).stdout);
    expect(status).toMatchObject({ id, state: 'running', origin: 'cli', hosts: [{ host: 'lab-2', state: 'running' }] });
    expect(status.startedBy).toMatch(/^[^@]+@.+/);
    const cat = await flotilla(['cat', id, 'lab-2']);
    expect(cat.stdout).toBe('tick-0\n');
    const cancel = await flotilla(['cancel', id, '--json']);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(JSON.parse(cancel.stdout).hosts[0]).toMatchObject({ state: 'cancelled', remoteStopped: true });
    expect(JSON.parse((await flotilla(['status', id, '--json'])).stdout).state).toBe('done');
    expect(pgrep('sleep 4763.1')).toEqual([]);
  });

  it('cat --follow streams a running run until it ends', async () => {
    const d = await flotilla(['run', 'lab-1', '--detach', '--', 'for i in 1 2 3; do echo f-$i; sleep 0.3; done']);
    const id = d.stdout.trim();
    const r = await flotilla(['cat', id, 'lab-1', '--follow']);
    expect(r.stdout).toBe('f-1\nf-2\nf-3\n');
    expect(JSON.parse((await flotilla(['status', id, '--json'])).stdout).hosts[0].state).toBe('ok');
    const tail = await flotilla(['cat', id, 'lab-1', '--tail', '1']);
    expect(tail.stdout).toBe('f-3\n');
  });

  it('SIGKILL of a detached run\'s worker: the run is reported lost, owner died', async () => {
    const d = await flotilla(['run', 'lab-3', '--detach', '--', 'sleep 4764']);
    const id = d.stdout.trim();
    await waitUntil(() => pgrep('sleep 4764').length === 1, 10_000, 'sleep 4764');
    const worker = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).find((p) => {
      try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes('__worker'); } catch { return false; }
    });
    expect(worker).toBeDefined();
    process.kill(Number(worker), 'SIGKILL');
    await waitUntil(() => !existsSync(`/proc/${worker}/cmdline`), 5000, 'the worker to die');
    const status = JSON.parse((await flotilla(['status', id, '--json'])).stdout);
    expect(status).toMatchObject({ state: 'done', ownerDied: true, hosts: [{ host: 'lab-3', state: 'lost', remoteStopped: false }] });
    expect(status.hosts[0].reason).toMatch(/ended before the host finished/);
    expect((await flotilla(['history', 'lab-3'])).stdout).toMatch(/owner died/);
    for (const p of pgrep('sleep 4764')) process.kill(Number(p), 'SIGKILL');
  });

  it('run --file: the command runs in a private temp dir holding the files, removed afterwards (kept with --keep-files)', async () => {
    const local = join(fleet.dir, 'payload');
    mkdirSync(join(local, 'sub'), { recursive: true });
    writeFileSync(join(local, 'sub', 'data.txt'), 'payload-data\n');
    writeFileSync(join(fleet.dir, 'script.sh'), 'echo from-script\n');
    const r = await flotilla(['run', 'pair', '--json', '--file', local, '--file', join(fleet.dir, 'script.sh'), '--', 'pwd; cat payload/sub/data.txt; sh script.sh; ls -ld . | cut -c1-10']);
    expect(r.code, r.stderr).toBe(0);
    const hosts = JSON.parse(r.stdout).hosts as Array<{ stdout: string }>;
    for (const h of hosts) {
      const [dir, ...rest] = h.stdout.split('\n');
      expect(dir).toMatch(/^\/tmp\/flotilla-run\.\w{8}$/);
      expect(rest.slice(0, 3)).toEqual(['payload-data', 'from-script', 'drwx------']);
      expect(existsSync(onHost('lab-1', dir!)) || existsSync(onHost('lab-2', dir!))).toBe(false);
    }
    const kept = await flotilla(['run', 'lab-1', '--keep-files', '--file', join(fleet.dir, 'script.sh'), '--', 'pwd']);
    const dir = kept.stdout.match(/\[lab-1\] (\/tmp\/flotilla-run\.\w+)/)![1]!;
    expect(kept.stderr).toContain(`files kept on lab-1 in ${dir}`);
    expect(readFileSync(onHost('lab-1', join(dir, 'script.sh')), 'utf8')).toBe('echo from-script\n');
  });

  it('history TARGET filters by host or group and says who started each run from where', async () => {
    await flotilla(['run', 'lab-3', '--', 'echo only-three']);
    const h = JSON.parse((await flotilla(['history', 'lab-3', '--json', '--limit', '100'])).stdout) as { runs: Array<{ hosts: Array<{ host: string }>; origin: string; startedBy: string; durationMs: number }> };
    expect(h.runs.length).toBeGreaterThan(0);
    for (const run of h.runs) expect(run.hosts.map((x) => x.host)).toContain('lab-3');
    expect(h.runs[0]).toMatchObject({ origin: 'cli', startedBy: expect.stringMatching(/@/) });
    const text = await flotilla(['history', 'pair', '--limit', '3']);
    expect(text.stdout).toMatch(/ done +\[cli [^\]]+@[^\]]+\] /);
  });

  it('bad input is a local error (exit 1) naming what was wrong, before any host is contacted; one JSON object under --json', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['run', 'lab-1', '--', ''], /the command is empty/],
      [['run', 'lab-1', '--', 'x'.repeat(102_400)], /over the 102400-byte limit/],
      [['run', 'lab-1', '--timeout', '2200000', '--', 'true'], /--timeout "2200000" is longer than the 24 days/],
      [['run', 'lab-1', '--timeout', 'soon', '--', 'true'], /is not a duration/],
      [['run', 'broken', '--', 'true'], /not a Host alias in the ssh config: "a;b", "-oProxyCommand=touch \/tmp\/pwned" \(in group broken\)/],
      [['run', 'lab-1', '--concurrency', '0.5', '--', 'true'], /--concurrency needs a whole number/],
      [['push', 'lab-1', '.', '~/x', '--max-delete', '0.5'], /--max-delete needs a whole number/],
      [['history', 'lab-1', 'extra'], /too many arguments/],
      [['hosts', 'nosuchgroup'], /unknown target "nosuchgroup"/],
      [['run', 'lab-1', '--bogus', '--', 'true'], /unknown option '--bogus'/],
      [['status', 'nope'], /not a run id|no run "nope"/],
      [['agents', 'spawn', 'lab-1', '/tmp', '--name', 'a.b'], /contains "\." or ":"/],
      [['agents', 'spawn', 'lab-1', '/tmp', '--name', '$(id)'], /starts with "\$", which tmux reads as a session id/],
    ];
    for (const [args, message] of cases) {
      const r = await flotilla(args);
      expect([r.code, r.stderr], args.join(' ').slice(0, 80)).toEqual([1, expect.stringMatching(message)]);
      const j = await flotilla(['--json', ...args]);
      expect(j.code).toBe(1);
      const err = JSON.parse(j.stdout).error;
      expect(err.message, args.join(' ').slice(0, 80)).toMatch(message);
      expect(typeof err.code).toBe('string');
    }
    expect(existsSync(onHost('lab-1', '/tmp/pwned'))).toBe(false);
    // an invalid UTF-8 byte in an argument is refused, not replaced by U+FFFD
    const bad = await shell(`"\${F[@]}" run lab-1 -- printf '%s' $'\\xff'; echo "status=$?"`);
    expect(bad.stdout).toContain('status=1');
    expect(bad.stderr).toMatch(/argument \d+ is not valid UTF-8/);
  });

  it('per-verb --help, exit 0; no verb prints usage, exit 1', async () => {
    const help = await flotilla(['run', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--detach/);
    expect(help.stdout).toMatch(/--file <path>/);
    const none = await spawnCli(cli, []);
    expect(none.code).toBe(1);
    expect(none.stdout).toMatch(/Usage: flotilla/);
    // -F none: no config file at all, as ssh reads it
    const noConfig = await spawnCli(cli, ['-F', 'none', 'hosts', '--json']);
    expect([noConfig.code, JSON.parse(noConfig.stdout).hosts]).toEqual([0, []]);
  });

  /** `flotilla run locked -- COMMAND` on a terminal (`script` gives it one), once it asks for the key's passphrase. */
  async function atPassphrasePrompt(command: string, typescript: string) {
    const cmd = [process.execPath, cli, ...base, 'run', 'locked', '--', command].map((a) => `'${a}'`).join(' ');
    const child = spawn('script', ['-qfec', cmd, join(fleet.dir, typescript)], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, SSH_AUTH_SOCK: '' } });
    const seen = { out: '' };
    child.stdout.on('data', (d: Buffer) => (seen.out += d.toString()));
    const closed = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    await waitUntil(() => /Enter passphrase/.test(seen.out), 15_000, 'the passphrase prompt');
    return { child, seen, closed };
  }

  it('a passphrase typed at the prompt is not echoed, and opens the key', async () => {
    const { child, seen, closed } = await atPassphrasePrompt('echo opened-$((6*7))', 'typescript-ok');
    child.stdin.write(`${fleet.lab.info.passphrase}\r`);
    expect(await closed).toBe(0);
    expect(seen.out).toMatch(/opened-42/);
    expect(seen.out).not.toContain(fleet.lab.info.passphrase);
  });

  it('SIGTERM while a passphrase prompt waits ends the CLI and records the run as cancelled', async () => {
    const { closed } = await atPassphrasePrompt('echo never', 'typescript');
    // the node process itself, not `script`, whose own command line names the CLI too
    const cliPid = execFileSync('pgrep', ['-f', `^${process.execPath} ${cli} .*run locked`]).toString().trim().split('\n')[0]!;
    process.kill(Number(cliPid), 'SIGTERM');
    const code = await closed;
    expect(code).toBe(4);
    const last = JSON.parse((await flotilla(['history', 'locked', '--limit', '1', '--json'])).stdout).runs[0];
    expect(last.hosts[0]).toMatchObject({ host: 'locked', state: 'cancelled' });
  });
});
