// Algorithm settings reach the connection: lab sshds that accept only one cipher / MAC / KEX, and a
// client config that enables (or fails to enable) it. Real sshd, real ssh2, no mocks.
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveHost } from '../../src/core/config/sshConfig';
import { spawnDetached, waitForTcp, type DetachedProcess } from '../lab/processes';
import { connectFailure, execOut, startFleet, type TestFleet } from './fleet';

function freePort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, address, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('algorithm settings applied to ssh2 (lab)', () => {
  let fleet: TestFleet;
  const sshds: DetachedProcess[] = [];
  let configFile = '';
  let rsaKey = '';

  /** An extra sshd on lab-1's address and host key, with `extra` sshd_config lines. */
  async function startRestrictedSshd(name: string, extra: string[]): Promise<number> {
    const lab1 = fleet.lab.info.hosts.find((h) => h.alias === 'lab-1')!;
    const base = readFileSync(join(fleet.dir, 'hosts', 'lab-1', 'sshd_config'), 'utf8');
    const port = await freePort(lab1.address);
    const file = join(fleet.dir, `sshd_${name}`);
    const text = base
      .split('\n')
      .map((l) => (l.startsWith('ListenAddress ') ? `ListenAddress ${lab1.address}:${port}` : l.startsWith('PidFile ') ? `PidFile ${file}.pid` : l))
      .join('\n');
    writeFileSync(file, `${extra.join('\n')}\n${text}`);
    const sshd = spawnDetached('/usr/sbin/sshd', ['-D', '-f', file, '-E', `${file}.log`], `${file}.stdio`);
    sshds.push(sshd);
    await waitForTcp(lab1.address, port, 10_000, sshd.exited);
    return port;
  }

  beforeAll(async () => {
    fleet = await startFleet({ hosts: 1, plain: true, isolated: false });
    const lab1 = fleet.lab.info.hosts.find((h) => h.alias === 'lab-1')!;
    const cbcPort = await startRestrictedSshd('cbc', ['Ciphers aes128-cbc']);
    const umacPort = await startRestrictedSshd('umac', ['Ciphers aes128-ctr', 'MACs umac-128-etm@openssh.com']);
    const rekeyPort = await startRestrictedSshd('rekey', []);
    rsaKey = join(fleet.dir, 'id_rsa_test');
    execFileSync('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', rsaKey]);
    appendFileSync(join(fleet.dir, 'keys', lab1.user), readFileSync(`${rsaKey}.pub`));
    const withKey = (port: number, key: string) => common(port).replace(/IdentityFile \S+/, `IdentityFile ${key}`);
    const common = (port: number) =>
      `  HostName ${lab1.address}\n  Port ${port}\n  User ${lab1.user}\n  IdentityFile ${join(fleet.dir, 'id_ed25519')}\n  IdentitiesOnly yes\n` +
      `  UserKnownHostsFile ${join(fleet.dir, 'known_hosts')}\n  HostKeyAlias [${lab1.address}]:${lab1.port}\n`;
    configFile = join(fleet.dir, 'algorithms_config');
    writeFileSync(
      configFile,
      `Host cbc-plus\n${common(cbcPort)}  Ciphers +aes128-cbc\n` +
        `Host cbc-default\n${common(cbcPort)}` +
        `Host umac\n${common(umacPort)}  MACs +umac-128-etm@openssh.com\n` +
        `Host umac-only\n${common(umacPort)}  MACs umac-64@openssh.com,umac-128@openssh.com\n` +
        `Host rekey-1m\n${common(rekeyPort)}  RekeyLimit 1M\n` +
        `Host rekey-none\n${common(rekeyPort)}` +
        `Host pk-ecdsa-only\n${common(rekeyPort)}  PubkeyAcceptedAlgorithms ecdsa-sha2-nistp256\n` +
        `Host pk-ed25519\n${common(rekeyPort)}  PubkeyAcceptedAlgorithms ssh-ed25519\n` +
        `Host pk-certs-only\n${common(rekeyPort)}  PubkeyAcceptedAlgorithms ssh-ed25519-cert-v01@openssh.com\n` +
        `Host rsa-256\n${withKey(rekeyPort, rsaKey)}  PubkeyAcceptedAlgorithms rsa-sha2-256\n` +
        `Host rsa-512\n${withKey(rekeyPort, rsaKey)}  PubkeyAcceptedAlgorithms rsa-sha2-512\n`,
    );
  });

  afterAll(async () => {
    for (const sshd of sshds) {
      try {
        process.kill(-sshd.pgid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    await Promise.all(sshds.map((s) => s.exited));
    await fleet?.stop();
  });

  const pool = () => fleet.pool({ resolve: (alias) => resolveHost(alias, { configFile }) });

  it('connects to a host that only speaks the cipher the user enabled with "Ciphers +aes128-cbc"', async () => {
    const p = pool();
    expect(await execOut(p, 'cbc-plus', 'echo connected')).toEqual({ out: 'connected\n', code: 0 });
    expect(readFileSync(join(fleet.dir, 'sshd_cbc.log'), 'utf8')).toMatch(/kex: client->server cipher: aes128-cbc/);
  });

  it('without the setting: names the setting and the cipher the host needs', async () => {
    const err = await connectFailure(pool().exec('cbc-default', 'true'));
    expect(err.message).toBe(
      'cbc-default: the server accepts only Ciphers aes128-cbc; none of them is allowed by ssh2\'s defaults (Ciphers is not set). ' +
        'Add "Ciphers +aes128-cbc" for this host in your ssh config.',
    );
  });

  it('a host that needs a MAC ssh2 lacks: says so, naming MACs', async () => {
    const err = await connectFailure(pool().exec('umac', 'true'));
    expect(err.message).toMatch(/^umac: the server accepts only MACs umac-128-etm@openssh\.com, which ssh2 .* does not implement, so Flotilla cannot connect/);
  });

  it('a config that allows only algorithms ssh2 lacks fails before connecting, naming the setting with file:line', async () => {
    const err = await connectFailure(pool().exec('umac-only', 'true'));
    expect(err.message).toMatch(
      new RegExp(`^umac-only: MACs \\(${configFile.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+\\) allows only umac-64@openssh\\.com,umac-128@openssh\\.com, and ssh2 .* implements none of them`),
    );
  });

  /** Sends `data` through `cat` on the host in 64 KiB chunks (as a file stream would) and returns what came back. */
  async function roundTrip(alias: string, data: Buffer): Promise<Buffer> {
    const { channel } = await pool().exec(alias, 'cat');
    const parts: Buffer[] = [];
    channel.on('data', (d: Buffer) => parts.push(d));
    const closed = new Promise<void>((r) => channel.once('close', () => r()));
    for (let p = 0; p < data.length; p += 64 * 1024) {
      if (!channel.write(data.subarray(p, p + 64 * 1024))) await new Promise((r) => channel.once('drain', r));
      await new Promise((r) => setImmediate(r));
    }
    channel.end();
    await closed;
    return Buffer.concat(parts);
  }
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  const kexCount = (log: string) => log.match(/SSH2_MSG_KEXINIT received/g)?.length ?? 0;

  it('"RekeyLimit 1M": a 4 MiB round trip re-keys the connection (counted in sshd\'s log) and arrives intact', async () => {
    const log = join(fleet.dir, 'sshd_rekey.log');
    const data = randomBytes(4 * 1024 * 1024);
    let before = readFileSync(log).length;
    expect(sha(await roundTrip('rekey-none', data))).toBe(sha(data));
    expect(kexCount(readFileSync(log).subarray(before).toString())).toBe(1); // the initial exchange only
    before = readFileSync(log).length;
    expect(sha(await roundTrip('rekey-1m', data))).toBe(sha(data));
    // 4 MiB each way over a 1 MiB limit: new keys several times (data queued during an exchange can make
    // two follow each other, so not exactly 8).
    expect(kexCount(readFileSync(log).subarray(before).toString())).toBeGreaterThanOrEqual(1 + 3);
  });

  /** OpenSSH's own client on the same config: the oracle for whether the setting lets the key in. */
  const opensshConnects = (alias: string) =>
    spawnSync('ssh', ['-F', configFile, '-o', 'BatchMode=yes', '--', alias, 'true'], { encoding: 'utf8', timeout: 30_000 }).status === 0;
  const accepted = (log: string, from: number) => readFileSync(log).subarray(from).toString();

  it('PubkeyAcceptedAlgorithms: a key type not in the list is not offered (as ssh: both fail), naming the setting', async () => {
    const err = await connectFailure(pool().exec('pk-ecdsa-only', 'true'));
    expect(err.kind).toBe('auth-failed');
    expect(err.message).toMatch(/id_ed25519 not offered: key type ssh-ed25519 is not in PubkeyAcceptedAlgorithms \(.*algorithms_config:\d+\)/);
    expect(opensshConnects('pk-ecdsa-only')).toBe(false);
    expect(await execOut(pool(), 'pk-ed25519', 'echo in')).toEqual({ out: 'in\n', code: 0 });
    expect(opensshConnects('pk-ed25519')).toBe(true);
  });

  it('PubkeyAcceptedAlgorithms with only what ssh2 cannot sign with: the failure says so', async () => {
    const err = await connectFailure(pool().exec('pk-certs-only', 'true'));
    expect(err.message).toMatch(/PubkeyAcceptedAlgorithms \(.*:\d+\) allows only ssh-ed25519-cert-v01@openssh\.com; ssh2 .* signs with none of them/);
  });

  it('PubkeyAcceptedAlgorithms rsa-sha2-256: the RSA key signs with it (sshd\'s log), as ssh does', async () => {
    const log = join(fleet.dir, 'sshd_rekey.log');
    const from = readFileSync(log).length;
    expect(await execOut(pool(), 'rsa-256', 'echo rsa')).toEqual({ out: 'rsa\n', code: 0 });
    expect(accepted(log, from)).toMatch(/Accepted publickey for flotilla .* ssh2: RSA SHA256:/);
    expect(accepted(log, from)).toMatch(/userauth_pubkey: .*pkalg rsa-sha2-256/);
    expect(opensshConnects('rsa-256')).toBe(true);
  });

  it('PubkeyAcceptedAlgorithms rsa-sha2-512: the RSA key is not offered, with the reason (ssh2 would sign with rsa-sha2-256)', async () => {
    const log = join(fleet.dir, 'sshd_rekey.log');
    const from = readFileSync(log).length;
    const err = await connectFailure(pool().exec('rsa-512', 'true'));
    expect(err.message).toMatch(
      /id_rsa_test not offered: PubkeyAcceptedAlgorithms \(.*:\d+\) allows rsa-sha2-512, and for this server ssh2 would sign the RSA key with rsa-sha2-256 \(it cannot be told otherwise\)/,
    );
    expect(accepted(log, from)).not.toMatch(/pkalg rsa-sha2-256/); // never signed with what the user excluded
    // OpenSSH can choose rsa-sha2-512 itself: the one case where ssh connects and Flotilla explains why it does not.
    expect(opensshConnects('rsa-512')).toBe(true);
  });
});
