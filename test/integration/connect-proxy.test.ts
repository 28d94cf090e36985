// Transports on the lab fleet: ProxyJump (one hop and a two-hop chain, each hop verified against its own
// name), ProxyCommand (the child is killed on close), and the fast/slow failure kinds (dead, blackhole).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveHost } from '../../src/core/config/sshConfig';
import { ConnectError } from '../../src/core/ssh/connect';
import { refusingPrompter, type HostKeyQuestion, type Prompter } from '../../src/core/types';
import type { LabHost } from '../lab/types';
import { connectFailure as failure, execOut as run, startFleet, type TestFleet } from './fleet';

const canRunLab = process.getuid?.() === 0;

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

/** A tiny netcat: connects to host:port, pipes stdin/stdout, writes its pid to a file. */
const PROXY_SCRIPT = `
const net = require('node:net');
const fs = require('node:fs');
const [host, port, pidFile] = process.argv.slice(2);
fs.writeFileSync(pidFile, String(process.pid));
const s = net.connect(Number(port), host);
s.on('error', (e) => { process.stderr.write('proxy: ' + e.message + '\\n'); process.exit(1); });
process.stdin.pipe(s);
s.pipe(process.stdout);
`;

describe.skipIf(!canRunLab)('transports on the lab fleet', () => {
  let fleet: TestFleet;
  let config: string;
  let knownHosts: string;
  let pidFile: string;
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown) => uncaught.push(e);
  const host = (alias: string) => fleet.lab.info.hosts.find((h) => h.alias === alias)!;
  const bracket = (h: LabHost) => `[${h.address}]:${h.port}`;

  beforeAll(async () => {
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    fleet = await startFleet({ hosts: 2 });
    const info = fleet.lab.info;
    const script = join(fleet.dir, 'proxy.cjs');
    writeFileSync(script, PROXY_SCRIPT);
    pidFile = join(fleet.dir, 'proxy.pid');
    // known_hosts for this file: every lab host except lab-2 (so the middle hop of the chain is asked about).
    knownHosts = join(fleet.dir, 'proxy_known_hosts');
    writeFileSync(knownHosts, readFileSync(info.knownHosts, 'utf8').split('\n')
      .filter((l) => !l.startsWith(`${bracket(host('lab-2'))} `)).join('\n'));
    const b = (alias: string, h: LabHost, extra: string[] = []) => [
      `Host ${alias}`,
      `  HostName ${h.address}`,
      `  Port ${h.port}`,
      `  User ${h.user}`,
      `  IdentityFile ${info.identityFile}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${knownHosts}`,
      '  ConnectTimeout 3',
      ...extra.map((l) => `  ${l}`),
    ].join('\n');
    config = join(fleet.dir, 'proxy_config');
    writeFileSync(config, [
      b('bastion', host('bastion')),
      b('lab-2', host('lab-2')),
      b('chain', host('lab-1'), ['ProxyJump bastion,lab-2']),
      b('via-command', host('lab-1'), [`ProxyCommand ${process.execPath} ${script} %h %p ${pidFile}`]),
      b('broken-command', host('lab-1'), [`ProxyCommand ${process.execPath} ${script} ${host('dead').address} %p ${pidFile}.broken`]),
      '',
    ].join('\n\n'));
  });
  afterAll(async () => {
    await fleet?.stop();
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
  });
  afterEach(() => expect(uncaught).toEqual([]));

  const pool = (prompter: Prompter = refusingPrompter) =>
    fleet.pool({ resolve: (alias) => resolveHost(alias, { configFile: config }), prompter });

  it('reaches behind-1 through the lab bastion (ProxyJump), sharing one bastion connection', async () => {
    const p = fleet.pool();
    const bastionLog = host('bastion').sshdLog!;
    const before = readFileSync(bastionLog).length;
    const [a, b] = await Promise.all([run(p, 'behind-1', 'echo one'), run(p, 'behind-2', 'echo two')]);
    expect(a).toEqual({ out: 'one\n', code: 0 });
    expect(b).toEqual({ out: 'two\n', code: 0 });
    const log = readFileSync(bastionLog).subarray(before).toString();
    expect(log.match(/Accepted publickey/g)?.length).toBe(1);
    expect(log).toContain(`target ${host('lab-1').address} port ${host('lab-1').port}`);
    await p.dispose();
  });

  it('follows a two-hop ProxyJump chain, verifying each hop against its own name', async () => {
    const questions: HostKeyQuestion[] = [];
    const p = pool({ ...refusingPrompter, confirmHostKey: async (q) => { questions.push(q); return true; } });
    const lab2Log = host('lab-2').sshdLog!;
    const bastionLog = host('bastion').sshdLog!;
    const lab2Before = readFileSync(lab2Log).length;
    const bastionBefore = readFileSync(bastionLog).length;
    expect(await run(p, 'chain', 'echo chained')).toEqual({ out: 'chained\n', code: 0 });
    // lab-2 (the middle hop) is not in this known_hosts: asked under its own name, reached via bastion.
    expect(questions).toHaveLength(1);
    expect(questions[0]).toMatchObject({
      alias: 'lab-2',
      lookupName: bracket(host('lab-2')),
      fingerprint: host('lab-2').hostKeyFingerprint,
      via: 'bastion',
    });
    expect(readFileSync(knownHosts, 'utf8')).toContain(bracket(host('lab-2')));
    // The bastion forwarded to lab-2, and lab-2 forwarded to lab-1.
    expect(readFileSync(bastionLog).subarray(bastionBefore).toString()).toContain(`target ${host('lab-2').address} port 2222`);
    expect(readFileSync(lab2Log).subarray(lab2Before).toString()).toContain(`target ${host('lab-1').address} port 2222`);
    await p.dispose();
  });

  it('connects through a ProxyCommand and kills the proxy process when the connection closes', async () => {
    const p = pool();
    expect(await run(p, 'via-command', 'echo proxied')).toEqual({ out: 'proxied\n', code: 0 });
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(alive(pid)).toBe(true);
    p.close('via-command');
    expect(await waitFor(() => !alive(pid), 3_000)).toBe(true);
    // and again through dispose()
    expect(await run(p, 'via-command', 'echo again')).toEqual({ out: 'again\n', code: 0 });
    const pid2 = Number(readFileSync(pidFile, 'utf8'));
    expect(pid2).not.toBe(pid);
    await p.dispose();
    expect(await waitFor(() => !alive(pid2), 3_000)).toBe(true);
  });

  it('reports a failing ProxyCommand as unreachable with its stderr', async () => {
    const p = pool();
    const err = await failure(p.connection('broken-command'));
    expect(err).toBeInstanceOf(ConnectError);
    expect(err.kind).toBe('unreachable');
    expect(err.message).toMatch(/ECONNREFUSED/);
    const pid = Number(readFileSync(`${pidFile}.broken`, 'utf8'));
    expect(existsSync(`${pidFile}.broken`)).toBe(true);
    expect(await waitFor(() => !alive(pid), 3_000)).toBe(true);
    await p.dispose();
  });

  it('dead host: unreachable at once; black hole: timeout at ConnectTimeout', async () => {
    const p = fleet.pool(); // lab config: ConnectTimeout 3
    let t0 = Date.now();
    const dead = await failure(p.connection('dead'));
    expect(dead).toBeInstanceOf(ConnectError);
    expect(dead).toMatchObject({ kind: 'unreachable' });
    expect(Date.now() - t0).toBeLessThan(2_000);
    t0 = Date.now();
    const hole = await failure(p.connection('blackhole'));
    const waited = Date.now() - t0;
    expect(hole).toBeInstanceOf(ConnectError);
    expect(hole).toMatchObject({ kind: 'timeout' });
    expect(waited).toBeGreaterThanOrEqual(2_900);
    expect(waited).toBeLessThan(6_000);
    await p.dispose();
  });
});
