import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseKeyBlob } from '../../src/core/ssh/knownHosts';
import { publishedKeys, tailnetKeyOffer } from '../../src/core/ssh/tailnetKeys';
import type { TailscalePeer } from '../../src/core/config/tailscale';

/** An ssh-ed25519 public key blob of a fresh key: string "ssh-ed25519", string 32 key bytes. */
function ed25519Blob(): Buffer {
  const raw = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return Buffer.concat([str(Buffer.from('ssh-ed25519')), str(raw)]);
}
const line = (blob: Buffer, type = 'ssh-ed25519') => `${type} ${blob.toString('base64')}`;

describe('host keys a tailnet publishes', () => {
  const a = ed25519Blob();
  const b = ed25519Blob();
  const peer = (keys: string[]): TailscalePeer => ({ name: 'web-1', ips: ['100.64.0.11'], online: true, self: false, sshHostKeys: keys });

  it('reads type + base64 lines (a comment may follow); drops a mislabelled, garbled or repeated key', () => {
    const keys = publishedKeys([`${line(a)} root@web-1`, line(b, 'ecdsa-sha2-nistp256'), 'ssh-ed25519 !!!', 'ssh-ed25519', line(a), line(b)]);
    expect(keys.map((k) => k.fingerprint)).toEqual([parseKeyBlob(a).fingerprint, parseKeyBlob(b).fingerprint]);
    expect(keys.every((k) => k.keyType === 'ssh-ed25519')).toBe(true);
    expect(keys[0]!.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it('offers exactly the published keys, and says whether the presented key is one of them', () => {
    expect(tailnetKeyOffer(peer([line(a), line(b)]), a)).toMatchObject({ peer: 'web-1', presentedIsPublished: true, keys: [{ blob: a }, { blob: b }] });
    expect(tailnetKeyOffer(peer([line(b)]), a)).toMatchObject({ presentedIsPublished: false, keys: [{ blob: b }] });
    expect(tailnetKeyOffer(peer(['ssh-ed25519 AAAA']), a)).toBeUndefined(); // nothing readable
    expect(tailnetKeyOffer(undefined, a)).toBeUndefined(); // not a tailnet peer
  });
});
