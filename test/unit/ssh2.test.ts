// src/core/ssh/ssh2Lib.cjs loads ssh2's client side from its lib files (the package's index also loads the server
// and key generation); an ssh2 upgrade that moves them must fail here, not in a user's connection.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { ssh2 as lazySsh2 } from '../../src/core/ssh/ssh2';

const ssh2 = createRequire(import.meta.url)('ssh2') as typeof import('ssh2');

describe("ssh2's client side from its lib files", () => {
  it('are the very objects ssh2 exports', () => {
    const lib = lazySsh2();
    expect(lib.Client).toBe(ssh2.Client);
    expect(lib.BaseAgent).toBe(ssh2.BaseAgent);
    expect(lib.createAgent).toBe(ssh2.createAgent);
    expect(lib.parseKey).toBe(ssh2.utils.parseKey);
    expect(lib.constants.COMPAT.IMPLY_RSA_SHA2_SIGALGS).toEqual(expect.any(Number));
    expect(lib.constants.SUPPORTED_KEX).toContain('curve25519-sha256');
  });
});
