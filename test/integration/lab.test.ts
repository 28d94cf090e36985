import { mkdtempSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { readLabState, startLab, stopLab, type Lab, type LabHost } from '../lab/lab.js';
import { run } from '../lab/run.js';

const canRunLab = process.getuid?.() === 0;

function host(lab: Lab, alias: string): LabHost {
  const found = lab.info.hosts.find((h) => h.alias === alias);
  if (!found) throw new Error(`no alias ${alias}`);
  return found;
}

function ssh(lab: Lab, alias: string, command: string, extra: string[] = [], env?: NodeJS.ProcessEnv) {
  return run(
    'ssh',
    ['-F', lab.info.sshConfig, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', ...extra, '--', alias, command],
    { env: env ?? process.env, timeoutMs: 20_000 },
  );
}

/** Processes (not zombies) whose command line mentions `text`. */
function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n) && Number(n) !== process.pid)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmdline.includes(text)) found.push(`${pid}: ${cmdline}`);
    } catch {
      // gone
    }
  }
  return found;
}

function liveProcessesIn(pgids: readonly number[], namespaces: readonly string[]): string[] {
  const groups = new Set(pgids);
  const spaces = new Set(namespaces);
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const [state, , pgid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state === 'Z') continue;
      if (groups.has(Number(pgid)) || spaces.has(readlinkSync(`/proc/${pid}/ns/mnt`))) found.push(`${pid} (${stat.slice(0, 60)})`);
    } catch {
      // gone
    }
  }
  return found;
}

