// The one module that reaches into ssh2's algorithm tables (lib/protocol/constants.js is not public
// API; test/unit/sshConfigAlgorithms.test.ts fails when an upgrade moves them). It maps the resolved
// Ciphers / MACs / KexAlgorithms / HostKeyAlgorithms onto ssh2's `algorithms` option and explains a
// failed negotiation in terms of the ssh_config setting to change.
import type { Algorithms } from 'ssh2';
import type { ResolvedHost } from '../types';
import { ssh2 } from './ssh2';

export type NegotiatedKind = 'kex' | 'serverHostKey' | 'cipher' | 'hmac';

interface KindInfo {
  /** The ssh_config keyword that feeds it. */
  keyword: 'KexAlgorithms' | 'HostKeyAlgorithms' | 'Ciphers' | 'MACs';
  option: string;
  supported: readonly string[];
  defaults: readonly string[];
}

let tables: Readonly<Record<NegotiatedKind, KindInfo>> | undefined;

/** ssh2's algorithm tables per list (read when first needed: they load ssh2). */
export function ssh2Algorithms(): Readonly<Record<NegotiatedKind, KindInfo>> {
  if (tables) return tables;
  const c = ssh2().constants;
  return (tables = {
    kex: { keyword: 'KexAlgorithms', option: 'kexalgorithms', supported: c.SUPPORTED_KEX, defaults: c.DEFAULT_KEX },
    serverHostKey: { keyword: 'HostKeyAlgorithms', option: 'hostkeyalgorithms', supported: c.SUPPORTED_SERVER_HOST_KEY, defaults: c.DEFAULT_SERVER_HOST_KEY },
    cipher: { keyword: 'Ciphers', option: 'ciphers', supported: c.SUPPORTED_CIPHER, defaults: c.DEFAULT_CIPHER },
    hmac: { keyword: 'MACs', option: 'macs', supported: c.SUPPORTED_MAC, defaults: c.DEFAULT_MAC },
  });
}

/** An algorithm setting Flotilla cannot honour: nothing the user allows is implemented by ssh2. */
export class AlgorithmSettingError extends Error {}

function where(host: ResolvedHost, option: string): string {
  const source = host.options.get(option)?.source;
  return source ? ` (${source.file}:${source.line})` : '';
}

/** The configured list in config order, limited to what ssh2 implements; undefined when the config does not set it. */
function configured(host: ResolvedHost, kind: NegotiatedKind): string[] | undefined {
  const info = ssh2Algorithms()[kind];
  const option = host.options.get(info.option);
  if (!option?.source) return undefined;
  const wanted = (option.values[0] ?? '').split(',').filter(Boolean);
  const usable = wanted.filter((a) => info.supported.includes(a));
  if (usable.length === 0) {
    throw new AlgorithmSettingError(
      `${host.alias}: ${info.keyword}${where(host, info.option)} allows only ${wanted.join(',') || '(nothing)'}, ` +
        `and ssh2 (the SSH library Flotilla uses) implements none of them; it implements ${info.supported.join(',')}. ` +
        `Allow one of those for this host, e.g. "${info.keyword} +${info.defaults[0]}".`,
    );
  }
  return usable;
}

/**
 * ssh2's `algorithms` for a host. Lists the config sets are passed in the config's order (so
 * `Ciphers +aes128-cbc` offers aes128-cbc); unset lists keep ssh2's defaults. `hostKeyOrder` is the
 * known_hosts-driven order used when HostKeyAlgorithms is not set, as OpenSSH does.
 */
export function ssh2AlgorithmsFor(host: ResolvedHost, hostKeyOrder: readonly string[]): Algorithms {
  const algorithms: Algorithms = {
    serverHostKey: (configured(host, 'serverHostKey') ?? hostKeyOrder) as Algorithms['serverHostKey'],
  };
  const kex = configured(host, 'kex');
  if (kex) algorithms.kex = kex as Algorithms['kex'];
  const cipher = configured(host, 'cipher');
  if (cipher) algorithms.cipher = cipher as Algorithms['cipher'];
  const hmac = configured(host, 'hmac');
  if (hmac) algorithms.hmac = hmac as Algorithms['hmac'];
  return algorithms;
}

/**
 * A complete, exact list for ssh2's `algorithms.serverHostKey` in OpenSSH's own order: the recorded types ssh2
 * implements first, then ssh2's defaults. An exact array because ssh2's `prepend` does not move algorithms
 * already in its default list.
 */
export function hostKeyAlgorithmOrder(recorded: readonly string[]): string[] {
  const { supported, defaults } = ssh2Algorithms().serverHostKey;
  const first = recorded.filter((a) => supported.includes(a));
  return [...first, ...defaults.filter((a) => !first.includes(a))];
}

const FAILURE: ReadonlyArray<[RegExp, NegotiatedKind]> = [
  [/no matching key exchange algorithm/, 'kex'],
  [/no matching host key format/, 'serverHostKey'],
  [/no matching (C->S|S->C) cipher/, 'cipher'],
  [/no matching (C->S|S->C) MAC/, 'hmac'],
];

/** Which list a failed handshake could not agree on, from ssh2's error message. */
export function negotiationFailure(message: string): NegotiatedKind | undefined {
  return FAILURE.find(([re]) => re.test(message))?.[1];
}

const REMOTE_LINE: ReadonlyArray<[string, NegotiatedKind]> = [
  ['Handshake: (remote) KEX method: ', 'kex'],
  ['Handshake: (remote) Host key format: ', 'serverHostKey'],
  ['Handshake: (remote) C->S cipher: ', 'cipher'],
  ['Handshake: (remote) C->S MAC: ', 'hmac'],
];

/** A `debug` sink for ssh2 that records what the server offers (used only for the diagnostic re-attempt). */
export function remoteOfferRecorder(): { debug: (line: string) => void; offers: Partial<Record<NegotiatedKind, string[]>> } {
  const offers: Partial<Record<NegotiatedKind, string[]>> = {};
  return {
    offers,
    debug(line: string) {
      for (const [prefix, kind] of REMOTE_LINE) {
        if (line.startsWith(prefix)) offers[kind] = line.slice(prefix.length).split(',').filter(Boolean);
      }
    },
  };
}

/** The message for a handshake that found no common algorithm, naming the setting and what ssh2 lacks. */
export function explainNegotiationFailure(host: ResolvedHost, kind: NegotiatedKind, offered: readonly string[] | undefined, original: string): string {
  const info = ssh2Algorithms()[kind];
  const setting = `${info.keyword}${where(host, info.option)}`;
  const ours = host.options.get(info.option)?.source ? `your ${setting} setting` : `ssh2's defaults (${info.keyword} is not set)`;
  if (!offered || offered.length === 0) return `${host.alias}: ${original}; Flotilla offered ${ours}`;
  const usable = offered.filter((a) => info.supported.includes(a));
  if (usable.length === 0) {
    return (
      `${host.alias}: the server accepts only ${info.keyword} ${offered.join(',')}, which ssh2 (the SSH library Flotilla uses) does not implement, ` +
      `so Flotilla cannot connect to this host (OpenSSH may). Enable one of ${info.supported.join(',')} on the server.`
    );
  }
  return (
    `${host.alias}: the server accepts only ${info.keyword} ${offered.join(',')}; none of them is allowed by ${ours}. ` +
    `Add "${info.keyword} +${usable[0]}" for this host in your ssh config.`
  );
}
