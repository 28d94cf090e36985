// Pull: copy a remote file or directory from each host into <localDest>/<host>/<name>. Remote names and
// link targets are untrusted: refused when they could escape the destination or carry control characters.
import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, rename, rm, symlink, utimes } from 'node:fs/promises';
import { dirname, isAbsolute, join, posix, relative, resolve } from 'node:path';
import type { SFTPWrapper } from 'ssh2';
import type { Pool } from '../ssh/pool';
import type { HostPushResult, ItemResult, PushState } from './apply';
import { badNameReason, badRelPathReason } from './names';
import { listRemote } from './remoteList';
import { joinRemote, parseDestination } from './remotePath';
import { endSftp, sftpCall, sftpErrorText } from './sftp';
import { TEMP_MARKER, type RemoteEntry, type SkippedPath } from './types';
import { runWindow } from './window';

export interface PullOptions {
  signal?: AbortSignal;
  /** Files in flight per host (default 16). */
  window?: number;
  /** Configured root the remote path must be inside. */
  root?: string;
}

export interface PullHostResult extends HostPushResult {
  /** Where this host's copy was written. */
  localPath: string;
  skipped: SkippedPath[];
}

function isInside(root: string, abs: string): boolean {
  const rel = relative(root, abs);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** A local directory we may write into: created by us or already a real directory (never a symlink). */
async function ensureLocalDir(path: string, mode: number): Promise<void> {
  await mkdir(path, { mode }).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'EEXIST') throw err; });
  const st = await lstat(path);
  if (!st.isDirectory()) throw new Error(`${path} exists and is not a real directory; refusing to write through it`);
  await chmod(path, mode);
}

