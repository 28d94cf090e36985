// PubkeyAcceptedAlgorithms applied to what Flotilla offers ssh2 for publickey authentication. ssh2 cannot
// be told which signature algorithm to use; it decides by itself: a non-RSA key signs as its own type, an
// RSA key as rsa-sha2-256 when the server lists it in server-sig-algs, else rsa-sha2-512, else ssh-rsa
// (lib/client.js getKeyAlgos). So a key is offered only when the algorithm ssh2 will use for it is in the
// user's list; any other key is skipped with a note naming the setting, as OpenSSH skips key types that
// are not accepted. (sshd 9.2 lists every algorithm it implements in server-sig-algs, whatever its own
// PubkeyAcceptedAlgorithms, so against OpenSSH ssh2 signs RSA with rsa-sha2-256.) Knowing ssh2's
// choice for RSA needs the server's server-sig-algs, which ssh2 keeps to itself: ssh2Internals.ts's
// observeServerSigAlgs reads it where ssh2 does.
import type { ResolvedHost } from '../types';
import type { ServerSigAlgs } from './ssh2Internals';

/** The signature algorithm ssh2 will use for a key of `keyType` (undefined: it will not use the key). */
export function ssh2SignatureAlgorithm(keyType: string, server: ServerSigAlgs): string | undefined {
  if (keyType !== 'ssh-rsa') return keyType;
  let algs = server.algs;
  if (server.impliesRsaSha2) algs = ['rsa-sha2-256', 'rsa-sha2-512', ...(Array.isArray(algs) ? algs : [])];
  if (!Array.isArray(algs)) return 'ssh-rsa';
  return ['rsa-sha2-256', 'rsa-sha2-512', 'ssh-rsa'].find((a) => algs.includes(a));
}

/** Key types ssh2 can authenticate with (no certificates, no security keys). */
const SSH2_KEY_ALGORITHMS = [
  'ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-256', 'rsa-sha2-512', 'ssh-rsa', 'ssh-dss',
];

export interface PubkeyPolicy {
  /** undefined when the key may be offered; else why not (names the setting). */
  refuse(keyType: string, label: string): string | undefined;
  /** Set when the list allows nothing ssh2 can sign with: the note for the failure message. */
  readonly nothingUsable?: string;
}

/** The policy for a host; no restriction when the config does not set PubkeyAcceptedAlgorithms. */
export function pubkeyPolicy(host: ResolvedHost, server: () => ServerSigAlgs): PubkeyPolicy {
  const option = host.options.get('pubkeyacceptedalgorithms');
  if (!option?.source) return { refuse: () => undefined };
  const allowed = (option.values[0] ?? '').split(',').filter(Boolean);
  const setting = `PubkeyAcceptedAlgorithms (${option.source.file}:${option.source.line})`;
  const usable = allowed.filter((a) => SSH2_KEY_ALGORITHMS.includes(a));
  return {
    nothingUsable: usable.length
      ? undefined
      : `${setting} allows only ${allowed.join(',')}; ssh2 (the SSH library Flotilla uses) signs with none of them ` +
        `(it has no certificates or security keys), so no key was offered. Allow one of ${SSH2_KEY_ALGORITHMS.join(',')}`,
    refuse(keyType, label) {
      const algorithm = ssh2SignatureAlgorithm(keyType, server());
      if (algorithm && allowed.includes(algorithm)) return undefined;
      if (keyType === 'ssh-rsa') {
        return `${label} not offered: ${setting} allows ${allowed.join(',')}, and for this server ssh2 would sign the RSA key ` +
          `with ${algorithm ?? 'no algorithm the server accepts'} (it cannot be told otherwise); add ${algorithm ?? 'rsa-sha2-256'} to use it`;
      }
      return `${label} not offered: key type ${keyType} is not in ${setting}`;
    },
  };
}
