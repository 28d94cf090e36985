import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { runOk } from './run.js';

/** Generates an ed25519 key pair at `file` (+ `.pub`). Empty passphrase means unencrypted. */
export async function generateKey(file: string, comment: string, passphrase = ''): Promise<void> {
  await runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', comment, '-f', file]);
}

/** "ssh-ed25519 AAAA..." without the comment. */
export async function publicKeyOf(file: string): Promise<string> {
  const text = await readFile(`${file}.pub`, 'utf8');
  const [type, blob] = text.trim().split(/\s+/);
  return `${type} ${blob}`;
}

/** "SHA256:..." as `ssh-keygen -lf` prints it (computed here: a 500-host lab saves 500 processes). */
export async function fingerprintOf(file: string): Promise<string> {
  const blob = (await publicKeyOf(file)).split(' ')[1];
  if (!blob) throw new Error(`${file}.pub holds no key`);
  return `SHA256:${createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64').replace(/=+$/, '')}`;
}
