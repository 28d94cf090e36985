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

/** "SHA256:..." as `ssh-keygen -lf` prints it. */
export async function fingerprintOf(file: string): Promise<string> {
  const output = await runOk('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`]);
  const fingerprint = output.split(/\s+/)[1];
  if (!fingerprint?.startsWith('SHA256:')) throw new Error(`unexpected ssh-keygen -l output: ${output}`);
  return fingerprint;
}
