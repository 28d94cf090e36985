// ssh2's private fields used by the push fast paths, checked against a real in-process ssh2.Server (no
// network beyond loopback): if an ssh2 upgrade removes `_client._sock` or `_maxWriteLen`, this fails.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Server, utils, type ClientChannel, type SFTPWrapper } from 'ssh2';
import { channelTransport, DEFAULT_SFTP_WRITE, probeInternals, sftpMaxWrite } from '../../src/core/push/ssh2Internals';

let server: Server;
let client: Client;

beforeAll(async () => {
  const hostKey = utils.generateKeyPairSync('ed25519').private;
  server = new Server({ hostKeys: [hostKey] }, (conn) => {
    conn.on('authentication', (ctx) => ctx.accept());
    conn.on('session', (accept) => {
      const session = accept();
      session.on('exec', (acceptExec) => {
        const ch = acceptExec();
        ch.exit(0);
        ch.end();
      });
      session.on('sftp', (acceptSftp) => {
        acceptSftp();
      });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  client = new Client();
  client.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, username: 'u', password: 'p' });
  await once(client, 'ready');
});

afterAll(() => {
  client?.end();
  server?.close();
});

const exec = () => new Promise<ClientChannel>((resolve, reject) => client.exec('true', (err, ch) => (err ? reject(err) : resolve(ch))));
const sftp = () => new Promise<SFTPWrapper>((resolve, reject) => client.sftp((err, s) => (err ? reject(err) : resolve(s))));

describe('push ssh2 internals (in-process ssh2.Server)', () => {
  it('a channel still exposes a corkable transport (channel._client._sock)', async () => {
    const ch = await exec();
    const sock = channelTransport(ch);
    expect(sock, 'ssh2 no longer exposes channel._client._sock with cork/uncork: the tar fast path loses its writev batching').toBeDefined();
    expect(typeof sock!.cork).toBe('function');
    ch.resume();
  });

  it('an SFTP channel still has _maxWriteLen (numeric, positive)', async () => {
    const s = await sftp();
    const ch = await exec();
    ch.resume();
    expect(probeInternals(ch, s), 'ssh2 renamed SFTP._maxWriteLen or Client._sock').toEqual({ transport: true, maxWriteLen: true });
    expect(sftpMaxWrite(s)).toBeGreaterThan(0);
    s.end();
  });

  it('falls back to safe values on objects without the fields', () => {
    expect(channelTransport({} as ClientChannel)).toBeUndefined();
    expect(sftpMaxWrite({} as SFTPWrapper)).toBe(DEFAULT_SFTP_WRITE);
  });
});
