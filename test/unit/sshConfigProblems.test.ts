// Config problems are reported with file:line and never hide the hosts that are fine: listing,
// resolution, input bounds, and the CLI's `hosts` verb on such a config.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CliIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { listHostAliases, resolveHost, type ResolveOptions } from '../../src/core/config/sshConfig.js';

let home = '';
let config = '';

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'flotilla-problems-'));
  mkdirSync(join(home, '.ssh'));
  config = join(home, '.ssh', 'config');
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

/** The CLI in-process on the test's config, with its own groups file and run store. */
async function flotilla(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d: Buffer) => (stdout += d.toString()));
  err.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await main(['--ssh-config', config, '--groups', join(home, 'no-groups.yaml'), '--store', join(home, 'store'), ...args], new CliIo(out, err));
  return { code, stdout, stderr };
}

function opts(extra: ResolveOptions = {}): ResolveOptions {
  return { homeDir: home, localUser: 'me', localUid: process.getuid?.() ?? 0, systemConfigFile: null, env: { HOME: home }, platform: 'linux', ...extra };
}

describe('listing a config with problems', () => {
  it('skips a Host pattern that cannot be an alias (Host "lab one") and lists the rest', async () => {
    writeFileSync(config, 'Host "lab one" web\n  HostName 10.0.0.1\nHost db\n');
    const { hosts, problems } = await listHostAliases(opts());
    expect(hosts.map((h) => h.alias)).toEqual(['web', 'db']);
    expect(problems).toEqual([expect.objectContaining({ file: config, line: 1, severity: 'warning', message: expect.stringMatching(/"lab one" is skipped: .*whitespace/) })]);
  });

  it('reports unknown keywords with file:line; IgnoreUnknown silences them; macOS knows UseKeychain', async () => {
    writeFileSync(config, 'Host *\n  UseKeychain yes\nHost web\n');
    const linux = await listHostAliases(opts());
    expect(linux.warnings).toEqual([expect.stringMatching(new RegExp(`^${config}:2: Bad configuration option: usekeychain`))]);
    expect(linux.hosts.map((h) => h.alias)).toEqual(['web']);
    expect((await listHostAliases(opts({ platform: 'darwin' }))).problems).toEqual([]);
    writeFileSync(config, 'IgnoreUnknown UseKeychain\nHost *\n  UseKeychain yes\nHost web\n');
    expect((await listHostAliases(opts())).problems).toEqual([]);
  });

  it('reports an invalid ProxyJump anywhere as an error at its line, hosts still listed; resolving says the same', async () => {
    writeFileSync(config, 'Host web\n  User u\nHost other\n  ProxyJump user@:22\n');
    const { hosts, problems } = await listHostAliases(opts());
    expect(hosts.map((h) => h.alias)).toEqual(['web', 'other']);
    expect(problems).toEqual([expect.objectContaining({ file: config, line: 4, severity: 'error', message: expect.stringMatching(/^Invalid ProxyJump "user@:22"/) })]);
    await expect(resolveHost('web', opts())).rejects.toThrow(`${config}:4: Invalid ProxyJump "user@:22"`);
  });

  it('refuses a world-writable ~/.ssh/config like ssh ("Bad owner or permissions"), naming the fix', async () => {
    writeFileSync(config, 'Host web\n');
    chmodSync(config, 0o666);
    const { hosts, problems } = await listHostAliases(opts());
    expect(hosts).toEqual([]);
    expect(problems).toEqual([expect.objectContaining({ file: config, severity: 'error', message: expect.stringMatching(/^Bad owner or permissions on .* writable by everyone .* chmod go-w/) })]);
    await expect(resolveHost('web', opts())).rejects.toThrow(/Bad owner or permissions/);
    // An explicit -F file is not checked (OpenSSH does not either).
    await expect(resolveHost('web', opts({ configFile: config }))).resolves.toMatchObject({ alias: 'web' });
  });

  it('reports the unknown keyword in the resolved host\'s warnings too, and resolves as if the line were absent', async () => {
    writeFileSync(config, 'Host web\n  UseKeychain yes\n  Port 2200\n');
    const h = await resolveHost('web', opts());
    expect(h.port).toBe(2200);
    expect(h.warnings).toEqual([expect.stringMatching(new RegExp(`^${config}:2: Bad configuration option: usekeychain`))]);
  });
});

