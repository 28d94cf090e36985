// Promise wrappers for the raw ssh2 SFTP calls push and pull make. ssh2-sftp-client is not used: it owns its
// connection (ours are pooled, host-key-verified and may be jumped through a bastion), adds listeners per call
// and gives no pipelining control, while raw calls pipeline naturally on one pooled channel.
import type { SFTPWrapper } from 'ssh2';
import type { LeasedChannel, Pool } from '../ssh/pool';

export class SftpClosedError extends Error {
  constructor() {
    super('SFTP channel closed (connection lost)');
  }
}

interface CloseWatch {
  closed: boolean;
  pending: Set<(err: Error) => void>;
}

const watches = new WeakMap<SFTPWrapper, CloseWatch>();

/**
 * Once the channel is gone, ssh2 never answers requests made on it: fail them at once instead of waiting
 * forever (the error path of an upload still tries to close and unlink its temp file).
 */
function watch(sftp: SFTPWrapper): CloseWatch {
  let w = watches.get(sftp);
  if (!w) {
    const created: CloseWatch = { closed: false, pending: new Set() };
    const onGone = () => {
      created.closed = true;
      for (const fail of [...created.pending]) fail(new SftpClosedError());
    };
    sftp.once('close', onGone);
    sftp.once('end', onGone);
    watches.set(sftp, created);
    w = created;
  }
  return w;
}

/** Adapts a node-style ssh2 SFTP call to a promise that also settles if the channel closes first. */
export function sftpCall<T>(sftp: SFTPWrapper, start: (cb: (err: Error | null | undefined, value: T) => void) => void): Promise<T> {
  const w = watch(sftp);
  if (w.closed) return Promise.reject(new SftpClosedError());
  return new Promise<T>((resolve, reject) => {
    const fail = (err: Error) => {
      w.pending.delete(fail);
      reject(err);
    };
    w.pending.add(fail);
    try {
      start((err, value) => {
        w.pending.delete(fail);
        if (err) reject(err);
        else resolve(value);
      });
    } catch (err) {
      fail(err as Error);
    }
  });
}

/** SFTP status codes (draft-ietf-secsh-filexfer-02) as ssh2 reports them in `err.code`. */
export const SFTP_STATUS = { EOF: 1, NO_SUCH_FILE: 2, PERMISSION_DENIED: 3, FAILURE: 4 } as const;

export function sftpErrorText(err: unknown): string {
  const e = err as { message?: string; code?: number };
  if (e.code === SFTP_STATUS.PERMISSION_DENIED) return 'permission denied';
  if (e.code === SFTP_STATUS.NO_SUCH_FILE) return 'no such file or directory';
  return e.message ?? String(err);
}

/** Done with an SFTP channel: close it (the pool opens a new one per lease; an open one holds a server session). */
export function endSftp(lease: LeasedChannel<SFTPWrapper>): void {
  try {
    lease.channel.end();
  } finally {
    lease.release();
  }
}

/** The pool's name for the SFTP channel a push keeps open on the connection for the next one. */
const PUSH_SFTP = 'push-sftp';

/**
 * An SFTP channel for a push: the one the last push on this connection kept (checked with one request: a
 * channel that has died meanwhile is let go), or a new one. Saves the channel, subsystem and version
 * round trips and the host's sftp-server start.
 */
export async function openSftp(pool: Pool, host: string): Promise<LeasedChannel<SFTPWrapper>> {
  const kept = pool.reuse<SFTPWrapper>(host, PUSH_SFTP);
  if (kept) {
    const sftp = kept.channel;
    if (await sftpCall<string>(sftp, (cb) => sftp.realpath('.', cb)).then(() => true, () => false)) return kept;
    endSftp(kept);
  }
  return pool.sftp(host);
}

/** Done with a push's SFTP channel: kept for the next push on the connection when it is sound, else closed. */
export function keepSftp(pool: Pool, lease: LeasedChannel<SFTPWrapper>): void {
  const w = watches.get(lease.channel);
  if (!w?.closed && !w?.pending.size && pool.park(lease, PUSH_SFTP, () => lease.channel.end())) return;
  endSftp(lease);
}

/** Runs `fn` on a fresh SFTP channel of `host` and closes it afterwards. */
export async function withSftp<T>(pool: Pool, host: string, fn: (sftp: SFTPWrapper) => Promise<T>): Promise<T> {
  const lease = await pool.sftp(host);
  try {
    return await fn(lease.channel);
  } finally {
    endSftp(lease);
  }
}
