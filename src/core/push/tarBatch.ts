// The tar fast path's sender, built for throughput in pure-JS ssh2 (what VS Code runs): the archive is
// assembled in large chunks — headers, file data read straight into the chunk, padding — and each chunk is
// handed to the channel in one write with the connection's socket corked, so ssh2's packets (32 KiB each,
// the server's channel maximum) leave in one writev instead of three or four socket writes apiece. Small
// files are read synchronously (a hot-cache open/fstat/read/close costs microseconds; the promise API costs a
// thread-pool round trip per call, which dominated the first push), never more than one chunk at a time, and
// hosts pushing the same tree at once share the chunks (built once, sent to each).
// The remote side, staging directory, sentinel and rename are tarPush.ts's, unchanged.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import type { Pool } from '../ssh/pool';
import { buildRemoteCommand } from '../ssh/quote';
import type { PlannedHost } from './plan';
import { sourcePath } from './scan';
import { channelTransport } from '../ssh/ssh2Internals';
import { NO_TAR_EXIT, sentinelName, stagingFor, tarScript, type TarOutcome } from './tarPush';
import { END_OF_ARCHIVE, entryHeader } from './tarStream';
import { changeableInSameSecond, remoteModeFor, type PlanItem, type ScanResult } from './types';

/** Bytes per channel write: 32 ssh packets, one corked writev. */
export const CHUNK_BYTES = 1024 * 1024;
const BLOCK = 512;


/** The local tree changed under the push: the archive would not match the plan. */
class SizeChanged extends Error {}

/**
 * Hosts pushing the same scan at the same time build byte-identical archives (the sentinel, which differs,
 * is sent after them), so a chunk one host built is kept for the others, which usually ask for it moments
 * later: each file is read and each header built about once per push instead of once per host, and the
 * others send the very same buffer (ssh2 only reads it). A chunk is shared only when it begins and ends
 * between entries; a host takes it when it stands at a chunk's start before the same run of entries (same
 * paths of the same scan), and otherwise builds its own. An entry is dropped once every other concurrent
 * push has taken it, and the whole cache is bounded (a host that falls behind simply builds its own chunks).
 * Each chunk is one consistent build: its headers promise exactly the bytes it carries.
 */
const SHARE_MAX_BYTES = 32 * 1024 * 1024;

interface SharedChunk {
  chunk: Buffer;
  /** The entries the chunk holds, in order, with the bytes of each file. */
  paths: string[];
  sizes: number[];
  wanted: number;
}

class SharedChunks {
  users = 0;
  private bytes = 0;
  /** By the path of the chunk's first entry. */
  private readonly byStart = new Map<string, SharedChunk>();

  /** The chunk that starts with `items[from]` and holds the same next entries, if one is kept. */
  take(items: readonly PlanItem[], from: number): SharedChunk | undefined {
    const hit = this.byStart.get(items[from]!.path);
    if (!hit || from + hit.paths.length > items.length || hit.paths.some((p, i) => items[from + i]!.path !== p)) return undefined;
    if (--hit.wanted <= 0) this.drop(hit);
    return hit;
  }

  offer(chunk: Buffer, paths: string[], sizes: number[]): void {
    if (this.users < 2 || !paths.length || this.byStart.has(paths[0]!)) return;
    this.byStart.set(paths[0]!, { chunk, paths, sizes, wanted: this.users - 1 });
    this.bytes += chunk.buffer.byteLength;
    for (const oldest of this.byStart.values()) {
      if (this.bytes <= SHARE_MAX_BYTES) break;
      this.drop(oldest);
    }
  }

  private drop(entry: SharedChunk): void {
    if (this.byStart.get(entry.paths[0]!) !== entry) return;
    this.byStart.delete(entry.paths[0]!);
    this.bytes -= entry.chunk.buffer.byteLength;
  }
}

const sharedByScan = new WeakMap<ScanResult, SharedChunks>();

/** Counts a host in on the scan's shared chunks (exported for unit tests, like produce). */
export function joinShared(scan: ScanResult): { shared: SharedChunks; leave: () => void } {
  let shared = sharedByScan.get(scan);
  if (!shared) sharedByScan.set(scan, (shared = new SharedChunks()));
  shared.users++;
  const s = shared;
  return { shared: s, leave: () => { if (--s.users === 0 && sharedByScan.get(scan) === s) sharedByScan.delete(scan); } };
}

