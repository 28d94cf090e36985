// Remote side of the plan: ONE command lists the whole destination (NUL-separated, so any name works) and,
// on a real push, removes temp files left by an interrupted one. Hosts without GNU `find -printf` (BSD,
// busybox) fall back to an SFTP walk.
import type { SFTPWrapper } from 'ssh2';
import type { Pool } from '../ssh/pool';
import { execScript, splitNul } from './remoteExec';
import { absolutePath, shellWord, type RemoteDestination } from './remotePath';
import { TEMP_GLOB, TEMP_MARKER, type PathError, type RemoteEntry } from './types';
import { shQuote } from '../ssh/quote';
import { sftpCall } from './sftp';
import { removeTree } from './upload';

export interface RemoteListing {
  home: string;
  /** Absolute path of the destination (with $HOME expanded). */
  absDest: string;
  state: 'missing' | 'dir' | 'other';
  /** For state 'other' (a file or link at the destination path itself): its entry under key ''. */
  entries: Map<string, RemoteEntry>;
  errors: PathError[];
  via: 'find' | 'sftp';
}

const NO_PRINTF_EXIT = 90;
const PRINTF = `'%y %s %T@ %m %P\\0%l\\0'`;

export function listingScript(dest: RemoteDestination, cleanStale: boolean): string {
  const temp = shQuote(TEMP_GLOB);
  const staleAction = cleanStale ? `-exec rm -rf -- {} +` : '';
  return [
    `printf 'H%s\\0' "$HOME"`,
    `d=${shellWord(dest)}`,
    // A first push streams into a staging directory next to the destination; an interrupted one leaves it.
    ...(cleanStale ? [`find "$(dirname -- "$d")" -maxdepth 1 -name ".$(basename -- "$d")"${shQuote(TEMP_MARKER)}'*' -exec rm -rf -- {} + 2>/dev/null`] : []),
    `if [ ! -e "$d" ] && [ ! -L "$d" ]; then printf 'M\\0'; exit 0; fi`,
    `find "$d" -maxdepth 0 -printf '' 2>/dev/null || exit ${NO_PRINTF_EXIT}`,
    `if [ ! -d "$d" ]; then printf 'O\\0'; exec find "$d" -maxdepth 0 -printf ${PRINTF}; fi`,
    `printf 'D\\0'`,
    // The trailing slash makes find follow a destination that is itself a symlink to a directory (as rsync
    // does), but nothing below it.
    `exec find "$d"/ -mindepth 1 \\( -name ${temp} -prune ${staleAction} \\) -o -printf ${PRINTF}`,
  ].join('\n');
}

export function parseListing(stdout: Buffer): { home: string; state: RemoteListing['state']; entries: Map<string, RemoteEntry> } {
  const fields = splitNul(stdout);
  const home = (fields[0] ?? '').replace(/^H/, '');
  const marker = fields[1];
  const state = marker === 'M' ? 'missing' : marker === 'O' ? 'other' : 'dir';
  const entries = new Map<string, RemoteEntry>();
  for (let i = 2; i + 1 < fields.length; i += 2) {
    const rec = fields[i]!;
    const m = /^(\S) (\d+) (\d+)(?:\.\d+)? ([0-7]+) ([\s\S]*)$/.exec(rec);
    if (!m) continue;
    const [, kind, size, mtime, mode, rel] = m;
    const entry: RemoteEntry = { kind: kind!, size: Number(size), mtime: Number(mtime), mode: parseInt(mode!, 8) };
    if (kind === 'l') entry.linkTarget = fields[i + 1]!;
    entries.set(rel!, entry);
  }
  return { home, state, entries };
}

export async function listRemote(
  pool: Pool, host: string, dest: RemoteDestination, opts: { cleanStale: boolean; signal?: AbortSignal },
): Promise<RemoteListing> {
  const res = await execScript(pool, host, listingScript(dest, opts.cleanStale), undefined, opts.signal);
  if (res.code === NO_PRINTF_EXIT) return listViaSftp(pool, host, dest, opts.cleanStale);
  const parsed = parseListing(res.stdout);
  if (!parsed.home) throw new Error(`listing ${dest.spec} failed (exit ${res.code}): ${res.stderr.trim() || 'no output'}`);
  const errors: PathError[] = [];
  if (res.code !== 0) {
    const text = res.stderr.trim() || `find exited with ${res.code}`;
    errors.push({ path: dest.spec, message: `remote listing incomplete: ${text}` });
  }
  return { ...parsed, absDest: absolutePath(dest, parsed.home), errors, via: 'find' };
}

const KIND_BY_TYPE: Array<[number, string]> = [
  [0o040000, 'd'], [0o100000, 'f'], [0o120000, 'l'], [0o010000, 'p'], [0o140000, 's'], [0o020000, 'c'], [0o060000, 'b'],
];

function kindOf(mode: number): string {
  const type = mode & 0o170000;
  return KIND_BY_TYPE.find(([t]) => t === type)?.[1] ?? '?';
}

async function listViaSftp(pool: Pool, host: string, dest: RemoteDestination, cleanStale: boolean): Promise<RemoteListing> {
  const lease = await pool.sftp(host);
  try {
    const sftp = lease.channel;
    const home = await sftpCall<string>(sftp, (cb) => sftp.realpath('.', cb));
    const absDest = absolutePath(dest, home);
    const entries = new Map<string, RemoteEntry>();
    const errors: PathError[] = [];
    const top = await sftpCall<{ mode: number; size: number; mtime: number }>(sftp, (cb) => sftp.stat(absDest, cb)).catch(() => undefined);
    if (!top) return { home, absDest, state: 'missing', entries, errors, via: 'sftp' };
    if (kindOf(top.mode) !== 'd') {
      entries.set('', { kind: kindOf(top.mode), size: top.size, mtime: top.mtime, mode: top.mode & 0o7777 });
      return { home, absDest, state: 'other', entries, errors, via: 'sftp' };
    }
    await walkSftp(sftp, absDest, '', entries, errors, cleanStale);
    return { home, absDest, state: 'dir', entries, errors, via: 'sftp' };
  } finally {
    lease.release();
  }
}

async function walkSftp(
  sftp: SFTPWrapper, absDest: string, rel: string, entries: Map<string, RemoteEntry>, errors: PathError[], cleanStale: boolean,
): Promise<void> {
  const dir = rel === '' ? absDest : `${absDest}/${rel}`;
  let list: Array<{ filename: string; attrs: { mode: number; size: number; mtime: number } }>;
  try {
    list = await sftpCall(sftp, (cb) => sftp.readdir(dir, cb));
  } catch (err) {
    errors.push({ path: rel || '.', message: `cannot list remote directory: ${(err as Error).message}` });
    return;
  }
  for (const item of list) {
    const name = item.filename;
    if (name === '.' || name === '..') continue;
    const childRel = rel === '' ? name : `${rel}/${name}`;
    if (name.startsWith('.') && name.includes(TEMP_MARKER)) {
      if (cleanStale) await removeTree(sftp, `${dir}/${name}`).catch(() => undefined);
      continue;
    }
    const kind = kindOf(item.attrs.mode);
    const entry: RemoteEntry = { kind, size: item.attrs.size, mtime: item.attrs.mtime, mode: item.attrs.mode & 0o7777 };
    if (kind === 'l') entry.linkTarget = await sftpCall<string>(sftp, (cb) => sftp.readlink(`${dir}/${name}`, cb)).catch(() => '');
    entries.set(childRel, entry);
    if (kind === 'd') await walkSftp(sftp, absDest, childRel, entries, errors, cleanStale);
  }
}
