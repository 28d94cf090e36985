// The tar fast path's sender, built for throughput in pure-JS ssh2 (what VS Code runs): the archive is
// assembled in large chunks — headers, file data read straight into the chunk, padding — and each chunk is
// handed to the channel in one write with the connection's socket corked, so ssh2's packets (32 KiB each,
// the server's channel maximum) leave in one writev instead of three or four socket writes apiece. Small
// files are read synchronously (a hot-cache open/fstat/read/close costs microseconds; the promise API costs a
// thread-pool round trip per call, which dominated the first push), never more than one chunk at a time.
// The remote side, staging directory, sentinel and rename are tarPush.ts's, unchanged.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import type { Pool } from '../ssh/pool';
import { buildRemoteCommand } from '../ssh/quote';
import type { PlannedHost } from './plan';
import { sourcePath } from './scan';
import { channelTransport } from './ssh2Internals';
import { NO_TAR_EXIT, sentinelName, stagingFor, tarScript, type TarOutcome } from './tarPush';
import { END_OF_ARCHIVE, entryHeader } from './tarStream';
import { changeableInSameSecond, remoteModeFor, type PlanItem, type ScanResult } from './types';

/** Bytes per channel write: 32 ssh packets, one corked writev. */
export const CHUNK_BYTES = 1024 * 1024;
const BLOCK = 512;


/** The local tree changed under the push: the archive would not match the plan. */
class SizeChanged extends Error {}

/**
 * Small files read for one host's archive are kept for the other hosts pushing the same scan at the same
 * time, which usually ask for them moments later: each file is read from disk about once per push instead
 * of once per host. An entry is dropped once every other concurrent push has taken it, and the whole cache
 * is bounded (a host that falls behind simply reads from disk again). The bytes are one consistent read, and
 * each archive's header is built from the bytes it actually carries.
 */
const SHARE_MAX_BYTES = 32 * 1024 * 1024;

class SharedReads {
  users = 0;
  /** Memory held, counted by the chunks the shared views keep alive (each at most once). */
  private bytes = 0;
  private readonly chunks = new Map<ArrayBufferLike, number>();
  private readonly files = new Map<string, { data: Buffer; wanted: number }>();

  take(path: string): Buffer | undefined {
    const hit = this.files.get(path);
    if (!hit) return undefined;
    if (--hit.wanted <= 0) this.drop(path, hit.data);
    return hit.data;
  }

  offer(path: string, data: Buffer): void {
    if (this.users < 2 || this.files.has(path)) return;
    this.files.set(path, { data, wanted: this.users - 1 });
    const refs = this.chunks.get(data.buffer) ?? 0;
    if (refs === 0) this.bytes += data.buffer.byteLength;
    this.chunks.set(data.buffer, refs + 1);
    for (const [oldest, entry] of this.files) {
      if (this.bytes <= SHARE_MAX_BYTES) break;
      this.drop(oldest, entry.data);
    }
  }

  private drop(path: string, data: Buffer): void {
    this.files.delete(path);
    const refs = this.chunks.get(data.buffer)! - 1;
    if (refs > 0) this.chunks.set(data.buffer, refs);
    else {
      this.chunks.delete(data.buffer);
      this.bytes -= data.buffer.byteLength;
    }
  }
}

const sharedByScan = new WeakMap<ScanResult, SharedReads>();

function joinShared(scan: ScanResult): { shared: SharedReads; leave: () => void } {
  let shared = sharedByScan.get(scan);
  if (!shared) sharedByScan.set(scan, (shared = new SharedReads()));
  shared.users++;
  const s = shared;
  return { shared: s, leave: () => { if (--s.users === 0 && sharedByScan.get(scan) === s) sharedByScan.delete(scan); } };
}

/**
 * Builds the archive of `items` chunk by chunk. `flush` receives each full chunk (and the items whose last
 * byte it holds) and resolves when the next one may be built.
 */
