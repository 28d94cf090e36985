// Writing one file, link or directory over SFTP so that a final path only ever holds complete content:
// temp name in the same directory → data + mode + mtime → posix-rename over the target. The rename replaces
// the directory entry, so a symlink planted at the destination is replaced, never written through.
import { randomBytes } from 'node:crypto';
import { open as openLocal, readFile } from 'node:fs/promises';
import type { SFTPWrapper } from 'ssh2';
import { sftpCall, SFTP_STATUS } from './sftp';
import { sftpMaxWrite } from '../ssh/ssh2Internals';
import { TEMP_MARKER } from './types';

/** Files up to this size are read whole and all their writes sent at once; larger ones are streamed. */
const WHOLE_FILE_LIMIT = 1024 * 1024;
/** Outstanding write requests per streamed file (back-pressure). */
const STREAM_WRITES_IN_FLIGHT = 16;

export function tempNameFor(finalPath: string): string {
  const slash = finalPath.lastIndexOf('/');
  return `${finalPath.slice(0, slash + 1)}.${finalPath.slice(slash + 1)}${TEMP_MARKER}${randomBytes(6).toString('hex')}`;
}


/** posix-rename@openssh.com; without it (non-OpenSSH servers) unlink + rename, which is not atomic. */
export async function replaceWith(sftp: SFTPWrapper, from: string, to: string): Promise<void> {
  let supported = true;
  try {
    return await sftpCall<void>(sftp, (cb) => sftp.ext_openssh_rename(from, to, cb));
  } catch (err) {
    if (!/does not support/.test((err as Error).message)) throw err;
    supported = false;
  }
  if (!supported) {
    await sftpCall<void>(sftp, (cb) => sftp.unlink(to, cb)).catch(() => undefined);
    await sftpCall<void>(sftp, (cb) => sftp.rename(from, to, cb));
  }
}

async function removeQuietly(sftp: SFTPWrapper, path: string): Promise<void> {
  await sftpCall<void>(sftp, (cb) => sftp.unlink(path, cb)).catch(() => undefined);
}

export interface FileToUpload {
  local: string;
  remote: string;
  size: number;
  mode: number;
  mtimeSeconds: number;
}

/** Sends every write of `data` at once (ssh2 pipelines them on the channel); resolves when all are acknowledged. */
function writeAll(sftp: SFTPWrapper, handle: Buffer, data: Buffer, position: number, onBytes: (n: number) => void): Promise<void>[] {
  const chunk = sftpMaxWrite(sftp);
  const writes: Promise<void>[] = [];
  for (let off = 0; off < data.length; off += chunk) {
    const len = Math.min(chunk, data.length - off);
    writes.push(sftpCall<void>(sftp, (cb) => sftp.write(handle, data, off, len, position + off, cb)).then(() => onBytes(len)));
  }
  return writes;
}

