// Algorithm lists: kex_assemble_names semantics, and the guarded use of ssh2's private algorithm tables.
import { describe, expect, it } from 'vitest';
import { assembleAlgorithms, SUPPORTED_ALGORITHMS, validateAlgorithmSpec } from '../../src/core/config/algorithms.js';
import { SshConfigError } from '../../src/core/config/errors.js';
import { hostKeyAlgorithmOrder, negotiationFailure, remoteOfferRecorder, ssh2Algorithms, ssh2AlgorithmsFor } from '../../src/core/ssh/algorithms.js';
import type { ResolvedHost, ResolvedOption } from '../../src/core/types.js';

const where = { file: '/cfg', line: 3 };

function hostWith(options: Record<string, string>): ResolvedHost {
  const map = new Map<string, ResolvedOption>();
  for (const [key, value] of Object.entries(options)) map.set(key, { key, values: [value], source: where });
  return { alias: 'web', options: map } as unknown as ResolvedHost;
}

describe('assembleAlgorithms (kex_assemble_names)', () => {
  it('+ appends, ^ prepends, - removes by pattern, without duplicates', () => {
    expect(assembleAlgorithms('ciphers', '+aes128-cbc,aes128-ctr').split(',').slice(-2)).toEqual(['aes256-gcm@openssh.com', 'aes128-cbc']);
    expect(assembleAlgorithms('ciphers', '^aes128-cbc').split(',')[0]).toBe('aes128-cbc');
    expect(assembleAlgorithms('macs', '-*sha1*')).not.toMatch(/sha1/);
    expect(assembleAlgorithms('ciphers', 'aes256-ctr,aes256-ctr,aes128-ctr')).toBe('aes256-ctr,aes128-ctr');
  });

  it('expands key-type wildcards in OpenSSH order and refuses "!"', () => {
    expect(assembleAlgorithms('hostkeyalgorithms', 'ssh-ed25519*')).toBe('ssh-ed25519,ssh-ed25519-cert-v01@openssh.com');
    expect(() => assembleAlgorithms('hostkeyalgorithms', '!ssh-rsa', where)).toThrow(SshConfigError);
  });

  it('validates like readconf.c: names must exist, wildcards only for key types, "-" lists unchecked', () => {
    expect(() => validateAlgorithmSpec('ciphers', '+arcfour', where)).toThrow(/\/cfg:3: Bad SSH2 cipher spec '\+arcfour'/);
    expect(() => validateAlgorithmSpec('ciphers', 'aes*', where)).toThrow(/Bad SSH2 cipher spec/);
    expect(() => validateAlgorithmSpec('pubkeyacceptedalgorithms', '+ssh-rs*', where)).not.toThrow();
    expect(() => validateAlgorithmSpec('macs', '-anything', where)).not.toThrow();
  });
});

describe("ssh2's algorithm tables (private API, guarded in src/core/ssh/algorithms.ts)", () => {
  it('still exist with the names this module relies on (fails when an ssh2 upgrade moves them)', () => {
    expect(ssh2Algorithms().cipher.supported).toContain('aes128-cbc');
    expect(ssh2Algorithms().cipher.defaults).not.toContain('aes128-cbc');
    expect(ssh2Algorithms().hmac.supported).toContain('hmac-sha2-256');
    expect(ssh2Algorithms().kex.supported).toContain('curve25519-sha256');
    expect(ssh2Algorithms().serverHostKey.supported).toContain('ssh-ed25519');
    for (const info of Object.values(ssh2Algorithms())) expect(info.defaults.every((a) => info.supported.includes(a))).toBe(true);
  });

  it('every ssh2 name of a kind is one OpenSSH knows (the names are the same)', () => {
    const openssh = new Set([...SUPPORTED_ALGORITHMS.ciphers, ...SUPPORTED_ALGORITHMS.macs, ...SUPPORTED_ALGORITHMS.kexalgorithms, ...SUPPORTED_ALGORITHMS.hostkeyalgorithms]);
    expect(ssh2Algorithms().cipher.defaults.filter((a) => !openssh.has(a))).toEqual([]);
  });
});

describe('ssh2AlgorithmsFor', () => {
  it('passes configured lists in config order limited to what ssh2 has; unset lists keep ssh2 defaults', () => {
    const a = ssh2AlgorithmsFor(hostWith({ ciphers: 'chacha20-poly1305@openssh.com,aes128-cbc', macs: 'umac-64@openssh.com,hmac-sha2-256' }), ['ssh-ed25519']);
    expect(a.cipher).toEqual(['chacha20-poly1305@openssh.com', 'aes128-cbc']);
    expect(a.hmac).toEqual(['hmac-sha2-256']);
    expect(a.kex).toBeUndefined();
    expect(a.serverHostKey).toEqual(['ssh-ed25519']);
  });

  it('HostKeyAlgorithms from the config replaces the known_hosts order', () => {
    expect(ssh2AlgorithmsFor(hostWith({ hostkeyalgorithms: 'rsa-sha2-256,ssh-ed25519-cert-v01@openssh.com' }), hostKeyAlgorithmOrder([])).serverHostKey).toEqual(['rsa-sha2-256']);
  });

  it('refuses a list ssh2 cannot honour at all, naming the setting and file:line', () => {
    expect(() => ssh2AlgorithmsFor(hostWith({ kexalgorithms: 'sntrup761x25519-sha512@openssh.com' }), [])).toThrow(
      /^web: KexAlgorithms \(\/cfg:3\) allows only sntrup761x25519-sha512@openssh\.com, and ssh2 .* implements none of them/,
    );
  });

  it('reads which list failed and what the server offered', () => {
    expect(negotiationFailure('web: Handshake failed: no matching C->S cipher')).toBe('cipher');
    expect(negotiationFailure('web: Handshake failed: no matching key exchange algorithm')).toBe('kex');
    const r = remoteOfferRecorder();
    r.debug('Handshake: (remote) C->S cipher: aes128-cbc,3des-cbc');
    expect(r.offers.cipher).toEqual(['aes128-cbc', '3des-cbc']);
  });
});