async function produce(
  scan: ScanResult, shared: SharedReads, items: readonly PlanItem[],
  flush: (chunk: Buffer, finished: Array<[PlanItem, number]>) => Promise<boolean>,
): Promise<boolean> {
  let chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  let pos = 0;
  let finished: Array<[PlanItem, number]> = [];
  const emit = async (): Promise<boolean> => {
    const full = chunk.subarray(0, pos);
    const done = finished;
    chunk = Buffer.allocUnsafe(CHUNK_BYTES); // ssh2 may keep a reference until the window opens: never reuse
    pos = 0;
    finished = [];
    return flush(full, done);
  };
  const append = async (data: Buffer): Promise<boolean> => {
    for (let off = 0; off < data.length; ) {
      if (pos === CHUNK_BYTES && !(await emit())) return false;
      const n = data.copy(chunk, pos, off);
      pos += n;
      off += n;
    }
    return true;
  };
  const zeros = async (n: number): Promise<boolean> => {
    while (n > 0) {
      if (pos === CHUNK_BYTES && !(await emit())) return false;
      const k = Math.min(n, CHUNK_BYTES - pos);
      chunk.fill(0, pos, pos + k);
      pos += k;
      n -= k;
    }
    return true;
  };

  for (const item of items) {
    const l = scan.entries.get(item.path)!;
    const mtime = Math.floor(l.mtimeMs / 1000);
    // Exact mtimes where whole seconds could hide a later edit, and on every directory: they cost a pax
    // record each, and they show the planner that the destination's filesystem keeps fractions.
    const mtimeNsec = l.type === 'dir' || changeableInSameSecond(scan, l) ? l.mtimeNsec : undefined;
    const mode = remoteModeFor(l.mode);
    if (l.type !== 'file') {
      if (!(await append(entryHeader(item.path, { type: l.type, size: 0, mode, mtime, mtimeNsec, linkTarget: l.linkTarget })))) return false;
      finished.push([item, 0]);
      continue;
    }
    const known = shared.take(item.path);
    if (known) {
      if (!(await append(entryHeader(item.path, { type: 'file', size: known.length, mode, mtime, mtimeNsec }))) || !(await append(known))) return false;
      if (known.length % BLOCK && !(await zeros(BLOCK - (known.length % BLOCK)))) return false;
      finished.push([item, known.length]);
      continue;
    }
    // Opened as the scan saw it: never through a symlink swapped in since, never blocking on a FIFO.
    const fd = openSync(sourcePath(scan, item.path), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      // The size at open time is what the header promises; a file that shrinks meanwhile fails the push.
      const st = fstatSync(fd);
      if (!st.isFile()) throw new SizeChanged(`${item.path} is no longer a regular file; run the push again`);
      const size = st.size;
      const header = entryHeader(item.path, { type: 'file', size, mode, mtime, mtimeNsec });
      // A file that fits in one chunk is never split across two: its bytes can then be shared as a view.
      const whole = header.length + size <= CHUNK_BYTES;
      if (whole && pos > 0 && header.length + size > CHUNK_BYTES - pos && !(await emit())) return false;
      if (!(await append(header))) return false;
      const start = pos;
      for (let off = 0; off < size; ) {
        if (pos === CHUNK_BYTES && !(await emit())) return false;
        const n = readSync(fd, chunk, pos, Math.min(CHUNK_BYTES - pos, size - off), off);
        if (n === 0) throw new SizeChanged(`${item.path} changed size while being sent; run the push again`);
        pos += n;
        off += n;
      }
      if (whole) shared.offer(item.path, chunk.subarray(start, start + size));
      const rest = size % BLOCK;
      if (rest && !(await zeros(BLOCK - rest))) return false;
      finished.push([item, size]);
    } finally {
      closeSync(fd);
    }
  }
  return pos === 0 && !finished.length ? true : emit();
}

const STDERR_KEEP = 4096;

/** One message for a failed extraction, whatever tar printed per file. */
function tarFailure(code: number, stderr: string, lines: number): string {
  if (/No space left on device|Disk quota exceeded/i.test(stderr)) return 'remote filesystem full (no space left on device) while extracting';
  const first = stderr.trim().split('\n').slice(0, 3).join('; ').slice(0, 600);
  return `remote tar failed (exit ${code}): ${first || 'no message'}${lines > 3 ? ` (… ${lines - 3} more line(s))` : ''}`;
}