describe('input bounds', () => {
  it('an endless config (/dev/zero) is refused after 4 MiB, quickly and without growing memory', async () => {
    const before = process.memoryUsage().rss;
    const started = Date.now();
    await expect(resolveHost('web', opts({ configFile: '/dev/zero' }))).rejects.toThrow(/\/dev\/zero: config file is larger than 4 MiB/);
    const { problems } = await listHostAliases(opts({ configFile: '/dev/zero' }));
    expect(problems[0]?.message).toMatch(/larger than 4 MiB/);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
  });
});

describe('flotilla hosts on a config with problems', () => {
  it('lists the good hosts, warns with file:line on stderr, exits 0', async () => {
    writeFileSync(config, 'Host "lab one" web\n  HostName 10.0.0.9\n  User ops\nHost db\n  PasswordAuthenticaton no\n');
    const { code, stdout, stderr } = await flotilla(['hosts']);
    expect({ code, stdout }).toEqual({ code: 0, stdout: expect.stringMatching(/^web +ops@10\.0\.0\.9:22\ndb +\S+@db:22\n$/) });
    expect(stderr).toContain(`warning: ${config}:1: Host pattern "lab one" is skipped`);
    expect(stderr).toContain(`warning: ${config}:5: Bad configuration option: passwordauthenticaton`);
  });
});

describe('CanonicalizeHostname', () => {
  it('asks the resolver for HOST.DOMAIN. per CanonicalDomains and takes the first that resolves', async () => {
    writeFileSync(config, 'CanonicalizeHostname yes\nCanonicalDomains a.example b.example\nHost web.b.example\n  User canon\n');
    const asked: string[] = [];
    const lookupHost = async (name: string) => {
      asked.push(name);
      return name === 'web.b.example.';
    };
    const h = await resolveHost('web', opts({ lookupHost }));
    expect(asked).toEqual(['web.a.example.', 'web.b.example.']);
    expect({ hostname: h.hostname, user: h.user }).toEqual({ hostname: 'web.b.example', user: 'canon' });
  });

  it('does not look up addresses or proxied hosts (unless "always")', async () => {
    writeFileSync(config, 'CanonicalizeHostname yes\nCanonicalDomains a.example\nHost p\n  ProxyJump j\n');
    const asked: string[] = [];
    const lookupHost = async (name: string) => (asked.push(name), true);
    expect((await resolveHost('10.0.0.1', opts({ lookupHost }))).hostname).toBe('10.0.0.1');
    expect((await resolveHost('p', opts({ lookupHost }))).hostname).toBe('p');
    expect(asked).toEqual([]);
  });
});

describe('flotilla config resolve', () => {
  it('prints the resolved settings and, on stderr, what was skipped with file:line', async () => {
    writeFileSync(config, 'Host web\n  PasswordAuthenticaton no\n  Port 2200\n');
    const { code, stdout, stderr } = await flotilla(['config', 'resolve', 'web']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^host web\n.*^port 2200$/ms);
    expect(stderr).toMatch(new RegExp(`^warning: ${config}:2: Bad configuration option: passwordauthenticaton`));
  });
});

describe('ProxyJump for the connection', () => {
  it('is normalised: ssh:// unwrapped, service-name ports numeric, IPv6 bracketed', async () => {
    writeFileSync(config, 'Host web\n  ProxyJump ssh://ops@bastion.example:2200,jump:ssh,[2001:db8::7]:2222,u@plain # via\n');
    expect((await resolveHost('web', opts({ configFile: config }))).proxyJump).toBe('ops@bastion.example:2200,jump:22,[2001:db8::7]:2222,u@plain');
  });
});

describe('known_hosts files "none"', () => {
  it('means no file (not a file named "none"), printed as none; with other entries it is an error', async () => {
    writeFileSync(config, 'Host web\n  UserKnownHostsFile none\n  GlobalKnownHostsFile none\n');
    const h = await resolveHost('web', opts({ configFile: config }));
    expect({ user: h.userKnownHostsFiles, global: h.globalKnownHostsFiles }).toEqual({ user: [], global: [] });
    expect(h.options.get('userknownhostsfile')?.values).toEqual(['none']);
    writeFileSync(config, 'Host web\n  UserKnownHostsFile none\n  GlobalKnownHostsFile none\nHost db\n  UserKnownHostsFile none ~/.ssh/kh\n');
    await expect(resolveHost('web', opts({ configFile: config }))).rejects.toThrow(`${config}:5: keyword userknownhostsfile "none" argument must appear alone`);
  });
});