/**
 * Builds the archive of `items` chunk by chunk (or takes another host's identical chunk). `flush` receives
 * each full chunk (and the items whose last byte it holds) and resolves when the next one may be built.
 */
export async function produce(
  scan: ScanResult, shared: SharedChunks, items: readonly PlanItem[],
  flush: (chunk: Buffer, finished: Array<[PlanItem, number]>) => Promise<boolean>,
): Promise<boolean> {
  let chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  let pos = 0;
  let finished: Array<[PlanItem, number]> = [];
  /** Index of the entry the chunk being built begins with; undefined when it begins inside a file's data. */
  let firstItem: number | undefined;
  /** Whether everything appended so far ends an entry (a chunk emitted now ends between entries). */
  let between = true;
  const emit = async (): Promise<boolean> => {
    const full = chunk.subarray(0, pos);
    const done = finished;
    if (between && firstItem !== undefined && done.length) shared.offer(full, done.map(([i]) => i.path), done.map(([, n]) => n));
    chunk = Buffer.allocUnsafe(CHUNK_BYTES); // ssh2 may keep a reference until the window opens: never reuse
    pos = 0;
    finished = [];
    firstItem = undefined;
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
  const padded = (n: number) => (n % BLOCK ? n + BLOCK - (n % BLOCK) : n);

  for (let index = 0; index < items.length; index++) {
    const item = items[index]!;
    const l = scan.entries.get(item.path)!;
    const mtime = Math.floor(l.mtimeMs / 1000);
    // Exact mtimes where whole seconds could hide a later edit, and on every directory: they cost a pax
    // record each, and they show the planner that the destination's filesystem keeps fractions.
    const mtimeNsec = l.type === 'dir' || changeableInSameSecond(scan, l) ? l.mtimeNsec : undefined;
    const mode = remoteModeFor(l.mode);
    const size = l.type === 'file' ? l.size : 0;
    let header = entryHeader(item.path, { type: l.type, size, mode, mtime, mtimeNsec, linkTarget: l.linkTarget });
    // An entry that fits in one chunk is never split across two, so chunks end between entries. Where they
    // end is decided from the scan, the same for every host: hosts stay in step and can share their chunks.
    const length = header.length + padded(size);
    if (pos > 0 && (pos === CHUNK_BYTES || (length <= CHUNK_BYTES && length > CHUNK_BYTES - pos)) && !(await emit())) return false;
    if (pos === 0) {
      const known = shared.take(items, index);
      if (known) {
        if (!(await flush(known.chunk, known.sizes.map((n, k): [PlanItem, number] => [items[index + k]!, n])))) return false;
        index += known.paths.length - 1;
        continue;
      }
      firstItem = index;
    }
    between = false;
    if (l.type !== 'file') {
      if (!(await append(header))) return false;
      finished.push([item, 0]);
      between = true;
      continue;
    }
    // Opened as the scan saw it: never through a symlink swapped in since, never blocking on a FIFO.
    const fd = openSync(sourcePath(scan, item.path), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      // The size at open time is what the header promises; a file that shrinks meanwhile fails the push.
      const st = fstatSync(fd);
      if (!st.isFile()) throw new SizeChanged(`${item.path} is no longer a regular file; run the push again`);
      const actual = st.size;
      if (actual !== size) header = entryHeader(item.path, { type: 'file', size: actual, mode, mtime, mtimeNsec });
      if (!(await append(header))) return false;
      for (let off = 0; off < actual; ) {
        if (pos === CHUNK_BYTES && !(await emit())) return false;
        const n = readSync(fd, chunk, pos, Math.min(CHUNK_BYTES - pos, actual - off), off);
        if (n === 0) throw new SizeChanged(`${item.path} changed size while being sent; run the push again`);
        pos += n;
        off += n;
      }
      if (actual % BLOCK && !(await zeros(BLOCK - (actual % BLOCK)))) return false;
      finished.push([item, actual]);
      between = true;
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
  pool: Pool, scan: ScanResult, shared: SharedChunks, plan: PlannedHost, items: readonly PlanItem[],
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