describe.skipIf(!canRunLab)('lab fleet', () => {
  let dir: string;
  let lab: Lab;
  let startSeconds = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'flotilla-lab-test-'));
    const t0 = Date.now();
    lab = await startLab({ hosts: 20, dir, load: { 'lab-2': 3.5, 'lab-3': 0.2 }, memAvailableKb: { 'lab-2': 777_000 } });
    startSeconds = (Date.now() - t0) / 1000;
    console.log(`lab: 20 hosts + specials up in ${startSeconds.toFixed(2)} s`);
  });

  afterAll(async () => {
    if (lab) await stopLab(dir);
    await rm(dir, { recursive: true, force: true });
  });

  it('starts 20 hosts quickly and describes them in lab.json', async () => {
    expect(startSeconds).toBeLessThan(20);
    const state = await readLabState(dir);
    expect(state.hosts).toEqual(lab.info.hosts);
    const normal = lab.info.hosts.filter((h) => /^lab-\d+$/.test(h.alias));
    expect(normal).toHaveLength(20);
    expect(new Set(normal.map((h) => h.address)).size).toBe(20);
    for (const h of normal) {
      expect(h.hostKeyFingerprint).toMatch(/^SHA256:/);
      expect(h.sshdLog).toMatch(/^\//);
    }
    const aliases = lab.info.hosts.map((h) => h.alias);
    for (const a of ['shell-bash', 'shell-dash', 'shell-fish', 'shell-tcsh', 'root-1', 'dead', 'blackhole', 'bastion',
      'behind-1', 'behind-2', 'unknown-key', 'one-session', 'authfail']) {
      expect(aliases).toContain(a);
    }
  });

  it('logs in with the lab key and a strict known_hosts', async () => {
    const result = await ssh(lab, 'lab-7', 'true');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const root = await ssh(lab, 'root-1', 'id -u');
    expect(root.stdout.trim()).toBe('0');
  });

  it('the ssh_config leaves StrictHostKeyChecking/BatchMode unset and ends with ConnectTimeout', () => {
    const text = readFileSync(lab.info.sshConfig, 'utf8');
    expect(text).not.toMatch(/^\s*StrictHostKeyChecking/m);
    expect(text).not.toMatch(/^\s*BatchMode/m);
    expect(text).toMatch(/Host \*\n\s+ConnectTimeout 3\s*$/);
  });

  it('the agent key is authorized and only the agent holds it', async () => {
    const env = { ...process.env, SSH_AUTH_SOCK: lab.info.agentSock };
    const list = await run('ssh-add', ['-l'], { env });
    expect(list.stdout).toMatch(/flotilla-lab-agent/);
    const viaAgent = await ssh(lab, 'lab-4', 'echo agent', ['-o', 'IdentityFile=none', '-o', 'IdentitiesOnly=no'], env);
    expect(viaAgent.stdout.trim()).toBe('agent');
  });

  it('the encrypted key opens with the recorded passphrase and is authorized', async () => {
    const pub = await run('ssh-keygen', ['-y', '-P', lab.info.passphrase, '-f', lab.info.encryptedIdentityFile]);
    expect(pub.code).toBe(0);
    const authorized = readFileSync(join(dir, 'keys', 'flotilla'), 'utf8');
    expect(authorized).toContain(pub.stdout.trim().split(' ')[1]);
    const wrong = await run('ssh-keygen', ['-y', '-P', 'wrong', '-f', lab.info.encryptedIdentityFile]);
    expect(wrong.code).not.toBe(0);
  });

  it('dead refuses the TCP connection fast', async () => {
    const dead = host(lab, 'dead');
    const t0 = Date.now();
    const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      const socket = createConnection({ host: dead.address, port: dead.port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(undefined);
      });
      socket.once('error', resolve);
    });
    expect(error?.code).toBe('ECONNREFUSED');
    expect(Date.now() - t0).toBeLessThan(500);
  });

  it('blackhole accepts TCP and never sends a byte', async () => {
    const blackhole = host(lab, 'blackhole');
    const received = await new Promise<{ connected: boolean; bytes: number }>((resolve, reject) => {
      let bytes = 0;
      const socket = createConnection({ host: blackhole.address, port: blackhole.port });
      socket.on('data', (chunk) => (bytes += chunk.length));
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.write('SSH-2.0-test\r\n');
        setTimeout(() => {
          socket.destroy();
          resolve({ connected: true, bytes });
        }, 1000);
      });
    });
    expect(received).toEqual({ connected: true, bytes: 0 });
  });

  it('unknown-key is refused under StrictHostKeyChecking=yes', async () => {
    const result = await ssh(lab, 'unknown-key', 'true');
    expect(result.code).toBe(255);
    expect(result.stderr).toMatch(/Host key verification failed/);
    const unknown = host(lab, 'unknown-key');
    expect(readFileSync(lab.info.knownHosts, 'utf8')).not.toContain(`[${unknown.address}]`);
    // Nothing was authenticated: the server saw no userauth request.
    expect(readFileSync(unknown.sshdLog!, 'utf8')).not.toMatch(/userauth-request/);
  });

  it('one-session runs with MaxSessions 1, the others with 10', async () => {
    const config = (alias: string) => readFileSync(join(dirname(host(lab, alias).sshdLog!), 'sshd_config'), 'utf8');
    expect(config('one-session')).toMatch(/^MaxSessions 1$/m);
    expect(config('lab-1')).toMatch(/^MaxSessions 10$/m);
    expect((await ssh(lab, 'one-session', 'echo one')).stdout.trim()).toBe('one');
  });

  it('auth-fail is rejected, behind-N goes through the bastion', async () => {
    const denied = await ssh(lab, 'authfail', 'true');
    expect(denied.code).toBe(255);
    expect(denied.stderr).toMatch(/Permission denied/);
    const behind = await ssh(lab, 'behind-2', 'cat /proc/loadavg');
    expect(behind.code).toBe(0);
    expect(behind.stdout).toMatch(/^3\.50 /);
    expect(readFileSync(host(lab, 'bastion').sshdLog!, 'utf8')).toMatch(/direct-tcpip|Accepted publickey/);
  });

  it('fakes /proc/loadavg and MemAvailable per host, and setLoad changes them live', async () => {
    const loadOf = async (alias: string) => (await ssh(lab, alias, 'cat /proc/loadavg')).stdout.split(' ')[0];
    expect(await loadOf('lab-2')).toBe('3.50');
    expect(await loadOf('lab-3')).toBe('0.20');
    expect(await loadOf('lab-5')).toBe('0.05');
    const mem = await ssh(lab, 'lab-2', 'grep MemAvailable /proc/meminfo');
    expect(mem.stdout).toMatch(/^MemAvailable:\s+777000 kB$/m);

    await lab.setLoad('lab-3', 7.25, 123_456);
    expect(await loadOf('lab-3')).toBe('7.25');
    expect((await ssh(lab, 'lab-3', 'grep MemAvailable /proc/meminfo')).stdout).toMatch(/\s123456 kB/);
    expect(host(lab, 'lab-3').load).toBe(7.25);
    expect((await readLabState(dir)).hosts.find((h) => h.alias === 'lab-3')?.memAvailableKb).toBe(123_456);
    // the real /proc is untouched
    expect(readFileSync('/proc/loadavg', 'utf8')).not.toMatch(/^7\.25 7\.25 7\.25 1\/100 12345/);
  });

  it('each shell alias logs into its shell', async () => {
    const expected = { bash: '/bin/bash', dash: '/bin/dash', fish: '/usr/bin/fish', tcsh: '/usr/bin/tcsh' } as const;
    for (const [shell, path] of Object.entries(expected)) {
      const h = host(lab, `shell-${shell}`);
      expect(h.shell).toBe(shell);
      const passwd = await run('getent', ['passwd', h.user]);
      expect(passwd.stdout.trim().split(':')[6]).toBe(path);
    }
    expect((await ssh(lab, 'shell-bash', 'echo $BASH_VERSION')).stdout.trim()).not.toBe('');
    expect((await ssh(lab, 'shell-dash', 'echo $0')).stdout.trim()).toBe('dash');
    expect((await ssh(lab, 'shell-fish', 'echo $FISH_VERSION')).stdout.trim()).toMatch(/^\d/);
    expect((await ssh(lab, 'shell-tcsh', 'echo $tcsh')).stdout.trim()).toMatch(/^\d/);
  });

  it('writes an sshsync groups file with a comment and at least two groups', () => {
    const text = readFileSync(lab.info.groups, 'utf8');
    expect(text.startsWith('# ')).toBe(true);
    const parsed = parseYaml(text) as { groups: Record<string, string[]> };
    expect(Object.keys(parsed.groups).length).toBeGreaterThanOrEqual(2);
    const normal = new Set(lab.info.hosts.filter((h) => h.role === 'normal').map((h) => h.alias));
    for (const members of Object.values(parsed.groups)) for (const m of members) expect(normal.has(m)).toBe(true);
  });

  it('a second (plain, isolated) lab runs next to the first on other addresses and stops on its own', async () => {
    const otherDir = mkdtempSync(join(tmpdir(), 'flotilla-lab-test2-'));
    try {
      const other = await startLab({ hosts: 2, dir: otherDir, plain: true, isolated: true });
      expect(other.info.hosts.map((h) => h.alias)).toEqual(['lab-1', 'lab-2']);
      expect(other.info.hosts[0]!.address).not.toBe(host(lab, 'lab-1').address);
      expect((await ssh(other, 'lab-2', 'echo two')).stdout.trim()).toBe('two');
      // isolated: each host has its own home and /tmp (hence its own tmux server)
      expect((await ssh(other, 'lab-1', 'echo mine > ~/marker && tmux new-session -d -s iso "sleep 300" && tmux ls')).code).toBe(0);
      expect((await ssh(other, 'lab-2', 'cat ~/marker')).code).not.toBe(0);
      expect((await ssh(other, 'lab-2', 'tmux ls')).code).not.toBe(0);
      expect(readFileSync(join(other.info.hosts[0]!.isolatedHome!, 'flotilla', 'marker'), 'utf8')).toBe('mine\n');
      await other.stop();
      expect(processesMentioning('sleep 300')).toEqual([]);
      expect(processesMentioning(otherDir)).toEqual([]);
      expect((await ssh(lab, 'lab-1', 'echo still')).stdout.trim()).toBe('still');
    } finally {
      await stopLab(otherDir);
      await rm(otherDir, { recursive: true, force: true });
    }
  });

  it('down leaves no process behind', async () => {
    const state = await readLabState(dir);
    // a lingering session on lab-1 (its sshd child lives in lab-1's namespace)
    const lingering = run('ssh', ['-F', lab.info.sshConfig, '-o', 'BatchMode=yes', 'lab-1', 'sleep 60'], { timeoutMs: 70_000 });
    // a daemon that left the sshd's process tree (tmux double-forks to init) but not its mount namespace
    expect((await ssh(lab, 'lab-2', 'tmux new-session -d -s lab-down-test "sleep 301" && echo ok')).stdout.trim()).toBe('ok');
    await new Promise((r) => setTimeout(r, 500));
    expect(processesMentioning('sleep 301').length).toBeGreaterThan(0);
    expect(processesMentioning(dir).length).toBeGreaterThan(0);
    await stopLab(dir);
    const session = await lingering; // our own ssh client (its command line names DIR) ends when sshd goes
    expect(session.code).not.toBe(0);
    expect(processesMentioning(dir)).toEqual([]);
    expect(processesMentioning('sleep 301')).toEqual([]);
    expect(liveProcessesIn(state.pgids, state.mountNamespaces)).toEqual([]);
    for (const pgid of state.pgids) {
      expect(() => process.kill(-pgid, 0), `pgid ${pgid}`).toThrow();
    }
  });
});
