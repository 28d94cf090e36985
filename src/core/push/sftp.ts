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
 * The SFTP channel the last push on this connection kept, with `first` asked on it at once: pipelined with a
 * liveness check (one round trip for both; a channel that has died meanwhile is let go). Undefined when none
 * is kept or it has died.
 */
export async function keptSftp<T>(pool: Pool, host: string, first: (sftp: SFTPWrapper) => Promise<T>): Promise<{ lease: LeasedChannel<SFTPWrapper>; value: T } | undefined> {
  const kept = pool.reuse<SFTPWrapper>(host, PUSH_SFTP);
  if (!kept) return undefined;
  const sftp = kept.channel;
  const [alive, value] = await Promise.all([sftpCall<string>(sftp, (cb) => sftp.realpath('.', cb)).then(() => true, () => false), first(sftp)]);
  if (alive && !watches.get(sftp)?.closed) return { lease: kept, value };
  endSftp(kept);
  return undefined;
}

/**
 * An SFTP channel for a push: the one the last push on this connection kept (see keptSftp), or a new one.
 * Saves the channel, subsystem and version round trips and the host's sftp-server start.
 */
export async function openSftp(pool: Pool, host: string): Promise<LeasedChannel<SFTPWrapper>> {
  return (await keptSftp(pool, host, async () => undefined))?.lease ?? pool.sftp(host);
}

/** Free bytes for unprivileged users (statvfs@openssh.com); undefined when the server cannot say. */
export async function freeBytes(sftp: SFTPWrapper, path: string): Promise<number | undefined> {
  type StatVfs = { f_bavail: number | bigint; f_frsize: number | bigint; f_bsize: number | bigint };
  try {
    const st = await sftpCall<StatVfs>(sftp, (cb) => sftp.ext_openssh_statvfs(path, cb));
    return Number(st.f_bavail) * Number(st.f_frsize || st.f_bsize);
  } catch {
    return undefined;
  }
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
