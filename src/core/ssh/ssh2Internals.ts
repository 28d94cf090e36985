// The only module that reaches into ssh2's private members (known to hold for ssh2 1.17). Each use checks
// that what it needs is there: the ones a setting depends on throw Ssh2InternalsMissing, naming the member
// (the connection then fails saying which setting cannot be applied); the speed-ups return undefined and the
// caller takes the public path. test/unit/ssh2Internals.test.ts fails when an ssh2 upgrade renames one.
import type { Client, ClientChannel, SFTPWrapper } from 'ssh2';
import { ssh2 } from './ssh2';

export class Ssh2InternalsMissing extends Error {
  constructor(members: string, purpose: string) {
    super(`this ssh2 version does not expose ${members}, which Flotilla uses ${purpose}`);
  }
}

type Handler = (this: unknown, ...args: never[]) => unknown;
type DataSender = (this: unknown, ...args: unknown[]) => unknown;

/** `client._protocol`, there once `client.connect()` has been called. */
interface Protocol {
  rekey(): void;
  ping(): void;
  channelData: DataSender;
  channelExtData: DataSender;
  _handlers: { EXT_INFO?: Handler; GLOBAL_REQUEST?: Handler };
  _compatFlags: number;
}

interface ClientInternals {
  _protocol?: Partial<Protocol>;
  /** Replies to global requests, answered in request order. */
  _callbacks?: Array<(hadErr: unknown, data?: unknown) => void>;
  _sock?: { writable?: boolean };
}

const internalsOf = (client: Client) => client as unknown as ClientInternals;

// ---- Key exchange on demand (RekeyLimit) -------------------------------------------------------------------

export interface RekeyHooks {
  /** Starts a key exchange now. */
  rekey(): void;
  /**
   * Calls `before(data)` ahead of each outgoing channel data packet (where OpenSSH checks its limit); the
   * returned function puts ssh2's own senders back.
   */
  beforeChannelData(before: (data: unknown) => void): () => void;
}

export function rekeyHooks(client: Client): RekeyHooks {
  const protocol = internalsOf(client)._protocol;
  if (!protocol || !(['rekey', 'channelData', 'channelExtData'] as const).every((m) => typeof protocol[m] === 'function')) {
    throw new Ssh2InternalsMissing('Client._protocol.rekey / channelData / channelExtData', 'to apply RekeyLimit');
  }
  const p = protocol as Protocol;
  return {
    rekey: () => p.rekey(),
    beforeChannelData: (before) => {
      const { channelData, channelExtData } = p;
      const wrap = (send: DataSender): DataSender => function (this: unknown, ...args: unknown[]) {
        before(args[1]);
        return send.apply(this, args);
      };
      p.channelData = wrap(channelData);
      p.channelExtData = wrap(channelExtData);
      return () => {
        p.channelData = channelData;
        p.channelExtData = channelExtData;
      };
    },
  };
}

// ---- The keepalive round trip (health rtt) ------------------------------------------------------------------

/**
 * Sends `keepalive@openssh.com` wanting a reply, as ssh2's own keepalive does (`_protocol.ping`), and calls
 * `onAnswer` with the reply in its turn (`_callbacks`): `true` failure, `false` success, an Error when the
 * connection closed first. False (nothing sent) when the connection's socket is no longer writable.
 */
export function sendKeepalive(client: Client, onAnswer: (hadErr: unknown) => void): boolean {
  const c = internalsOf(client);
  if (!Array.isArray(c._callbacks) || typeof c._protocol?.ping !== 'function') {
    throw new Ssh2InternalsMissing('Client._callbacks / _protocol.ping', 'to time the keepalive round trip');
  }
  if (c._sock && c._sock.writable === false) return false;
  c._callbacks.push(onAnswer);
  c._protocol.ping();
  return true;
}

// ---- The server's signature algorithms (PubkeyAcceptedAlgorithms) --------------------------------------------

/** What ssh2 knows of the server: `undefined` before (or without) EXT_INFO, `null` when it names no server-sig-algs. */
export interface ServerSigAlgs {
  readonly algs: readonly string[] | null | undefined;
  /** OpenSSH 7.4 accepts rsa-sha2-* without listing them; ssh2 knows it by the version string. */
  readonly impliesRsaSha2: boolean;
}

type ExtInfoHandler = (this: unknown, self: unknown, exts: Array<{ name: string; algs?: string[] }>) => unknown;

/**
 * Reads the server's server-sig-algs where ssh2 does (`_protocol._handlers.EXT_INFO`, and `_compatFlags` for
 * OpenSSH 7.4's implied sha2 algorithms). Call right after `client.connect()`.
 */
