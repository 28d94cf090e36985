// All that bcrypt-pbkdf (ssh2's key derivation for passphrase-protected OpenSSH keys) takes from tweetnacl:
// SHA-512 as `lowlevel.crypto_hash(out, m, n)`. The bundles alias tweetnacl to this module (esbuild.mjs), so
// node:crypto's SHA-512 stands in for 34 KiB of tweetnacl. test/unit/naclHash.test.ts holds it to tweetnacl's
// output and decrypts a passphrase key with a keyParser bundled the way esbuild.mjs bundles it.
import { createHash } from 'node:crypto';

export const lowlevel = {
  crypto_hash(out: Uint8Array, m: Uint8Array, n: number): number {
    out.set(createHash('sha512').update(m.subarray(0, n)).digest());
    return 0;
  },
};
