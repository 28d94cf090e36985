// RekeyLimit on an ssh2 connection, as OpenSSH applies it (packet.c ssh_packet_need_rekeying): new keys
// once either direction has carried BYTES since the last key exchange, or once INTERVAL seconds have
// passed since it. Any key exchange (ours or the server's) starts both counts afresh. `RekeyLimit
// default none` (0 0) means the cipher's own limit, which we leave to ssh2.
//
// Bytes are counted on the transport Flotilla hands to ssh2 (TCP socket, ProxyCommand or jump channel),
// so they are the encrypted bytes, framing included. ssh2 has no public call to start a key exchange; it
// has `Client._protocol.rekey()`. And ssh2 encrypts a whole channel window (megabytes) in one turn of the
// event loop, so the limit is checked where OpenSSH checks it, before each outgoing data packet: in
// `_protocol.channelData` / `channelExtData`. Packets handed over once the exchange has started wait in
// ssh2's own queue and go out under the new keys, so the old keys carry at most the limit plus one packet;
// the backlog counts against the new keys (OpenSSH stops reading its channels instead; ssh2 cannot be
// told to, so a writer that keeps writing during an exchange makes the next one come early, never late).
// Those private members are reached through ssh2Internals.ts (rekeyHooks);
// test/unit/ssh2Internals.test.ts fails when an ssh2 upgrade changes them.
import type { Duplex } from 'node:stream';
import type { Client } from 'ssh2';
import type { ResolvedHost } from '../types';
import { rekeyHooks } from './ssh2Internals';

export interface RekeyLimit {
  /** Bytes per direction between key exchanges; 0 = the cipher's default (ssh2's business). */
  readonly bytes: number;
  /** Seconds between key exchanges; 0 = none. */
  readonly seconds: number;
}

/** The resolved `rekeylimit` option (`ssh -G` form: "BYTES SECONDS"). */
export function rekeyLimitOf(host: ResolvedHost): RekeyLimit {
  const [bytes = '0', seconds = '0'] = (host.options.get('rekeylimit')?.values[0] ?? '0 0').split(' ');
  return { bytes: Number(bytes), seconds: Number(seconds) };
}

function payloadLength(data: unknown): number {
  return typeof data === 'string' ? Buffer.byteLength(data) : data instanceof Uint8Array ? data.length : 0;
}

function hasRekeyLimit(limit: RekeyLimit): boolean {
  return limit.bytes > 0 || limit.seconds > 0;
}

/**
 * Watches `sock` (the transport given to `client.connect`, after 'ready') and re-keys on the limits.
 * Returns a function that stops watching; it also stops by itself when the client closes.
 * Throws Ssh2InternalsMissing when ssh2 lacks the call (only when a limit is set).
 */
export function enforceRekeyLimit(client: Client, sock: Duplex, limit: RekeyLimit): () => void {
  if (!hasRekeyLimit(limit)) return () => {};
  const protocol = rekeyHooks(client);
  let sent = 0;
  let received = 0;
  /** Channel data handed to ssh2 while our exchange is in flight: it will be sent under the new keys. */
  let backlog = 0;
  let requested = false;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const rekey = () => {
    if (requested || stopped) return;
    requested = true;
    try {
      protocol.rekey();
    } catch {
      // The transport is going away; nothing to re-key.
    }
  };
  const armTimer = () => {
    if (timer) clearTimeout(timer);
    if (limit.seconds > 0 && !stopped) {
      timer = setTimeout(rekey, limit.seconds * 1000);
      timer.unref();
    }
  };
  const over = () => limit.bytes > 0 && (sent >= limit.bytes || received >= limit.bytes);

  const onData = (chunk: Buffer) => {
    received += chunk.length;
    if (over()) rekey();
  };
  const write = sock.write;
  sock.write = function (this: Duplex, chunk: unknown, ...rest: unknown[]) {
    if (!stopped) {
      sent += payloadLength(chunk);
      // Never inside ssh2's write of a packet (its pieces go out one by one); other traffic than
      // channel data is checked on the next tick.
      if (over()) process.nextTick(rekey);
    }
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as Duplex['write'];
  const restoreSenders = protocol.beforeChannelData((data) => {
    if (!stopped && over()) rekey();
    if (requested) backlog += payloadLength(data);
  });
  // ssh2 drains its queue just before it reports the finished exchange: those bytes are the backlog.
  const onHandshake = () => {
    sent = backlog;
    backlog = 0;
    received = 0;
    requested = false;
    armTimer();
    if (over()) process.nextTick(rekey);
  };

  const stop = () => {
    if (stopped) return;
    stopped = true;
    if (timer) clearTimeout(timer);
    sock.removeListener('data', onData);
    client.removeListener('handshake', onHandshake);
    restoreSenders();
  };
  sock.on('data', onData);
  client.on('handshake', onHandshake);
  client.once('close', stop);
  armTimer();
  return stop;
}