export function observeServerSigAlgs(client: Client): () => ServerSigAlgs {
  const protocol = internalsOf(client)._protocol;
  const original = protocol?._handlers?.EXT_INFO as ExtInfoHandler | undefined;
  if (!protocol || typeof original !== 'function' || typeof protocol._compatFlags !== 'number') {
    throw new Ssh2InternalsMissing('Client._protocol._handlers.EXT_INFO / _compatFlags', 'to apply PubkeyAcceptedAlgorithms (the server-sig-algs)');
  }
  let algs: string[] | null | undefined;
  const observing: ExtInfoHandler = function (this: unknown, self, exts) {
    if (algs === undefined) algs = exts.find((e) => e.name === 'server-sig-algs')?.algs ?? null;
    return original.call(this, self, exts);
  };
  protocol._handlers!.EXT_INFO = observing as Handler;
  return () => ({ algs, impliesRsaSha2: (protocol._compatFlags! & ssh2().constants.COMPAT.IMPLY_RSA_SHA2_SIGALGS) !== 0 });
}

// ---- The server's host key announcement -------------------------------------------------------------------

type GlobalRequestHandler = (this: unknown, proto: { requestSuccess(): void }, name: string, wantReply: boolean, data: unknown) => unknown;

/**
 * ssh2 answers OpenSSH's `hostkeys-00@openssh.com` (sent after authentication) by asking the server to prove
 * every host key it holds (`hostkeys-prove-00`: the server signs with each, an RSA key included, and ssh2
 * checks every signature) on every connection, for a 'hostkeys' event. Flotilla does not learn keys from it
 * (OpenSSH asks only for keys it would add to known_hosts, with UpdateHostKeys), so the announcement is let
 * go in `_protocol._handlers.GLOBAL_REQUEST`. A speed-up: false when that handler is not there. Call right
 * after `client.connect()`.
 */
export function skipHostKeyProofs(client: Client): boolean {
  const handlers = internalsOf(client)._protocol?._handlers;
  const original = handlers?.GLOBAL_REQUEST as GlobalRequestHandler | undefined;
  if (!handlers || typeof original !== 'function') return false;
  const skipping: GlobalRequestHandler = function (this: unknown, proto, name, wantReply, data) {
    if (name !== 'hostkeys-00@openssh.com') return original.call(this, proto, name, wantReply, data);
    if (wantReply) proto.requestSuccess();
    return undefined;
  };
  handlers.GLOBAL_REQUEST = skipping as Handler;
  return true;
}

// ---- Push fast paths --------------------------------------------------------------------------------------

/** A transport we can cork: ssh2 writes each packet separately, corking turns a chunk's packets into one writev. */
export interface Corkable {
  cork(): void;
  uncork(): void;
  prependListener(event: 'data', fn: () => void): unknown;
  removeListener(event: 'data', fn: () => void): unknown;
}

const CORK_METHODS = ['cork', 'uncork', 'prependListener', 'removeListener'] as const;

/** The socket (or ProxyCommand/jump Duplex) under a channel — `channel._client._sock` — if usable. */
export function channelTransport(channel: ClientChannel): Corkable | undefined {
  const sock = (channel as unknown as { _client?: { _sock?: Partial<Corkable> } })._client?._sock;
  const usable = !!sock && CORK_METHODS.every((m) => typeof sock[m] === 'function');
  return usable ? (sock as Corkable) : undefined;
}

/** SFTP spec's safe write size, when the server's limits@openssh.com answer is unknown. */
export const DEFAULT_SFTP_WRITE = 32 * 1024;
const MAX_SFTP_WRITE = 256 * 1024;

/** Largest write the server accepts (`sftp._maxWriteLen`, from limits@openssh.com), capped; 32 KiB if unknown. */
export function sftpMaxWrite(sftp: SFTPWrapper): number {
  const reported = (sftp as unknown as { _maxWriteLen?: unknown })._maxWriteLen;
  return typeof reported === 'number' && reported > 0 ? Math.min(reported, MAX_SFTP_WRITE) : DEFAULT_SFTP_WRITE;
}

/** For the unit test: whether the speed-ups' fields are there at all (a fallback silently costs throughput). */
export function probeInternals(channel: ClientChannel, sftp: SFTPWrapper): { transport: boolean; maxWriteLen: boolean } {
  return {
    transport: channelTransport(channel) !== undefined,
    maxWriteLen: typeof (sftp as unknown as { _maxWriteLen?: unknown })._maxWriteLen === 'number',
  };
}
