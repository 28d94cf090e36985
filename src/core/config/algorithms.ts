// Algorithm list keywords (Ciphers, MACs, KexAlgorithms, HostKeyAlgorithms, PubkeyAcceptedAlgorithms,
// HostbasedAcceptedAlgorithms, CASignatureAlgorithms) as OpenSSH 9.2 reads and computes them:
// readconf.c validates every line (active or not), kex.c kex_assemble_names() turns `+`/`-`/`^` and
// wildcards into the final list against what the client supports (`ssh -Q ...`).
import { SSH_G_ORDER } from './defaults.js';
import { SshConfigError } from './errors.js';
import { matchPattern } from './patterns.js';

export type AlgorithmKeyword =
  | 'ciphers'
  | 'macs'
  | 'kexalgorithms'
  | 'hostkeyalgorithms'
  | 'pubkeyacceptedalgorithms'
  | 'hostbasedacceptedalgorithms'
  | 'casignaturealgorithms';

/** `ssh -Q key-sig` (sshkey_alg_list(0, 0, 1)) on OpenSSH 9.2. */
const ALL_KEYS = [
  'ssh-ed25519', 'ssh-ed25519-cert-v01@openssh.com', 'sk-ssh-ed25519@openssh.com', 'sk-ssh-ed25519-cert-v01@openssh.com',
  'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp256-cert-v01@openssh.com', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp384-cert-v01@openssh.com',
  'ecdsa-sha2-nistp521', 'ecdsa-sha2-nistp521-cert-v01@openssh.com', 'sk-ecdsa-sha2-nistp256@openssh.com',
  'sk-ecdsa-sha2-nistp256-cert-v01@openssh.com', 'webauthn-sk-ecdsa-sha2-nistp256@openssh.com', 'ssh-dss', 'ssh-dss-cert-v01@openssh.com',
  'ssh-rsa', 'ssh-rsa-cert-v01@openssh.com', 'rsa-sha2-256', 'rsa-sha2-256-cert-v01@openssh.com', 'rsa-sha2-512',
  'rsa-sha2-512-cert-v01@openssh.com',
];

/** What the client implements, in OpenSSH's own order (`ssh -Q cipher|mac|kex|key-sig|sig`). */
export const SUPPORTED_ALGORITHMS: Readonly<Record<AlgorithmKeyword, readonly string[]>> = {
  ciphers: [
    '3des-cbc', 'aes128-cbc', 'aes192-cbc', 'aes256-cbc', 'aes128-ctr', 'aes192-ctr', 'aes256-ctr', 'aes128-gcm@openssh.com',
    'aes256-gcm@openssh.com', 'chacha20-poly1305@openssh.com',
  ],
  macs: [
    'hmac-sha1', 'hmac-sha1-96', 'hmac-sha2-256', 'hmac-sha2-512', 'hmac-md5', 'hmac-md5-96', 'umac-64@openssh.com',
    'umac-128@openssh.com', 'hmac-sha1-etm@openssh.com', 'hmac-sha1-96-etm@openssh.com', 'hmac-sha2-256-etm@openssh.com',
    'hmac-sha2-512-etm@openssh.com', 'hmac-md5-etm@openssh.com', 'hmac-md5-96-etm@openssh.com', 'umac-64-etm@openssh.com',
    'umac-128-etm@openssh.com',
  ],
  kexalgorithms: [
    'diffie-hellman-group1-sha1', 'diffie-hellman-group14-sha1', 'diffie-hellman-group14-sha256', 'diffie-hellman-group16-sha512',
    'diffie-hellman-group18-sha512', 'diffie-hellman-group-exchange-sha1', 'diffie-hellman-group-exchange-sha256',
    'ecdh-sha2-nistp256', 'ecdh-sha2-nistp384', 'ecdh-sha2-nistp521', 'curve25519-sha256', 'curve25519-sha256@libssh.org',
    'sntrup761x25519-sha512', 'sntrup761x25519-sha512@openssh.com',
  ],
  hostkeyalgorithms: ALL_KEYS,
  pubkeyacceptedalgorithms: ALL_KEYS,
  hostbasedacceptedalgorithms: ALL_KEYS,
  casignaturealgorithms: [
    'ssh-ed25519', 'sk-ssh-ed25519@openssh.com', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521',
    'sk-ecdsa-sha2-nistp256@openssh.com', 'webauthn-sk-ecdsa-sha2-nistp256@openssh.com', 'ssh-dss', 'ssh-rsa', 'rsa-sha2-256',
    'rsa-sha2-512',
  ],
};

