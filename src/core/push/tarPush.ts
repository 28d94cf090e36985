// Fast path for a destination that does not exist yet (the typical first push): one tar stream over exec into
// a staging directory next to the destination, then ONE rename of the whole tree into place. Nothing is visible
// at the destination until everything has arrived, so it keeps the temp+rename guarantee of the SFTP path
// with a fraction of its round trips. A stale staging directory is removed by the next listing.
import { randomBytes } from 'node:crypto';
import { open as openLocal, readFile } from 'node:fs/promises';
import type { ClientChannel } from 'ssh2';
import type { Pool } from '../ssh/pool';
import { buildRemoteCommand, shQuote } from '../ssh/quote';
import type { PlannedHost } from './plan';
import { shellWord, type RemoteDestination } from './remotePath';
import { localPath } from './scan';
import { END_OF_ARCHIVE, entryHeader, padding } from './tarStream';
import { remoteModeFor, TEMP_MARKER, type PlanItem, type ScanResult } from './types';

export const NO_TAR_EXIT = 91;
const STREAM_CHUNK = 256 * 1024;

export type TarOutcome = { kind: 'ok' } | { kind: 'unsupported' } | { kind: 'failed'; message: string };

export function stagingFor(dest: RemoteDestination): RemoteDestination {
  const last = dest.parts[dest.parts.length - 1]!;
  const parts = [...dest.parts.slice(0, -1), `.${last}${TEMP_MARKER}${randomBytes(6).toString('hex')}`];
  return { ...dest, parts, spec: (dest.homeRelative ? '~/' : '/') + parts.join('/') };
}

/**
 * GNU tar accepts an archive cut short at a header boundary, so completeness is proven by a sentinel entry
 * sent last: without it the staging directory is discarded.
 */
export function sentinelName(stage: RemoteDestination): string {
  return `.flotilla-complete-${stage.parts[stage.parts.length - 1]!.slice(-12)}`;
}

export function tarScript(dest: RemoteDestination, stage: RemoteDestination): string {
  const sentinel = shQuote(sentinelName(stage));
  return [
    `command -v tar >/dev/null 2>&1 || exit ${NO_TAR_EXIT}`,
    `d=${shellWord(dest)}`,
    `s=${shellWord(stage)}`,
    'mkdir -m 700 -- "$s" || exit 1',
    'tar -x -p --no-same-owner -f - -C "$s" || { rm -rf -- "$s"; exit 2; }',
    `[ -f "$s"/${sentinel} ] || { rm -rf -- "$s"; echo "the archive was cut short" >&2; exit 5; }`,
    `rm -f -- "$s"/${sentinel}`,
    'chmod 755 -- "$s"',
    'if [ -e "$d" ] || [ -L "$d" ]; then rm -rf -- "$s"; echo "the destination appeared during the push; run it again" >&2; exit 3; fi',
    'mv -- "$s" "$d" || { rm -rf -- "$s"; exit 4; }',
  ].join('\n');
}

function write(channel: ClientChannel, data: Buffer, closed: Promise<void>): Promise<void> | undefined {
  if (channel.write(data)) return undefined;
  return Promise.race([new Promise<void>((resolve) => channel.once('drain', () => resolve())), closed]);
}

export async function tarIntoNewDestination(
  pool: Pool, scan: ScanResult, plan: PlannedHost, items: readonly PlanItem[],
  onItem: (item: PlanItem, bytes: number) => void, signal?: AbortSignal,
): Promise<TarOutcome> {
  const stage = stagingFor(plan.destination);
  const lease = await pool.exec(plan.host, buildRemoteCommand(tarScript(plan.destination, stage)));
  const channel = lease.channel;
  let stderr = '';
  let code: number | null = null;
  channel.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  channel.resume(); // an unread stdout keeps the channel from ever reporting close
  channel.on('exit', (c: number | null) => { code = c; });
  const closed = new Promise<void>((resolve) => channel.once('close', () => resolve()));
  let stopped = false;
  void closed.then(() => { stopped = true; });
  let failure: string | undefined;
  try {
    for (const item of items) {
      if (stopped) break;
      if (signal?.aborted) { failure = 'cancelled'; break; }
      const l = scan.entries.get(item.path)!;
      const mtime = Math.floor(l.mtimeMs / 1000);
      const mode = remoteModeFor(l.mode);
      if (l.type !== 'file') {
        await write(channel, entryHeader(item.path, { type: l.type, size: 0, mode, mtime, linkTarget: l.linkTarget }), closed);
        onItem(item, 0);
        continue;
      }
      const file = localPath(scan.root, item.path);
      if (l.size <= STREAM_CHUNK * 32) {
        const data = await readFile(file);
        await write(channel, Buffer.concat([entryHeader(item.path, { type: 'file', size: data.length, mode, mtime }), data, padding(data.length)]), closed);
        onItem(item, data.length);
        continue;
      }
      await write(channel, entryHeader(item.path, { type: 'file', size: l.size, mode, mtime }), closed);
      const fh = await openLocal(file, 'r');
      try {
        let sent = 0;
        while (sent < l.size && !stopped) {
          const buf = Buffer.allocUnsafe(Math.min(STREAM_CHUNK, l.size - sent));
          const { bytesRead } = await fh.read(buf, 0, buf.length, sent);
          if (bytesRead === 0) break;
          await write(channel, bytesRead === buf.length ? buf : buf.subarray(0, bytesRead), closed);
          sent += bytesRead;
        }
        if (sent !== l.size) { failure = `${item.path} changed size while being sent; run the push again`; break; }
      } finally {
        await fh.close();
      }
      await write(channel, padding(l.size), closed);
      onItem(item, l.size);
    }
    if (failure || stopped) channel.close();
    else channel.end(Buffer.concat([entryHeader(sentinelName(stage), { type: 'file', size: 0, mode: 0o600, mtime: 0 }), END_OF_ARCHIVE]));
    await closed;
  } finally {
    lease.release();
  }
  if (code === NO_TAR_EXIT) return { kind: 'unsupported' };
  if (failure) return { kind: 'failed', message: failure };
  if (code !== 0) return { kind: 'failed', message: code === null ? 'connection lost during the push; run it again' : `remote tar failed (exit ${code}): ${stderr.trim()}` };
  return { kind: 'ok' };
}
