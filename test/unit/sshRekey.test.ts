// RekeyLimit (src/core/ssh/rekey.ts over ssh2Internals.ts's rekeyHooks):
// a real in-process ssh2.Server echoes data back; the client must re-key on the byte and time limits,
// and the data must arrive intact. If an ssh2 upgrade renames `_protocol.rekey`, this fails.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect as tcpConnect, type AddressInfo, type Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { Client, Server, utils, type ClientChannel } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enforceRekeyLimit } from '../../src/core/ssh/rekey';
import { Ssh2InternalsMissing } from '../../src/core/ssh/ssh2Internals';

let server: Server;
let serverHandshakes = 0;

beforeAll(async () => {
  const hostKey = utils.generateKeyPairSync('ed25519').private;
  server = new Server({ hostKeys: [hostKey] }, (conn) => {
    conn.on('handshake', () => serverHandshakes++);
    conn.on('authentication', (ctx) => ctx.accept());
    conn.on('session', (accept) => {
      accept().on('exec', (acceptExec) => {
        const ch = acceptExec();
        ch.pipe(ch); // echo
        ch.on('end', () => {
          ch.exit(0);
          ch.end();
        });
      });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
});

afterAll(() => server?.close());

async function open(): Promise<{ client: Client; sock: Socket; handshakes: () => number }> {
  const sock = tcpConnect((server.address() as AddressInfo).port, '127.0.0.1');
  await once(sock, 'connect');
  const client = new Client();
  let handshakes = 0;
  client.on('handshake', () => handshakes++);
  client.connect({ sock, username: 'u', password: 'p', hostVerifier: () => true });
  await once(client, 'ready');
  return { client, sock, handshakes: () => handshakes };
}

function echo(client: Client, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    client.exec('echo', (err, ch: ClientChannel) => {
      if (err) return reject(err);
      const parts: Buffer[] = [];
      ch.on('data', (d: Buffer) => parts.push(d));
      ch.once('close', () => resolve(Buffer.concat(parts)));
      // As a file or tar stream feeds a channel: 16 KiB chunks, one per turn of the event loop.
      pipeline(async function* () {
        for (let p = 0; p < data.length; p += 16 * 1024) {
          yield data.subarray(p, p + 16 * 1024);
          await new Promise((r) => setImmediate(r));
        }
      }, ch).catch(reject);
    });
  });
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('RekeyLimit on an ssh2 connection (ssh2 internals guard, in-process ssh2.Server)', () => {
  it('re-keys on a 64 KiB limit while 1 MiB goes each way (the server agrees on each exchange), and the data arrives intact', async () => {
    const { client, sock, handshakes } = await open();
    const serverBefore = serverHandshakes;
    enforceRekeyLimit(client, sock, { bytes: 64 * 1024, seconds: 0 });
    const data = randomBytes(1024 * 1024);
    const back = await echo(client, data);
    expect(sha(back)).toBe(sha(data));
    // 1 MiB each way over 64 KiB. The server shares this event loop, so each exchange takes long enough for
    // much of the rest to be queued behind it (that backlog makes the next one come at once): at least 2.
    expect(handshakes() - 1).toBeGreaterThanOrEqual(2);
    expect(serverHandshakes - serverBefore).toBe(handshakes() - 1);
    client.end();
  });

  it('re-keys on the time limit on an idle connection', async () => {
    const { client, sock, handshakes } = await open();
    const t0 = Date.now();
    enforceRekeyLimit(client, sock, { bytes: 0, seconds: 1 });
    await once(client, 'handshake');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(handshakes()).toBe(2);
    client.end();
  });

  it('no limit: no re-key and no ssh2 internals needed', async () => {
    const { client, sock, handshakes } = await open();
    expect(() => enforceRekeyLimit({} as Client, sock, { bytes: 0, seconds: 0 })).not.toThrow();
    await echo(client, randomBytes(256 * 1024));
    expect(handshakes()).toBe(1);
    client.end();
  });

  it('says clearly when ssh2 no longer has the call it uses', async () => {
    const { client, sock } = await open();
    expect(() => enforceRekeyLimit({} as Client, sock, { bytes: 1 << 20, seconds: 0 })).toThrow(Ssh2InternalsMissing);
    client.end();
  });
});
