// Every ssh2 private member Flotilla uses (src/core/ssh/ssh2Internals.ts, the only module that touches
// them), checked against a real in-process ssh2.Server (no network beyond loopback): if an ssh2 upgrade
// removes or renames one, this fails. What each feature does with them is tested beside the feature
// (sshRekey, healthRtt, sshPubkeyAlgorithms, the push tests).
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Server, utils, type ClientChannel, type SFTPWrapper } from 'ssh2';
import {
  channelTransport, DEFAULT_SFTP_WRITE, observeServerSigAlgs, probeInternals, rekeyHooks, sendKeepalive, sftpMaxWrite, skipHostKeyProofs, Ssh2InternalsMissing,
} from '../../src/core/ssh/ssh2Internals';

let server: Server;
let client: Client;

beforeAll(async () => {
  const hostKey = utils.generateKeyPairSync('ed25519').private;
  server = new Server({ hostKeys: [hostKey] }, (conn) => {
    conn.on('authentication', (ctx) => ctx.accept());
    conn.on('session', (accept) => {
      const session = accept();
      session.on('exec', (acceptExec, _reject, info) => {
        const ch = acceptExec();
        if (info.command === 'cat') {
          ch.resume();
          ch.on('end', () => { ch.exit(0); ch.end(); });
          return;
        }
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
  observed = observeServerSigAlgs(client);
  hostKeyProofsSkipped = skipHostKeyProofs(client);
  await once(client, 'ready');
});

let observed: ReturnType<typeof observeServerSigAlgs>;
let hostKeyProofsSkipped = false;

afterAll(() => {
  client?.end();
  server?.close();
});

const exec = (command = 'true') => new Promise<ClientChannel>((resolve, reject) => client.exec(command, (err, ch) => (err ? reject(err) : resolve(ch))));
const sftp = () => new Promise<SFTPWrapper>((resolve, reject) => client.sftp((err, s) => (err ? reject(err) : resolve(s))));

describe('ssh2 internals (in-process ssh2.Server)', () => {
  it('the protocol object has the key exchange call and the channel data senders (RekeyLimit)', async () => {
    const hooks = rekeyHooks(client);
    expect(typeof hooks.rekey).toBe('function');
    const ch = await exec('cat');
    ch.resume();
    const seen: string[] = [];
    const restore = hooks.beforeChannelData((data) => seen.push(String(data)));
    ch.write(Buffer.from('before restore'));
    restore();
    ch.write(Buffer.from('after'));
    ch.end();
    await once(ch, 'close');
    expect(seen).toEqual(['before restore']);
  });

  it('the keepalive request is answered through the callbacks list (health rtt)', async () => {
    const answer = await new Promise<unknown>((resolve) => expect(sendKeepalive(client, resolve)).toBe(true));
    expect(answer === true || answer === false).toBe(true);
  });

  it('the EXT_INFO handler sees the server\'s extensions (PubkeyAcceptedAlgorithms)', () => {
    // ssh2.Server sends EXT_INFO with server-sig-algs; the observed list is what ssh2 itself received.
    expect(observed().algs).toEqual(expect.arrayContaining(['ssh-ed25519']));
    expect(typeof observed().impliesRsaSha2).toBe('boolean');
  });

  it('the global request handler is there to let the host key announcement go (connect-hostkeys lab test: no proof asked)', () => {
    expect(hostKeyProofsSkipped, 'ssh2 moved Client._protocol._handlers.GLOBAL_REQUEST: every connection asks the server to sign with all its host keys again').toBe(true);
    expect(skipHostKeyProofs({} as Client)).toBe(false);
  });

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

  it('falls back to safe values on objects without the fields; says which member is missing where a setting needs it', () => {
    expect(channelTransport({} as ClientChannel)).toBeUndefined();
    expect(sftpMaxWrite({} as SFTPWrapper)).toBe(DEFAULT_SFTP_WRITE);
    expect(() => rekeyHooks({} as Client)).toThrow(Ssh2InternalsMissing);
    expect(() => sendKeepalive({} as Client, () => {})).toThrow(/Client._callbacks/);
    expect(() => observeServerSigAlgs({} as Client)).toThrow(/EXT_INFO/);
  });
});
