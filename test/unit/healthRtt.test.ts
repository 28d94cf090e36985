// The keepalive round trip (src/core/health/rtt.ts over ssh2Internals.ts's sendKeepalive): an in-process
// ssh2.Server answers the keepalive global request; if an ssh2 upgrade renames the fields, this fails.
import { connect, createServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { Client, Server, utils } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureRoundTrip } from '../../src/core/health/rtt';
import { Ssh2InternalsMissing } from '../../src/core/ssh/ssh2Internals';

let server: Server;
let relay: NetServer;
let client: Client;
/** Added by the relay to every chunk the server sends: the measured round trip must include it. */
const DELAY_MS = 40;
let delaying = false;

beforeAll(async () => {
  const hostKey = utils.generateKeyPairSync('ed25519').private;
  server = new Server({ hostKeys: [hostKey] }, (conn) => {
    conn.on('authentication', (ctx) => ctx.accept());
    // ssh2.Server answers the unknown keepalive@openssh.com request with REQUEST_FAILURE, as sshd does.
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const serverPort = (server.address() as AddressInfo).port;
  relay = createServer((down) => {
    const up = connect(serverPort, '127.0.0.1');
    down.pipe(up);
    up.on('data', (d: Buffer) => (delaying ? setTimeout(() => down.write(d), DELAY_MS) : down.write(d)));
    up.on('close', () => down.destroy());
    down.on('close', () => up.destroy());
    up.on('error', () => down.destroy());
    down.on('error', () => up.destroy());
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', () => r()));
  client = new Client();
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve()).once('error', reject);
    client.connect({ host: '127.0.0.1', port: (relay.address() as AddressInfo).port, username: 'u', password: 'p', hostVerifier: () => true });
  });
});

afterAll(async () => {
  client?.end();
  await new Promise((r) => relay?.close(r));
  await new Promise((r) => server?.close(r));
});

describe('round trip of a keepalive (ssh2 internals guard, in-process ssh2.Server)', () => {
  it('times the answer of the server: a path that is 40 ms slower measures 40 ms more', async () => {
    const fast = await measureRoundTrip(client);
    delaying = true;
    const slow = await measureRoundTrip(client);
    delaying = false;
    expect(fast).toBeLessThan(DELAY_MS);
    expect(slow).toBeGreaterThanOrEqual(DELAY_MS - 1);
    expect(slow).toBeLessThan(DELAY_MS + 500);
  });

  it('concurrent measurements each get their own answer', async () => {
    const all = await Promise.all(Array.from({ length: 5 }, () => measureRoundTrip(client)));
    expect(all).toHaveLength(5);
  });

  it('says clearly when ssh2 no longer has the fields it uses', async () => {
    await expect(measureRoundTrip({} as Client)).rejects.toThrow(Ssh2InternalsMissing);
  });
});

describe('round trip when the connection goes away', () => {
  it('rejects (never reports a figure) when the connection closes before the answer', async () => {
    const c = new Client();
    await new Promise<void>((resolve, reject) => {
      c.once('ready', () => resolve()).once('error', reject);
      c.connect({ host: '127.0.0.1', port: (relay.address() as AddressInfo).port, username: 'u', password: 'p', hostVerifier: () => true });
    });
    delaying = true;
    const pending = measureRoundTrip(c);
    c.end();
    await expect(pending).rejects.toThrow(/closed|No response/);
    delaying = false;
  });
});
