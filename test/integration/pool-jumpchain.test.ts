// ProxyJump chains against OpenSSH's own ssh on the same config: a two-level bastion chain (target's jump
// host has its own ProxyJump), a comma list with a user@host:port hop, a jump host reached by its own
// ProxyCommand, each hop checked against its own known_hosts file; the hops every sshd log shows must be
// the same for ssh and for Flotilla. Plus a loop, refused before anything is contacted.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveHost } from '../../src/core/config/sshConfig';
import { ConnectError } from '../../src/core/ssh/connect';
import { JumpLoopError } from '../../src/core/ssh/jumpChain';
import type { LabHost } from '../lab/types';
import { connectFailure, execOut, startFleet, type TestFleet } from './fleet';

const canRunLab = process.getuid?.() === 0;

/** A tiny netcat for ProxyCommand: connects to host:port, pipes stdin/stdout, records that it ran. */
const PROXY_SCRIPT = `
const net = require('node:net');
const [host, port, mark] = process.argv.slice(2);
require('node:fs').writeFileSync(mark, host + ':' + port);
const s = net.connect(Number(port), host);
s.on('error', (e) => { process.stderr.write('proxy: ' + e.message + '\\n'); process.exit(1); });
process.stdin.pipe(s);
s.pipe(process.stdout);
`;

function ssh(config: string, alias: string, command: string): Promise<{ out: string; err: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', ['-F', config, '-o', 'BatchMode=yes', '--', alias, command], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ out, err, code }));
  });
}

