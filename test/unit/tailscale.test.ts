import { execFile } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  linkText,
  matchPeersToAliases,
  parsePong,
  pingPeer,
  readTailnet,
  tailnetPinger,
  parseTailscaleStatus,
  readTailscaleStatus,
  type TailscalePeer,
} from '../../src/core/config/tailscale';

const fixtures = fileURLToPath(new URL('./fixtures/tailscale/', import.meta.url));
const fixture = (name: string): string => readFileSync(path.join(fixtures, name), 'utf8');
const NO_SUCH_BINARY = 'flotilla-test-no-such-tailscale-binary';

describe('parseTailscaleStatus', () => {
  it('reads Self and every Peer from a real-shaped status', () => {
    const { peers, warnings } = parseTailscaleStatus(fixture('running.json'));
    expect(warnings).toEqual([]);
    expect(peers.map((p) => [p.name, p.self])).toEqual([
      ['devbox', true],
      ['GPU-Box', false],
      ['ubuntu', false],
      ['ubuntu', false],
      ['web-1', false],
    ]);
    const web = peers.find((p) => p.name === 'web-1')!;
    expect(web).toMatchObject({
      dnsName: 'web-1.tail1a2b3c.ts.net',
      ips: ['100.64.0.11', 'fd7a:115c:a1e0::11'],
      os: 'linux',
      online: true,
      self: false,
    });
    expect(web.lastSeen).toBeUndefined(); // Go zero time means "never"
    expect(web.sshHostKeys).toHaveLength(2);
    const gpu = peers.find((p) => p.name === 'GPU-Box')!;
    expect(gpu).toMatchObject({ online: false, lastSeen: '2025-01-08T17:42:11.000000000Z' });
  });

  it('says how traffic goes to each online peer: direct (its address), through a DERP relay (its region), or idle', () => {
    const { peers } = parseTailscaleStatus(fixture('links.json'));
    expect(peers.map((p) => [p.name, p.link && linkText(p.link)])).toEqual([
      ['devbox', undefined], // this machine
      ['build-1', 'direct [2001:db8::7]:41641'],
      ['laptop', 'relay "nyc"'],
      ['nas', 'idle'], // no active session: neither direct nor relayed right now
      ['old-box', undefined], // offline
      ['phone', 'idle'], // a relay name that is not a region code is not shown
    ]);
  });

  it('drops hostile peer names with a warning that names each of them, escaped', () => {
    const { peers, warnings } = parseTailscaleStatus(fixture('hostile.json'));
    expect(peers.map((p) => p.name)).toEqual(['devbox', 'db-1']);
    expect(peers[1]!.ips).toEqual(['100.64.0.25']);
    const text = warnings.join('\n');
    expect(text).toContain(JSON.stringify('-oProxyCommand=touch pwned'));
    expect(text).toContain(JSON.stringify('web;rm -rf ~'));
    expect(text).toContain('"evil\\u001b]0;owned\\u0007"');
    expect(text).toContain(JSON.stringify('$(reboot).tail1a2b3c.ts.net.'));
    expect(text).toContain(JSON.stringify('not-an-ip; id'));
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/); // no raw control characters
    expect(warnings).toHaveLength(5);
  });

  it('treats __proto__ node keys and a null Peer as ordinary data', () => {
    const json = '{"BackendState":"Running","Peer":{"__proto__":{"HostName":"p","TailscaleIPs":["100.64.0.9"]}}}';
    const { peers } = parseTailscaleStatus(json);
    expect(peers.map((p) => p.name)).toEqual(['p']);
    expect(({} as Record<string, unknown>).HostName).toBeUndefined();
    expect(parseTailscaleStatus('{"Peer":null}').peers).toEqual([]);
  });

  it('throws on JSON that is not an object', () => {
    expect(() => parseTailscaleStatus('[1]')).toThrow();
    expect(() => parseTailscaleStatus('{nope')).toThrow();
  });
});