/** The keyword as users write it, for messages. */
export const ALGORITHM_KEYWORD_NAMES: Readonly<Record<AlgorithmKeyword, string>> = {
  ciphers: 'Ciphers',
  macs: 'MACs',
  kexalgorithms: 'KexAlgorithms',
  hostkeyalgorithms: 'HostKeyAlgorithms',
  pubkeyacceptedalgorithms: 'PubkeyAcceptedAlgorithms',
  hostbasedacceptedalgorithms: 'HostbasedAcceptedAlgorithms',
  casignaturealgorithms: 'CASignatureAlgorithms',
};

/** readconf.c's message for a bad spec, per keyword. */
const BAD_SPEC: Readonly<Record<AlgorithmKeyword, string>> = {
  ciphers: 'Bad SSH2 cipher spec',
  macs: 'Bad SSH2 MAC spec',
  kexalgorithms: 'Bad SSH2 KexAlgorithms',
  hostkeyalgorithms: 'Bad key types',
  pubkeyacceptedalgorithms: 'Bad key types',
  hostbasedacceptedalgorithms: 'Bad key types',
  casignaturealgorithms: 'Bad key types',
};

export function isAlgorithmKeyword(key: string): key is AlgorithmKeyword {
  return key in SUPPORTED_ALGORITHMS;
}

/** Key-type lists accept wildcards (sshkey_names_valid2 with allow_wildcard); cipher/MAC/KEX lists take exact names. */
function allowsWildcards(key: AlgorithmKeyword): boolean {
  return key !== 'ciphers' && key !== 'macs' && key !== 'kexalgorithms';
}

/** The default list `ssh -G` prints (the compiled-in list filtered by what is supported). */
export function defaultAlgorithms(key: AlgorithmKeyword): string {
  return SSH_G_ORDER.find(([k]) => k === key)![1]!;
}

/** Validates one line's spec like readconf.c; `-` lists are not validated (OpenSSH does not either). */
export function validateAlgorithmSpec(key: AlgorithmKeyword, spec: string, where: { file: string; line: number }): void {
  if (spec.startsWith('-')) return;
  const names = spec.startsWith('+') || spec.startsWith('^') ? spec.slice(1) : spec;
  const supported = SUPPORTED_ALGORITHMS[key];
  const valid =
    names !== '' &&
    names.split(',').every((name) => {
      if (name === '') return false;
      if (supported.includes(name)) return true;
      if (!allowsWildcards(key)) return false;
      const pattern = name.startsWith('!') ? name.slice(1) : name;
      return supported.some((s) => matchPattern(s, pattern));
    });
  if (!valid) {
    throw new SshConfigError(
      `${BAD_SPEC[key]} '${spec}' for ${ALGORITHM_KEYWORD_NAMES[key]} (this OpenSSH knows: ${supported.join(',')})`,
      where,
    );
  }
}

/** kex.c kex_names_cat(): `a` then the names of `b` not already in it. */
function namesCat(a: readonly string[], b: readonly string[]): string[] {
  const out = [...a];
  for (const name of b) if (name !== '' && !out.includes(name)) out.push(name);
  return out;
}

/** The names of `all`, in `all`'s order, matching any pattern of the comma list. */
function filterAllow(all: readonly string[], patterns: string): string[] {
  const list = patterns.split(',');
  return all.filter((name) => list.some((p) => matchPattern(name, p)));
}

/**
 * kex.c kex_assemble_names(): the final comma list for a configured spec (or the default when
 * unset). `+` appends to the default, `^` prepends, `-` removes matches; otherwise the list replaces
 * the default. Patterns are expanded against the supported algorithms.
 */
export function assembleAlgorithms(key: AlgorithmKeyword, spec: string | undefined, where?: { file: string; line: number }): string {
  const defaults = defaultAlgorithms(key).split(',');
  if (spec === undefined || spec === '') return defaults.join(',');
  const all = SUPPORTED_ALGORITHMS[key];
  let list: string[];
  if (spec.startsWith('+')) list = namesCat(defaults, spec.slice(1).split(','));
  else if (spec.startsWith('-')) {
    const patterns = spec.slice(1).split(',');
    return defaults.filter((name) => !patterns.some((p) => matchPattern(name, p))).join(',');
  } else if (spec.startsWith('^')) list = namesCat(spec.slice(1).split(','), defaults);
  else list = spec.split(',');
  let out: string[] = [];
  for (const pattern of list) {
    if (pattern.startsWith('!')) {
      throw new SshConfigError(`${ALGORITHM_KEYWORD_NAMES[key]} "${spec}": negated patterns ("!") are not allowed here`, where);
    }
    out = namesCat(out, filterAllow(all, pattern));
  }
  if (out.length === 0) {
    throw new SshConfigError(`${ALGORITHM_KEYWORD_NAMES[key]} "${spec}" leaves no algorithm`, where);
  }
  return out.join(',');
}
