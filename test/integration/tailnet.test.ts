// The tailnet in the CLI: `flotilla hosts --tailscale` and `report --tailscale` read `tailscale status --json`
// from the `tailscale` found on PATH. There is no tailnet here, so a stand-in executable prints a recorded
// status (the CLI runs it exactly as it would run the real one); no ssh host is faked.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleCli, spawnCli } from './cliProcess';

describe('tailnet peers in the CLI', () => {
  let dir: string;
  let cli: string;
  let global: string[];
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'flotilla-tailnet-'));
    cli = await bundleCli(dir);
    // the recorded tailnet, plus `edge`: a peer at the loopback address `local` points at (the one host the tests may contact)
    const recorded = JSON.parse(readFileSync(join(__dirname, '../unit/fixtures/tailscale/links.json'), 'utf8'));
    recorded.Peer['nodekey:e1'] = {
      HostName: 'edge', DNSName: 'edge.tail1a2b3c.ts.net.', TailscaleIPs: ['127.0.0.1'], OS: 'linux', CurAddr: '', Relay: 'fra', Online: true, Active: true,
    };
    const status = join(dir, 'status.json');
    writeFileSync(status, JSON.stringify(recorded));
    // `tailscale ping` answers for the tailnet address of `edge` only, as the real one prints it
    writeFileSync(join(dir, 'tailscale'), [
      '#!/bin/sh',
      `[ "$1 $2" = "status --json" ] && exec cat '${status}'`,
      `if [ "$1" = ping ]; then for a; do last=$a; done; [ "$last" = 127.0.0.1 ] && { echo "pong from edge (127.0.0.1) via DERP(fra) in 23ms"; exit 0; }; echo "timeout waiting for ping reply" >&2; exit 1; fi`,
      'echo "unexpected: $*" >&2; exit 2', '',
    ].join('\n'), { mode: 0o755 });
    // a loopback port nothing listens on: the report probes `local` and finds it down, contacting nothing else
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    writeFileSync(join(dir, 'ssh_config'), [
      'Host build', '  HostName 100.64.1.1', 'Host lap', '  HostName laptop.tail1a2b3c.ts.net', `Host local`, '  HostName 127.0.0.1', `  Port ${port}`, '',
    ].join('\n'));
    global = ['--ssh-config', join(dir, 'ssh_config'), '--store', join(dir, 'store'), '--connect-timeout', '2'];
    env = { PATH: `${dir}:${process.env.PATH}` };
  });
  afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  it('flotilla hosts --tailscale lists every peer: online or last seen, OS, direct or relayed, and the alias pointing at it', async () => {
    const r = await spawnCli(cli, [...global, 'hosts', '--tailscale'], { env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain([
      'tailnet: 6 peers',
      '  build-1  online, direct [2001:db8::7]:41641 · linux · ssh alias build',
      '  edge  online, relay "fra" · linux · ssh alias local',
      '  laptop  online, relay "nyc" · macOS · ssh alias lap',
      '  nas  online, idle · linux',
      '  old-box  offline, last seen 2026-11-30T22:15:00Z · windows',
      '  phone  online, idle · iOS',
    ].join('\n'));
    const json = JSON.parse((await spawnCli(cli, [...global, '--json', 'hosts', '--tailscale'], { env })).stdout);
    expect(json.hosts.map((h: { alias: string; tailscale: string | null }) => [h.alias, h.tailscale])).toEqual([['build', 'build-1'], ['lap', 'laptop'], ['local', 'edge']]);
    expect(json.tailnet.peers[0]).toEqual({
      name: 'build-1', dnsName: 'build-1.tail1a2b3c.ts.net', os: 'linux', online: true, lastSeen: null, alias: 'build', link: 'direct', via: '[2001:db8::7]:41641',
    });
    expect(json.tailnet.peers.find((p: { name: string }) => p.name === 'laptop')).toMatchObject({ link: 'relay', via: 'nyc' });
    // without --tailscale nothing is read
    expect(JSON.parse((await spawnCli(cli, [...global, '--json', 'hosts'], { env: { PATH: '/nonexistent' } })).stdout).tailnet).toBeUndefined();
  });

  it('flotilla report --tailscale shows the same peers and each tailnet host\'s tailscale ping; without tailscale it says why', async () => {
    const r = await spawnCli(cli, [...global, '--json', 'report', 'local', '--tailscale'], { env });
    expect(r.code).toBe(3); // `local` is down
    const report = JSON.parse(r.stdout);
    expect(report.tailnet.peers.map((p: { name: string; link: string | null; alias: string | null }) => [p.name, p.link, p.alias])).toEqual([
      ['build-1', 'direct', 'build'], ['edge', 'relay', 'local'], ['laptop', 'relay', 'lap'], ['nas', 'idle', null], ['old-box', null, null], ['phone', 'idle', null],
    ]);
    // the probe pinged `local`'s peer: its sshd is down, the machine answers on the tailnet
    expect(report.hosts.map((h: { alias: string; state: string; tailscalePing: unknown }) => [h.alias, h.state, h.tailscalePing])).toEqual([
      ['local', 'offline', { ok: true, ms: 23, detail: 'via DERP(fra)' }],
    ]);
    const text = await spawnCli(cli, [...global, 'report', 'local', '--tailscale'], { env });
    expect(text.stdout).toContain('  laptop  online, relay "nyc" · macOS · ssh alias lap\n');
    const none = JSON.parse((await spawnCli(cli, [...global, '--json', 'report', 'local', '--tailscale'], { env: { PATH: join(dir, 'empty') } })).stdout);
    expect(none.tailnet).toEqual({ peers: [], reason: 'tailscale not installed' });
  });

  it('hosts --status --tailscale adds a `tailscale ping` layer for tailnet hosts: a host whose sshd is down but whose machine answers says so', async () => {
    const r = await spawnCli(cli, [...global, '--json', 'hosts', 'local', '--status', '--tailscale'], { env });
    expect(r.code).toBe(3);
    const [local] = JSON.parse(r.stdout).hosts;
    expect(local.state).toBe('offline');
    expect(local.layers.tcp).toMatchObject({ ok: false, detail: 'connection refused' });
    expect(local.layers.tailscale).toEqual({ ok: true, ms: 23, detail: 'via DERP(fra)' });
    expect(local.reason).toBe('connection refused; the tailnet reaches it (tailscale ping via DERP(fra) in 23 ms): the machine is up, sshd is not answering');
    // without --tailscale there is no tailnet layer
    const plain = JSON.parse((await spawnCli(cli, [...global, '--json', 'hosts', 'local', '--status'], { env })).stdout).hosts[0];
    expect(plain.layers.tailscale).toBeUndefined();
    expect(plain.reason).toBe('connection refused');
  });
});