describe('readTailscaleStatus', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'flotilla-ts-'));
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('says "not installed" when the binary does not exist (real ENOENT from spawn)', async () => {
    expect(await readTailscaleStatus({ binary: NO_SUCH_BINARY })).toEqual({
      state: 'off',
      reason: 'tailscale not installed',
    });
  });

  it('classifies a real ENOENT from an injected execFile-based runner the same way', async () => {
    const run = (file: string, args: string[], timeoutMs: number): Promise<string> =>
      new Promise((resolve, reject) =>
        execFile(file, args, { timeout: timeoutMs }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
      );
    expect(await readTailscaleStatus({ binary: NO_SUCH_BINARY, run })).toEqual({
      state: 'off',
      reason: 'tailscale not installed',
    });
  });

  it.skipIf(process.platform === 'win32')('gives up after the timeout even when a grandchild holds stdout open', async () => {
    const script = path.join(dir, 'slow-tailscale');
    // No `exec`: the shell forks sleep, which keeps the stdout pipe open after the shell is killed.
    await fs.writeFile(script, '#!/bin/sh\nsleep 3\necho "{}"\n', { mode: 0o755 });
    const started = Date.now();
    const status = await readTailscaleStatus({ binary: script, timeoutMs: 200 });
    expect(Date.now() - started).toBeLessThan(1500);
    expect(status).toEqual({ state: 'off', reason: 'tailscale status did not answer within 200 ms' });
  });

  it.skipIf(process.platform === 'win32')('reports a non-zero exit with the first line of stderr', async () => {
    const script = path.join(dir, 'failing-tailscale');
    await fs.writeFile(script, '#!/bin/sh\necho "failed to connect to local tailscaled; it doesn\'t appear to be running" >&2\nexit 1\n', {
      mode: 0o755,
    });
    const status = await readTailscaleStatus({ binary: script });
    expect(status.state).toBe('off');
    expect(status.state === 'off' && status.reason).toMatch(/exited with code 1: failed to connect to local tailscaled/);
  });

  it('readTailnet: the peers but this machine, matched to aliases; resolves the ssh config only when there are peers', async () => {
    let resolved = 0;
    const hostnames = async () => { resolved++; return [{ alias: 'b1', hostname: '100.64.1.1' }, { alias: 'lap', hostname: 'laptop.tail1a2b3c.ts.net' }, { alias: 'x', hostname: 'x.example' }]; };
    const t = await readTailnet(hostnames, { run: async () => fixture('links.json') });
    expect(t.peers.map((p) => p.name)).toEqual(['build-1', 'laptop', 'nas', 'old-box', 'phone']);
    expect([...t.byAlias].map(([a, p]) => [a, p.name])).toEqual([['b1', 'build-1'], ['lap', 'laptop']]);
    expect(t.reason).toBeUndefined();
    const off = await readTailnet(hostnames, { run: async () => fixture('stopped.json') });
    expect(off).toEqual({ peers: [], byAlias: new Map(), warnings: [], reason: 'tailscale is stopped (run "tailscale up")' });
    expect(resolved).toBe(1);
  });

  it('tailscale ping: the path and round trip of a pong, or what the command said when there was none', async () => {
    expect(parsePong('pong from web-1 (100.64.0.11) via DERP(fra) in 45ms\n')).toEqual({ via: 'DERP(fra)', ms: 45 });
    expect(parsePong('pong from web-1 (100.64.0.11) via 198.51.100.11:41641 in 3.5ms\n')).toEqual({ via: '198.51.100.11:41641', ms: 3.5 });
    expect(parsePong('timeout waiting for ping reply')).toBeUndefined();
    const calls: unknown[] = [];
    const ok = await pingPeer('100.64.0.11', { timeoutMs: 2000, run: async (file, args) => { calls.push([file, ...args]); return 'pong from web-1 (100.64.0.11) via DERP(fra) in 45ms\n'; } });
    expect(ok).toEqual({ ok: true, ms: 45, detail: 'via DERP(fra)' });
    expect(calls).toEqual([['tailscale', 'ping', '--c=1', '--until-direct=false', '--timeout=2s', '100.64.0.11']]);
    const script = path.join(dir, 'ping-tailscale');
    await fs.writeFile(script, '#!/bin/sh\necho "timeout waiting for ping reply" >&2\nexit 1\n', { mode: 0o755 });
    expect(await pingPeer('100.64.0.12', { binary: script })).toMatchObject({ ok: false, detail: 'timeout waiting for ping reply' });
    expect(await pingPeer('100.64.0.12', { binary: NO_SUCH_BINARY })).toMatchObject({ ok: false, detail: 'tailscale not installed' });
    const pinger = tailnetPinger({ byAlias: new Map([['web', { name: 'web-1', ips: ['100.64.0.11'], online: true, self: false }]]) }, { run: async () => 'pong from web-1 (100.64.0.11) via DERP(fra) in 45ms' });
    expect(pinger('other')).toBeUndefined(); // not a tailnet host: no layer
    expect(await pinger('web')).toMatchObject({ ok: true });
  });

  it('passes status --json and the timeout to the runner and returns peers', async () => {
    const calls: unknown[] = [];
    const status = await readTailscaleStatus({
      binary: 'ts',
      timeoutMs: 1234,
      run: async (file, args, timeoutMs) => {
        calls.push([file, args, timeoutMs]);
        return fixture('running.json');
      },
    });
    expect(calls).toEqual([['ts', ['status', '--json'], 1234]]);
    expect(status.state === 'ok' && status.peers.length).toBe(5);
  });

  it('is off when the backend is not running, or the output is not JSON', async () => {
    expect(await readTailscaleStatus({ run: async () => fixture('stopped.json') })).toEqual({
      state: 'off',
      reason: 'tailscale is stopped (run "tailscale up")',
    });
    const bad = await readTailscaleStatus({ run: async () => 'Tailscale is stopped.\n' });
    expect(bad.state === 'off' && bad.reason).toMatch(/^tailscale status --json gave unreadable output/);
  });

  it('reports warnings for hostile peers alongside the good ones', async () => {
    const status = await readTailscaleStatus({ run: async () => fixture('hostile.json') });
    expect(status.state === 'ok' && status.peers.map((p) => p.name)).toEqual(['devbox', 'db-1']);
    expect(status.state === 'ok' && status.warnings).toHaveLength(5);
  });
});

