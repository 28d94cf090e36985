// Guards src/core/ssh/pubkeyAlgorithms.ts: it reads the server's server-sig-algs where ssh2 keeps it and
// predicts which signature algorithm ssh2 uses for a key. A real in-process ssh2.Server records the
// algorithm the client actually used; if an ssh2 upgrade changes the field or its own choice, this fails.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Client, Server, utils } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pubkeyPolicy, ssh2SignatureAlgorithm } from '../../src/core/ssh/pubkeyAlgorithms';
import { observeServerSigAlgs, Ssh2InternalsMissing } from '../../src/core/ssh/ssh2Internals';
import type { ResolvedHost } from '../../src/core/types';

let server: Server;
const usedAlgorithms: string[] = [];

beforeAll(async () => {
  const hostKey = utils.generateKeyPairSync('ed25519').private;
  server = new Server({ hostKeys: [hostKey] }, (conn) => {
    conn.on('authentication', (ctx) => {
      if (ctx.method !== 'publickey') return ctx.reject(['publickey']);
      if (!ctx.signature) return ctx.accept(); // the query before the signature
      // ssh2's server reports an rsa-sha2-* signature as key type ssh-rsa plus its hash.
      const rsaSha2: Record<string, string> = { sha256: 'rsa-sha2-256', sha512: 'rsa-sha2-512' };
      usedAlgorithms.push((ctx.key.algo === 'ssh-rsa' && ctx.hashAlgo && rsaSha2[ctx.hashAlgo]) || ctx.key.algo);
      ctx.accept();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
});

afterAll(() => server?.close());

function connectWith(privateKey: string): { client: Client; observed: ReturnType<typeof observeServerSigAlgs>; ready: Promise<unknown> } {
  const client = new Client();
  const ready = once(client, 'ready');
  client.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, username: 'u', privateKey, hostVerifier: () => true });
  return { client, observed: observeServerSigAlgs(client), ready };
}

describe('server-sig-algs and ssh2\'s signature choice (ssh2 internals guard, in-process ssh2.Server)', () => {
  it('reads the server\'s list and predicts the algorithm ssh2 signs an RSA key with', async () => {
    const { client, observed, ready } = connectWith(utils.generateKeyPairSync('rsa', { bits: 2048 }).private);
    await ready;
    const server = observed();
    expect(server.algs).toContain('rsa-sha2-256');
    expect(usedAlgorithms.at(-1)).toBe(ssh2SignatureAlgorithm('ssh-rsa', server));
    client.end();
  });

  it('a non-RSA key signs as its own type', async () => {
    const { client, observed, ready } = connectWith(utils.generateKeyPairSync('ecdsa', { bits: 256 }).private);
    await ready;
    expect(usedAlgorithms.at(-1)).toBe(ssh2SignatureAlgorithm('ecdsa-sha2-nistp256', observed()));
    client.end();
  });

  it('says clearly when ssh2 no longer has the field it reads', () => {
    expect(() => observeServerSigAlgs({} as Client)).toThrow(Ssh2InternalsMissing);
  });
});

describe('ssh2SignatureAlgorithm (ssh2\'s rule)', () => {
  it('RSA: sha2-256 first, then sha2-512, then ssh-rsa; ssh-rsa without a list', () => {
    expect(ssh2SignatureAlgorithm('ssh-rsa', { algs: ['rsa-sha2-512', 'rsa-sha2-256'], impliesRsaSha2: false })).toBe('rsa-sha2-256');
    expect(ssh2SignatureAlgorithm('ssh-rsa', { algs: ['ssh-ed25519', 'rsa-sha2-512'], impliesRsaSha2: false })).toBe('rsa-sha2-512');
    expect(ssh2SignatureAlgorithm('ssh-rsa', { algs: ['ssh-ed25519'], impliesRsaSha2: false })).toBeUndefined();
    expect(ssh2SignatureAlgorithm('ssh-rsa', { algs: undefined, impliesRsaSha2: false })).toBe('ssh-rsa');
    expect(ssh2SignatureAlgorithm('ssh-rsa', { algs: null, impliesRsaSha2: true })).toBe('rsa-sha2-256');
  });
});

function hostWith(list: string | undefined): ResolvedHost {
  const options = new Map(
    list === undefined ? [] : [['pubkeyacceptedalgorithms', { key: 'pubkeyacceptedalgorithms', values: [list], source: { file: 'cfg', line: 3 } }]],
  );
  return { alias: 'web', options } as unknown as ResolvedHost;
}

describe('pubkeyPolicy', () => {
  const modern = () => ({ algs: ['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256'], impliesRsaSha2: false });

  it('no setting: every key is offered', () => {
    expect(pubkeyPolicy(hostWith(undefined), modern).refuse('ssh-rsa', 'k')).toBeUndefined();
  });

  it('a key type not in the list is refused, naming the setting with file:line', () => {
    const policy = pubkeyPolicy(hostWith('ecdsa-sha2-nistp256'), modern);
    expect(policy.refuse('ssh-ed25519', 'id_ed25519')).toBe('id_ed25519 not offered: key type ssh-ed25519 is not in PubkeyAcceptedAlgorithms (cfg:3)');
    expect(policy.refuse('ecdsa-sha2-nistp256', 'id_ecdsa')).toBeUndefined();
  });

  it('RSA is offered when the algorithm ssh2 will pick for this server is allowed', () => {
    expect(pubkeyPolicy(hostWith('rsa-sha2-256'), modern).refuse('ssh-rsa', 'k')).toBeUndefined();
    const only512 = pubkeyPolicy(hostWith('rsa-sha2-512'), modern).refuse('ssh-rsa', 'id_rsa');
    expect(only512).toMatch(/^id_rsa not offered: PubkeyAcceptedAlgorithms \(cfg:3\) allows rsa-sha2-512, and for this server ssh2 would sign the RSA key with rsa-sha2-256/);
    // A server that lists only rsa-sha2-512: ssh2 picks it, so the same setting works.
    expect(pubkeyPolicy(hostWith('rsa-sha2-512'), () => ({ algs: ['rsa-sha2-512'], impliesRsaSha2: false })).refuse('ssh-rsa', 'k')).toBeUndefined();
  });

  it('a list with nothing ssh2 can sign with says so', () => {
    expect(pubkeyPolicy(hostWith('sk-ssh-ed25519@openssh.com,ssh-ed25519-cert-v01@openssh.com'), modern).nothingUsable).toMatch(
      /^PubkeyAcceptedAlgorithms \(cfg:3\) allows only sk-ssh-ed25519@openssh\.com,ssh-ed25519-cert-v01@openssh\.com; ssh2 .* signs with none of them/,
    );
  });
});

