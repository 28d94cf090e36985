// The only place that reaches into ssh2's private fields, each behind a feature check with a safe fallback.
// test/unit/push-ssh2Internals.test.ts fails loudly when an ssh2 upgrade removes or renames one of them.
// Known to hold for ssh2 1.17.
import type { ClientChannel, SFTPWrapper } from 'ssh2';

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

/** For the unit test: whether the fields are there at all (a fallback silently costs throughput). */
export function probeInternals(channel: ClientChannel, sftp: SFTPWrapper): { transport: boolean; maxWriteLen: boolean } {
  return {
    transport: channelTransport(channel) !== undefined,
    maxWriteLen: typeof (sftp as unknown as { _maxWriteLen?: unknown })._maxWriteLen === 'number',
  };
}