describe('matchPeersToAliases', () => {
  const peers: TailscalePeer[] = parseTailscaleStatus(fixture('running.json')).peers;

  it('matches by MagicDNS name, short name and IP, case-insensitively and ignoring a trailing dot', () => {
    const matches = matchPeersToAliases(peers, [
      { alias: 'web', hostname: 'WEB-1.tail1a2b3c.ts.net.' },
      { alias: 'gpu', hostname: 'gpu-box' },
      { alias: 'by-ip', hostname: '100.64.0.12' },
      { alias: 'by-ip6', hostname: 'FD7A:115C:A1E0::11' },
      { alias: 'me', hostname: 'devbox' },
      { alias: 'elsewhere', hostname: 'example.org' },
    ]);
    expect(Object.fromEntries([...matches].map(([alias, peer]) => [alias, peer.name]))).toEqual({
      web: 'web-1',
      gpu: 'GPU-Box',
      'by-ip': 'GPU-Box',
      'by-ip6': 'web-1',
      me: 'devbox',
    });
  });

  it('uses the MagicDNS label, so two peers both named "ubuntu" stay distinguishable', () => {
    const matches = matchPeersToAliases(peers, [
      { alias: 'u0', hostname: 'ubuntu' },
      { alias: 'u1', hostname: 'ubuntu-1' },
    ]);
    expect(matches.get('u0')?.dnsName).toBe('ubuntu.tail1a2b3c.ts.net');
    expect(matches.get('u1')?.dnsName).toBe('ubuntu-1.tail1a2b3c.ts.net');
  });

  it('leaves an alias unmatched when the name fits several peers equally', () => {
    const twins: TailscalePeer[] = [
      { name: 'box', ips: ['100.64.0.1'], online: true, self: false },
      { name: 'box', ips: ['100.64.0.2'], online: true, self: false },
    ];
    expect(matchPeersToAliases(twins, [{ alias: 'b', hostname: 'box' }]).size).toBe(0);
  });
});
