// The jump chain in front of a host, as OpenSSH builds it from ProxyJump: nested jump hosts, comma lists
// (the hops before the last come in as -J and win over that host's own ProxyJump/ProxyCommand), user@host:port
// specs (winning over the config, before tokens are expanded), a ProxyCommand ending the chain, and loops.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveHost } from '../../src/core/config/sshConfig';
import { JumpLoopError, jumpChain, resolveJumpHost } from '../../src/core/ssh/jumpChain';

const dir = mkdtempSync(join(tmpdir(), 'flotilla-jumpchain-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CONFIG = `
Host outer
  HostName 10.0.0.1
  User admin

Host inner
  HostName 10.0.0.2
  Port 2202
  User bob
  ProxyJump outer

Host target
  HostName 10.0.0.3
  ProxyJump inner

Host listed
  HostName 10.0.0.4
  ProxyJump first,second

Host first
  HostName 10.0.0.5
  ProxyJump outer

Host second
  HostName 10.0.0.6
  ProxyJump nowhere
  ProxyCommand never %h

Host spec
  HostName 10.0.0.7
  ProxyJump carol@commanded:2299

Host commanded
  HostName 10.0.0.8
  User dave
  ProxyCommand nc %h %p %r

Host loop-a
  HostName 10.0.1.1
  ProxyJump loop-b

Host loop-b
  HostName 10.0.1.2
  ProxyJump loop-a

Host self
  HostName self.example
  ProxyJump self.example

Host back-and-forth
  HostName 10.0.2.1
  ProxyJump there,back

Host there
  HostName 10.0.2.2
  ProxyJump back

Host back
  HostName 10.0.2.3
`;

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

const configFile = write('config', CONFIG);
const optsFor = (file: string) => ({ configFile: file, systemConfigFile: null, homeDir: dir, localUser: 'me', localHostname: 'here' });
async function chainOf(alias: string, file = configFile) {
  const opts = optsFor(file);
  const hops = await jumpChain(await resolveHost(alias, opts), (request, from) => resolveJumpHost(request, from, opts));
  return hops.map(({ request, host }) => ({ request, to: `${host.user}@${host.hostname}:${host.port}`, proxyJump: host.proxyJump, proxyCommand: host.proxyCommand }));
}
const loopOf = (alias: string, file = configFile) => chainOf(alias, file).then(() => { throw new Error('expected a loop'); }, (e: unknown) => e as JumpLoopError);

describe('jump chain', () => {
  it("follows a jump host's own ProxyJump, outermost first: target via inner via outer", async () => {
    expect(await chainOf('target')).toEqual([
      { request: { name: 'outer' }, to: 'admin@10.0.0.1:22', proxyJump: undefined, proxyCommand: undefined },
      { request: { name: 'inner' }, to: 'bob@10.0.0.2:2202', proxyJump: 'outer', proxyCommand: undefined },
    ]);
  });

  it('a host without ProxyJump has no chain', async () => {
    expect(await chainOf('outer')).toEqual([]);
  });

  it('ProxyJump a,b: b is reached via a (-J a wins over b\'s own ProxyJump and ProxyCommand), and a follows its own ProxyJump', async () => {
    expect(await chainOf('listed')).toEqual([
      { request: { name: 'outer' }, to: 'admin@10.0.0.1:22', proxyJump: undefined, proxyCommand: undefined },
      { request: { name: 'first' }, to: 'me@10.0.0.5:22', proxyJump: 'outer', proxyCommand: undefined },
      { request: { name: 'second', extra: 'first' }, to: 'me@10.0.0.6:22', proxyJump: 'first', proxyCommand: undefined },
    ]);
  });

  it('user@host:port wins over the jump host\'s User and Port, before its ProxyCommand\'s %p and %r are expanded; a ProxyCommand ends the chain', async () => {
    expect(await chainOf('spec')).toEqual([
      { request: { name: 'commanded', user: 'carol', port: 2299 }, to: 'carol@10.0.0.8:2299', proxyJump: undefined, proxyCommand: 'nc 10.0.0.8 2299 carol' },
    ]);
  });

  it('the same name with other -J hops is another hop, not a loop', async () => {
    expect((await chainOf('back-and-forth')).map((h) => h.request)).toEqual([{ name: 'back' }, { name: 'there' }, { name: 'back', extra: 'there' }]);
  });

  it('a -> b -> a is an error naming the chain and the line that closes it', async () => {
    const err = await loopOf('loop-a');
    expect(err).toBeInstanceOf(JumpLoopError);
    expect(err.chain).toEqual(['loop-a', 'loop-b', 'loop-a']);
    expect(err.message).toContain('ProxyJump loop loop-a -> loop-b -> loop-a');
    expect({ file: err.file, line: err.line }).toEqual({ file: configFile, line: CONFIG.split('\n').indexOf('Host loop-b') + 3 });
  });

  it('"Host *" naming a bastion that it also matches loops through the bastion itself', async () => {
    const file = write('star', 'Host bastion\n  HostName 10.9.9.9\n\nHost *\n  ProxyJump bastion\n');
    const err = await loopOf('web', file);
    expect(err.chain).toEqual(['web', 'bastion', 'bastion']);
    expect(err.message).toContain('"Host * !bastion"');
  });

  it('a host whose jump is its own name, port and user is refused as ssh does ("jumphost loop via")', async () => {
    const err = await loopOf('self');
    expect(err.message).toContain('self: jumphost loop via self.example');
  });
});
