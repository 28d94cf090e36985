// Reading one remote file for the diff editor (read-only, over a pooled SFTP channel closed afterwards).
import type { Stats } from 'ssh2';
import type { Pool } from '../ssh/pool';
import { sftpCall, withSftp } from './sftp';

export type RemoteFile =
  | { kind: 'content'; data: Buffer }
  | { kind: 'not-a-file' }
  | { kind: 'too-big'; size: number };

/** stat, then (if it is a regular file no larger than maxBytes) its content. Throws on SFTP errors. */
export function readRemoteFile(pool: Pool, host: string, absPath: string, maxBytes: number, signal?: AbortSignal): Promise<RemoteFile> {
  return withSftp(pool, host, async (sftp): Promise<RemoteFile> => {
    const st = await sftpCall<Stats>(sftp, (cb) => sftp.stat(absPath, cb));
    if (!st.isFile()) return { kind: 'not-a-file' };
    if (st.size > maxBytes) return { kind: 'too-big', size: st.size };
    if (signal?.aborted) throw new Error('cancelled');
    return { kind: 'content', data: await sftpCall<Buffer>(sftp, (cb) => sftp.readFile(absPath, cb)) };
  });
}
