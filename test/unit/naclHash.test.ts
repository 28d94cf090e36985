// The bundles take bcrypt-pbkdf's SHA-512 from node:crypto instead of tweetnacl (esbuild.mjs aliases
// tweetnacl to src/core/ssh/naclHash.ts): the same bytes, and passphrase-protected OpenSSH keys still open.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { describe, expect, it, onTestFinished } from 'vitest';
import { lowlevel } from '../../src/core/ssh/naclHash';

const require = createRequire(import.meta.url);
const nacl = require('tweetnacl') as { lowlevel: typeof lowlevel };
const ssh2 = require('ssh2') as typeof import('ssh2');

describe("bcrypt-pbkdf's SHA-512 without tweetnacl", () => {
  it('writes the bytes tweetnacl writes, for any length and a prefix of the buffer', () => {
    for (const len of [0, 1, 63, 64, 111, 112, 127, 128, 129, 1000]) {
      const m = randomBytes(len + 7);
      const [ours, theirs] = [new Uint8Array(64), new Uint8Array(64)];
      expect(lowlevel.crypto_hash(ours, m, len)).toBe(nacl.lowlevel.crypto_hash(theirs, m, len));
      expect(Buffer.from(ours).toString('hex'), `length ${len}`).toBe(Buffer.from(theirs).toString('hex'));
    }
  });

  it('a keyParser bundled as esbuild.mjs bundles it opens a passphrase-protected OpenSSH key', async () => {
    const { common } = (await import(pathToFileURL('esbuild.mjs').href)) as { common: esbuild.BuildOptions };
    const dir = mkdtempSync(join(tmpdir(), 'nacl-hash-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const out = await esbuild.build({
      ...common, sourcemap: false, metafile: true, outfile: join(dir, 'keyParser.js'),
      stdin: { contents: "module.exports = require('ssh2/lib/protocol/keyParser.js');", resolveDir: process.cwd() },
    });
    const inputs = Object.keys(out.metafile.inputs);
    expect([inputs.filter((f) => f.includes('tweetnacl')), inputs.includes('src/core/ssh/naclHash.ts')]).toEqual([[], true]);
    const bundled = require(join(dir, 'keyParser.js')) as Pick<typeof ssh2.utils, 'parseKey'>;

    const pair = ssh2.utils.generateKeyPairSync('ed25519', { passphrase: 'right-pw', cipher: 'aes256-ctr', rounds: 8 });
    const key = bundled.parseKey(pair.private, 'right-pw');
    if (key instanceof Error || Array.isArray(key)) throw key;
    expect(key.getPublicSSH().toString('base64')).toBe(pair.public.split(' ')[1]);
    expect(bundled.parseKey(pair.private, 'wrong-pw')).toBeInstanceOf(Error);
  });
});