export async function tarIntoNewDestinationBatched(
  pool: Pool, scan: ScanResult, plan: PlannedHost, items: readonly PlanItem[],
  onItem: (item: PlanItem, bytes: number) => void, signal?: AbortSignal,
): Promise<TarOutcome> {
  // Joined before the channel opens, so hosts started together all count on each other's reads.
  const { shared, leave } = joinShared(scan);
  try {
    return await sendArchive(pool, scan, shared, plan, items, onItem, signal);
  } finally {
    leave();
  }
}

async function sendArchive(
  pool: Pool, scan: ScanResult, shared: SharedReads, plan: PlannedHost, items: readonly PlanItem[],
  onItem: (item: PlanItem, bytes: number) => void, signal?: AbortSignal,
): Promise<TarOutcome> {
  const stage = stagingFor(plan.destination);
  const lease = await pool.exec(plan.host, buildRemoteCommand(tarScript(plan.destination, stage)));
  const channel = lease.channel;
  let stderr = '';
  let code: number | null = null;
  // A full disk makes tar complain once per file: keep the first lines, count the rest.
  let stderrLines = 0;
  channel.stderr.on('data', (d: Buffer) => {
    const text = d.toString();
    stderrLines += text.split('\n').length - 1;
    if (stderr.length < STDERR_KEEP) stderr += text.slice(0, STDERR_KEEP - stderr.length);
  });
  channel.resume(); // an unread stdout keeps the channel from ever reporting close
  channel.on('exit', (c: number | null) => { code = c; });
  channel.on('error', (err: Error) => { stderr ||= err.message; });
  let stopped = false;
  const closed = new Promise<void>((resolve) => channel.once('close', () => { stopped = true; resolve(); }));
  const sock = channelTransport(channel);
  // Most packets do not leave from our write() but from ssh2's WINDOW_ADJUST handler, as the server opens the
  // window (a few packets each time): cork for the rest of the tick whenever the transport delivers data, so
  // those go out as one writev too. Our listener runs first and reads nothing; it is removed at the end.
  const corkForTick = () => {
    sock!.cork();
    process.nextTick(() => sock!.uncork());
  };
  sock?.prependListener('data', corkForTick);

  /** One channel write with the socket corked: ssh2's packets for the whole chunk leave in one writev. */
  const send = (data: Buffer, end: boolean): boolean => {
    sock?.cork();
    try {
      if (end) { channel.end(data); return true; }
      return channel.write(data);
    } finally {
      if (sock) process.nextTick(() => sock.uncork());
    }
  };

  let failure: string | undefined;
  try {
    const completed = await produce(scan, shared, items, async (chunk, finished) => {
      if (stopped) return false;
      if (signal?.aborted) { failure = 'cancelled'; return false; }
      const more = send(chunk, false);
      for (const [item, n] of finished) onItem(item, n);
      if (!more) await Promise.race([new Promise<void>((resolve) => channel.once('drain', () => resolve())), closed]);
      if (signal?.aborted) { failure = 'cancelled'; return false; }
      return !stopped;
    });
    if (completed && !stopped) send(Buffer.concat([entryHeader(sentinelName(stage), { type: 'file', size: 0, mode: 0o600, mtime: 0 }), END_OF_ARCHIVE]), true);
    else channel.close();
  } catch (err) {
    failure = (err as Error).message;
    channel.close();
  }
  try {
    await closed;
  } finally {
    sock?.removeListener('data', corkForTick);
    lease.release();
  }
  if (code === NO_TAR_EXIT) return { kind: 'unsupported' };
  if (failure) return { kind: 'failed', message: failure };
  if (code !== 0) return { kind: 'failed', message: code === null ? 'connection lost during the push; run it again' : tarFailure(code, stderr, stderrLines) };
  return { kind: 'ok' };
}
