// loadIdentity: PKCS#8 conversion (plain and encrypted), PPK v3 refusal, passphrase re-prompt, no secret in errors.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KeyCache, KeyError, loadIdentity } from '../../src/core/ssh/auth';
import { refusingPrompter, type Prompter } from '../../src/core/types';

const dir = mkdtempSync(join(tmpdir(), 'flotilla-auth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}

function answering(...answers: (string | undefined)[]) {
  const attempts: number[] = [];
  const prompter: Prompter = {
    ...refusingPrompter,
    passphrase: async (_path, attempt) => {
      attempts.push(attempt);
      return answers.shift();
    },
  };
  return { prompter, attempts };
}

describe('loadIdentity', () => {
  it('converts an unencrypted PKCS#8 RSA key without asking', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const file = write('rsa-pkcs8', privateKey);
    const { prompter, attempts } = answering();
    const key = await loadIdentity(file, prompter, new KeyCache());
    expect(key?.type).toBe('ssh-rsa');
    expect(attempts).toEqual([]);
  });

  it('converts an encrypted PKCS#8 ECDSA key, re-asking after a wrong passphrase', async () => {
    const { privateKey } = generateKeyPairSync('ec', {
      namedCurve: 'prime256v1',
      privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'right-pw' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const file = write('ec-pkcs8-enc', privateKey);
    const { prompter, attempts } = answering('wrong-pw', 'right-pw');
    const key = await loadIdentity(file, prompter, new KeyCache());
    expect(key?.type).toBe('ecdsa-sha2-nistp256');
    expect(attempts).toEqual([1, 2]);
  });

  it('gives up after three wrong passphrases with a message that names no passphrase', async () => {
    const { privateKey } = generateKeyPairSync('ec', {
      namedCurve: 'prime256v1',
      privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'the-secret' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const file = write('ec-pkcs8-enc2', privateKey);
    const { prompter, attempts } = answering('bad-1', 'bad-2', 'bad-3');
    const err = await loadIdentity(file, prompter, new KeyCache()).then(() => undefined, (e: unknown) => e as Error);
    expect(err).toBeInstanceOf(KeyError);
    expect(err!.message).toMatch(/wrong passphrase/);
    for (const s of ['bad-1', 'bad-2', 'bad-3', 'the-secret']) expect(err!.message).not.toContain(s);
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('returns undefined (no throw) when the user gives up', async () => {
    const { privateKey } = generateKeyPairSync('ec', {
      namedCurve: 'prime256v1',
      privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const file = write('ec-pkcs8-enc3', privateKey);
    expect(await loadIdentity(file, refusingPrompter, new KeyCache())).toBeUndefined();
  });

  it('refuses a PuTTY PPK v3 key with a conversion hint', async () => {
    const file = write('key.ppk', 'PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: x\nPublic-Lines: 1\nAAAA\n');
    await expect(loadIdentity(file, refusingPrompter, new KeyCache())).rejects.toThrow(/puttygen/);
  });

  it('asks once per key: the decrypted key is cached', async () => {
    const { privateKey } = generateKeyPairSync('ec', {
      namedCurve: 'prime256v1',
      privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const file = write('ec-cached', privateKey);
    const cache = new KeyCache();
    const { prompter, attempts } = answering('pw');
    await loadIdentity(file, prompter, cache);
    await loadIdentity(file, prompter, cache);
    expect(attempts).toEqual([1]);
  });
});