async function download(sftp: SFTPWrapper, remote: string, local: string, entry: RemoteEntry): Promise<void> {
  const temp = join(dirname(local), `.${posix.basename(local)}${TEMP_MARKER}${randomBytes(6).toString('hex')}`);
  try {
    await sftpCall<void>(sftp, (cb) => sftp.fastGet(remote, temp, cb));
    await chmod(temp, entry.mode & 0o777); // never setuid/setgid/sticky from a remote host
    await utimes(temp, entry.mtime, entry.mtime);
    await rename(temp, local);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

export async function pullHost(pool: Pool, host: string, remotePath: string, localDest: string, opts: PullOptions = {}): Promise<PullHostResult> {
  const started = Date.now();
  const dest = parseDestination(remotePath, { root: opts.root });
  const hostDir = resolve(localDest, host);
  const name = dest.parts[dest.parts.length - 1]!;
  const target = join(hostDir, name);
  const result: PullHostResult = { host, state: 'ok', results: [], skipped: [], bytes: 0, durationMs: 0, localPath: target };
  const finish = (state: PushState, reason?: string): PullHostResult => ({ ...result, state, reason, durationMs: Date.now() - started });
  const hostProblem = badNameReason(host);
  if (hostProblem) return finish('failed', `host alias cannot name a local directory: ${hostProblem}`);

  let listing;
  try {
    listing = await listRemote(pool, host, { dest }, { signal: opts.signal });
  } catch (err) {
    return finish(/connect|handshake|auth|timed out/i.test((err as Error).message) ? 'unreachable' : 'failed', (err as Error).message);
  }
  if (listing.state === 'missing') return finish('failed', `${dest.spec} does not exist on ${host}`);
  const lease = await pool.sftp(host).catch((err: Error) => err);
  if (lease instanceof Error) return finish('failed', lease.message);
  const sftp = lease.channel;
  try {
    await mkdir(localDest, { recursive: true });
    await ensureLocalDir(hostDir, 0o755);
    const record = (r: ItemResult) => result.results.push(r);
    const attempt = async (rel: string, type: ItemResult['type'], fn: () => Promise<void>) => {
      try {
        await fn();
        record({ path: rel, action: 'create', type, ok: true });
      } catch (err) {
        record({ path: rel, action: 'create', type, ok: false, error: sftpErrorText(err) });
      }
    };

    if (listing.state === 'other') {
      const entry = listing.entries.get('')!;
      if (entry.kind !== 'f') return finish('failed', `${dest.spec} is neither a regular file nor a directory`);
      await attempt(name, 'file', async () => { await download(sftp, listing.absDest, target, entry); result.bytes += entry.size; });
      return finish(result.results.every((r) => r.ok) ? 'ok' : 'failed');
    }

    await ensureLocalDir(target, 0o755);
    const dirModes: Array<[string, number]> = [];
    const files: Array<[string, RemoteEntry]> = [];
    // find lists parents before children, so directories can be created in listing order.
    for (const [rel, entry] of listing.entries) {
      const bad = badRelPathReason(rel);
      if (bad) { result.skipped.push({ path: rel, reason: `refused remote name: ${bad}` }); continue; }
      const local = join(target, ...rel.split('/'));
      if (!isInside(target, local)) { result.skipped.push({ path: rel, reason: 'escapes the destination' }); continue; }
      if (entry.kind === 'd') {
        await attempt(rel, 'dir', () => ensureLocalDir(local, (entry.mode & 0o777) | 0o700));
        dirModes.push([local, entry.mode & 0o777]);
      } else if (entry.kind === 'f') {
        files.push([rel, entry]);
      } else if (entry.kind === 'l') {
        const text = entry.linkTarget ?? '';
        if (isAbsolute(text) || !isInside(target, resolve(dirname(local), text))) {
          result.skipped.push({ path: rel, reason: `symlink points outside the pulled tree (${text})` });
          continue;
        }
        await attempt(rel, 'symlink', async () => {
          await rm(local, { force: true });
          await symlink(text, local);
        });
      } else {
        result.skipped.push({ path: rel, reason: `special file (${entry.kind}) skipped` });
      }
    }
    await runWindow(files, opts.window ?? 16, ([rel, entry]) => attempt(rel, 'file', async () => {
      await download(sftp, joinRemote(listing.absDest, rel), join(target, ...rel.split('/')), entry);
      result.bytes += entry.size;
    }), () => !opts.signal?.aborted);
    for (const [path, mode] of dirModes.reverse()) await chmod(path, mode).catch(() => undefined);
  } finally {
    endSftp(lease);
  }
  if (opts.signal?.aborted) return finish('cancelled');
  const failed = result.results.filter((r) => !r.ok).length;
  return finish(failed === 0 ? 'ok' : failed === result.results.length ? 'failed' : 'partial', failed ? `${failed} item(s) failed` : undefined);
}

/** Pulls from every host in parallel into `<localDest>/<host>/<name>`. */
export function pull(pool: Pool, hosts: readonly string[], remotePath: string, localDest: string, opts: PullOptions = {}): Promise<PullHostResult[]> {
  parseDestination(remotePath, { root: opts.root }); // validate once, before contacting anyone
  return Promise.all(hosts.map((h) => pullHost(pool, h, remotePath, localDest, opts)));
}

export interface PullPlan {
  host: string;
  state: PushState;
  reason?: string;
  localPath: string;
  /** Relative paths that would be copied (`` for a single file: its name). */
  files: string[];
  bytes: number;
}

/** What pullHost would copy, from the same read-only listing; nothing is written locally or remotely. */
export async function planPull(pool: Pool, host: string, remotePath: string, localDest: string, opts: PullOptions = {}): Promise<PullPlan> {
  const dest = parseDestination(remotePath, { root: opts.root });
  const name = dest.parts[dest.parts.length - 1]!;
  const plan: PullPlan = { host, state: 'ok', localPath: join(resolve(localDest, host), name), files: [], bytes: 0 };
  const hostProblem = badNameReason(host);
  if (hostProblem) return { ...plan, state: 'failed', reason: `host alias cannot name a local directory: ${hostProblem}` };
  let listing;
  try {
    listing = await listRemote(pool, host, { dest }, { signal: opts.signal });
  } catch (err) {
    return { ...plan, state: /connect|handshake|auth|timed out/i.test((err as Error).message) ? 'unreachable' : 'failed', reason: (err as Error).message };
  }
  if (listing.state === 'missing') return { ...plan, state: 'failed', reason: `${dest.spec} does not exist on ${host}` };
  for (const [rel, entry] of listing.entries) {
    if (entry.kind !== 'f' && entry.kind !== 'd' && entry.kind !== 'l') continue;
    if (rel && badRelPathReason(rel)) continue;
    plan.files.push(rel || name);
    if (entry.kind === 'f') plan.bytes += entry.size;
  }
  return plan;
}