async function streamFile(sftp: SFTPWrapper, handle: Buffer, file: FileToUpload, onBytes: (n: number) => void, signal?: AbortSignal): Promise<void> {
  const chunk = sftpMaxWrite(sftp);
  const fh = await openLocal(file.local, 'r');
  try {
    const inFlight = new Set<Promise<void>>();
    let failure: unknown;
    for (let position = 0; ; ) {
      if (signal?.aborted) throw new Error('cancelled');
      if (failure) throw failure;
      const buf = Buffer.allocUnsafe(chunk);
      const { bytesRead } = await fh.read(buf, 0, chunk, position);
      if (bytesRead === 0) break;
      const p = sftpCall<void>(sftp, (cb) => sftp.write(handle, buf, 0, bytesRead, position, cb)).then(
        () => { onBytes(bytesRead); inFlight.delete(p); },
        (err) => { failure ??= err; inFlight.delete(p); },
      );
      inFlight.add(p);
      position += bytesRead;
      if (inFlight.size >= STREAM_WRITES_IN_FLIGHT) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    if (failure) throw failure;
  } finally {
    await fh.close();
  }
}

/** Uploads one regular file to `file.remote` through a temp file. Throws with a readable message on failure. */
export async function uploadFile(sftp: SFTPWrapper, file: FileToUpload, onBytes: (n: number) => void, signal?: AbortSignal): Promise<void> {
  const temp = tempNameFor(file.remote);
  // 'wx' = O_CREAT|O_EXCL: never opens something already there (a planted temp-name symlink included).
  const handle = await sftpCall<Buffer>(sftp, (cb) => sftp.open(temp, 'wx', { mode: file.mode }, cb));
  let closed = false;
  try {
    const attrs = { mode: file.mode, atime: file.mtimeSeconds, mtime: file.mtimeSeconds };
    if (file.size <= WHOLE_FILE_LIMIT) {
      const data = await readFile(file.local);
      // Data, then mode (exact, bypassing the server umask) and mtime, then close: one round trip.
      await Promise.all([
        ...writeAll(sftp, handle, data, 0, onBytes),
        sftpCall<void>(sftp, (cb) => sftp.fsetstat(handle, attrs, cb)),
        sftpCall<void>(sftp, (cb) => sftp.close(handle, cb)).then(() => { closed = true; }),
      ]);
    } else {
      await streamFile(sftp, handle, file, onBytes, signal);
      await sftpCall<void>(sftp, (cb) => sftp.fsetstat(handle, attrs, cb));
      await sftpCall<void>(sftp, (cb) => sftp.close(handle, cb));
      closed = true;
    }
    await replaceWith(sftp, temp, file.remote);
  } catch (err) {
    if (!closed) await sftpCall<void>(sftp, (cb) => sftp.close(handle, cb)).catch(() => undefined);
    await removeQuietly(sftp, temp);
    throw err;
  }
}

export async function uploadSymlink(sftp: SFTPWrapper, target: string, remote: string): Promise<void> {
  const temp = tempNameFor(remote);
  await sftpCall<void>(sftp, (cb) => sftp.symlink(target, temp, cb));
  try {
    await replaceWith(sftp, temp, remote);
  } catch (err) {
    await removeQuietly(sftp, temp);
    throw err;
  }
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;

/**
 * mkdir, then lstat: an existing entry is accepted only if it is a real directory (a symlinked directory
 * planted by someone else would make every later write land outside the destination). Concurrent creators
 * are fine: "already exists" is success.
 */
export async function ensureDirectory(sftp: SFTPWrapper, remote: string, mode: number | undefined): Promise<void> {
  try {
    // Without a mode the server's umask decides (what `mkdir -p` does for parents).
    await sftpCall<void>(sftp, (cb) => sftp.mkdir(remote, mode === undefined ? {} : { mode }, cb));
  } catch (err) {
    if ((err as { code?: number }).code !== SFTP_STATUS.FAILURE) throw err; // OpenSSH answers "Failure" for EEXIST
  }
  const st = await sftpCall<{ mode: number }>(sftp, (cb) => sftp.lstat(remote, cb));
  if ((st.mode & S_IFMT) !== S_IFDIR) throw new Error('exists and is not a real directory (a symlink or file is in the way); refusing to write through it');
  if (mode !== undefined && (st.mode & 0o7777) !== mode) await sftpCall<void>(sftp, (cb) => sftp.setstat(remote, { mode }, cb));
}

export async function removeEntry(sftp: SFTPWrapper, remote: string, isDir: boolean): Promise<void> {
  try {
    await sftpCall<void>(sftp, (cb) => (isDir ? sftp.rmdir(remote, cb) : sftp.unlink(remote, cb)));
  } catch (err) {
    if ((err as { code?: number }).code === SFTP_STATUS.NO_SUCH_FILE) return; // already gone: the goal is met
    throw err;
  }
}

export async function removeTree(sftp: SFTPWrapper, remote: string): Promise<void> {
  const st = await sftpCall<{ mode: number }>(sftp, (cb) => sftp.lstat(remote, cb));
  if ((st.mode & S_IFMT) !== S_IFDIR) return removeEntry(sftp, remote, false);
  const list = await sftpCall<Array<{ filename: string }>>(sftp, (cb) => sftp.readdir(remote, cb));
  for (const item of list) if (item.filename !== '.' && item.filename !== '..') await removeTree(sftp, `${remote}/${item.filename}`);
  await removeEntry(sftp, remote, true);
}