describe.skipIf(!canRunLab)('ProxyJump chains, compared with OpenSSH', () => {
  let fleet: TestFleet;
  let config: string;
  let mark: string;
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown) => uncaught.push(e);
  const host = (alias: string) => fleet.lab.info.hosts.find((h) => h.alias === alias)!;
  // outer = the lab bastion, inner = lab-2; lab-1 and lab-3 are the targets.
  const hops = () => ({ outer: host('bastion'), inner: host('lab-2'), target: host('lab-1'), other: host('lab-3') });

  /** What every hop's sshd saw since `marks`: who logged in, and where it was asked to forward. */
  function seen(marks: Map<LabHost, number>): Record<string, { logins: string[]; forwards: string[] }> {
    return Object.fromEntries([...marks].map(([h, at]) => {
      const log = readFileSync(h.sshdLog!).subarray(at).toString();
      return [h.alias, {
        logins: [...log.matchAll(/Accepted publickey for (\S+)/g)].map((m) => m[1]!).sort(),
        forwards: [...log.matchAll(/server_request_direct_tcpip: originator \S+ port \d+, target (\S+) port (\d+)/g)].map((m) => `${m[1]}:${m[2]}`).sort(),
      }];
    }));
  }
  const marks = () => new Map(Object.values(hops()).map((h) => [h, readFileSync(h.sshdLog!).length]));

  beforeAll(async () => {
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    fleet = await startFleet({ hosts: 3, behindBastion: 0 });
    const info = fleet.lab.info;
    const { outer, inner, target, other } = hops();
    const script = join(fleet.dir, 'proxy.cjs');
    writeFileSync(script, PROXY_SCRIPT);
    mark = join(fleet.dir, 'proxy.ran');
    // One known_hosts file per hop, holding only that hop's key: a hop checked against another's file fails.
    const allKnown = readFileSync(info.knownHosts, 'utf8').split('\n');
    const knownFile = (name: string, ...hs: LabHost[]) => {
      const file = join(fleet.dir, `known_${name}`);
      writeFileSync(file, allKnown.filter((l) => hs.some((h) => l.startsWith(`[${h.address}]:${h.port} `))).join('\n') + '\n');
      return file;
    };
    const kh = { outer: knownFile('outer', outer), inner: knownFile('inner', inner), targets: knownFile('targets', target, other) };
    const block = (alias: string, h: LabHost, known: string, extra: string[] = []) =>
      [`Host ${alias}`, `  HostName ${h.address}`, `  Port ${h.port}`, `  User ${h.user}`, `  UserKnownHostsFile ${known}`, ...extra.map((l) => `  ${l}`)].join('\n');
    config = join(fleet.dir, 'jump_config');
    writeFileSync(config, [
      block('outer', outer, kh.outer),
      block('inner', inner, kh.inner, ['ProxyJump outer']),
      block('target', target, kh.targets, ['ProxyJump inner']),
      // A comma list: inner-alt is reached via outer (-J outer wins over its own ProxyJump), as flotilla-dash on
      // port 2222 (the spec wins over its User and Port).
      block('listed', other, kh.targets, ['ProxyJump outer,flotilla-dash@inner-alt:2222']),
      block('inner-alt', inner, kh.inner, ['Port 1', 'ProxyJump nowhere']),
      // The jump host's own connection goes through its ProxyCommand.
      block('outer-by-command', outer, kh.outer, [`ProxyCommand ${process.execPath} ${script} %h %p ${mark}`]),
      block('behind-command', target, kh.targets, ['ProxyJump outer-by-command']),
      // The middle hop's known_hosts lacks its key: refused there, the target is never contacted.
      block('inner-untrusted', inner, kh.outer, ['ProxyJump outer']),
      block('behind-untrusted', target, kh.targets, ['ProxyJump inner-untrusted']),
      block('loop-a', target, kh.targets, ['ProxyJump loop-b']),
      block('loop-b', inner, kh.inner, ['ProxyJump loop-a']),
      ['Host *', `  IdentityFile ${info.identityFile}`, '  IdentitiesOnly yes', '  StrictHostKeyChecking yes', '  ConnectTimeout 5'].join('\n'),
      '',
    ].join('\n\n'));
  });
  afterAll(async () => {
    await fleet?.stop();
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
  });
  afterEach(() => expect(uncaught).toEqual([]));

  const pool = () => fleet.pool({ resolve: (alias) => resolveHost(alias, { configFile: config }) });
  const where = 'echo "${SSH_CONNECTION#* * }"';

  /** The same command by ssh and by a fresh pool: same output, same hops in every sshd log. */
  async function compare(alias: string) {
    let at = marks();
    const bySsh = await ssh(config, alias, where);
    expect(bySsh.code, bySsh.err).toBe(0);
    const sshHops = seen(at);
    at = marks();
    const p = pool();
    const byFlotilla = await execOut(p, alias, where);
    const flotillaHops = seen(at);
    await p.dispose();
    expect(byFlotilla).toEqual({ out: bySsh.out, code: 0 });
    expect(flotillaHops).toEqual(sshHops);
    return { out: bySsh.out, hops: flotillaHops };
  }

  it('target via inner via outer (the jump host\'s own ProxyJump is followed), as ssh goes', async () => {
    const { outer, inner, target, other } = hops();
    const { out, hops: logs } = await compare('target');
    expect(out).toBe(`${target.address} ${target.port}\n`);
    expect(logs).toEqual({
      [outer.alias]: { logins: ['flotilla'], forwards: [`${inner.address}:${inner.port}`] },
      [inner.alias]: { logins: ['flotilla'], forwards: [`${target.address}:${target.port}`] },
      [target.alias]: { logins: ['flotilla'], forwards: [] },
      [other.alias]: { logins: [], forwards: [] },
    });
  });

  it('ProxyJump outer,user@inner-alt:port: outer first, then inner-alt as that user on that port', async () => {
    const { outer, inner, target, other } = hops();
    const { out, hops: logs } = await compare('listed');
    expect(out).toBe(`${other.address} ${other.port}\n`);
    expect(logs).toEqual({
      [outer.alias]: { logins: ['flotilla'], forwards: [`${inner.address}:${inner.port}`] },
      [inner.alias]: { logins: ['flotilla-dash'], forwards: [`${other.address}:${other.port}`] },
      [target.alias]: { logins: [], forwards: [] },
      [other.alias]: { logins: ['flotilla'], forwards: [] },
    });
  });

  it('a jump host with a ProxyCommand is reached through it, by ssh and by Flotilla', async () => {
    const { outer, target } = hops();
    for (const run of ['ssh', 'flotilla']) {
      rmSync(mark, { force: true });
      const at = marks();
      if (run === 'ssh') expect((await ssh(config, 'behind-command', where)).out).toBe(`${target.address} ${target.port}\n`);
      else {
        const p = pool();
        expect(await execOut(p, 'behind-command', where)).toEqual({ out: `${target.address} ${target.port}\n`, code: 0 });
        await p.dispose();
      }
      expect(existsSync(mark) && readFileSync(mark, 'utf8'), run).toBe(`${outer.address}:${outer.port}`);
      expect(seen(at)[outer.alias], run).toEqual({ logins: ['flotilla'], forwards: [`${target.address}:${target.port}`] });
    }
  });

  it('targets behind a shared jump host share its connection', async () => {
    const { outer, inner } = hops();
    const at = marks();
    const p = pool();
    const [a, b] = await Promise.all([execOut(p, 'target', 'echo a'), execOut(p, 'listed', 'echo b')]);
    expect([a, b]).toEqual([{ out: 'a\n', code: 0 }, { out: 'b\n', code: 0 }]);
    const logs = seen(at);
    expect(logs[outer.alias]!.logins).toEqual(['flotilla']); // one connection to outer carries both chains
    expect(logs[outer.alias]!.forwards).toEqual([`${inner.address}:${inner.port}`, `${inner.address}:${inner.port}`]);
    expect(logs[inner.alias]!.logins).toEqual(['flotilla', 'flotilla-dash']); // inner and inner-alt are two hops
    await p.dispose();
  });

  it('each hop is checked against its own known_hosts: a middle hop whose file lacks its key is refused, as by ssh', async () => {
    const { target } = hops();
    const at = marks();
    const bySsh = await ssh(config, 'behind-untrusted', 'true');
    expect(bySsh.code).toBe(255);
    expect(bySsh.err).toContain('Host key verification failed');
    const p = pool();
    const err = await connectFailure(p.connection('behind-untrusted'));
    expect(err).toBeInstanceOf(ConnectError);
    expect(err.kind).toBe('hostkey-rejected');
    expect(err.message).toContain('inner-untrusted');
    expect(seen(at)[target.alias]).toEqual({ logins: [], forwards: [] });
    await p.dispose();
  });

  it('a -> b -> a is refused at once, naming the chain, and nothing is contacted', async () => {
    const at = marks();
    const p = pool();
    const err = await p.connection('loop-a').then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(JumpLoopError);
    expect((err as JumpLoopError).chain).toEqual(['loop-a', 'loop-b', 'loop-a']);
    expect((err as Error).message).toContain(`${config}:`);
    expect((err as Error).message).toContain('ProxyJump loop loop-a -> loop-b -> loop-a');
    for (const h of Object.values(seen(at))) expect(h.logins).toEqual([]);
    await p.dispose();
  });
});
