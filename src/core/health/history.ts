// The health history: every probe result per host, kept under <root>/health/ beside the run store.
//
// Layout, one UTC day per file:
//   YYYY-MM-DD.jsonl          raw samples, appended by every writer (editor windows, CLI runs) at once
//   YYYY-MM-DD.compact.jsonl  the same day downsampled; first line a header saying what it consumed
//
// Concurrency: writers only ever append, each batch as one write(2) on an O_APPEND descriptor, so lines
// of different processes never interleave and nobody needs a lock to record. Compaction (rare) takes
// an exclusive lock file, writes the compacted day to a temp file and renames it into place, then
// removes the raw file. The header records how many bytes of the raw file went in, so a compaction cut
// short between rename and removal is finished by the next one without counting anything twice, and
// lines appended late to an old day are merged rather than lost.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { downsample, parseRecord, type HealthBucket, type HealthRecord, type HealthSample } from './record';

export const HEALTH_SUBDIR = 'health';

export interface HistoryPolicy {
  /** Days (counting today) kept as raw samples. */
  rawDays: number;
  /** Bucket length of compacted days. */
  fineSpanMs: number;
  /** Days older than this are re-bucketed to `coarseSpanMs`. */
  fineDays: number;
  coarseSpanMs: number;
  /** Days older than this are deleted. */
  retentionDays: number;
}

export const DEFAULT_POLICY: HistoryPolicy = {
  rawDays: 2,
  fineSpanMs: 10 * 60_000,
  fineDays: 7,
  coarseSpanMs: 60 * 60_000,
  retentionDays: 30,
};

const DAY_MS = 86_400_000;
/** A lock older than this belongs to a compactor that died. */
const STALE_LOCK_MS = 5 * 60_000;
/** One write(2) per batch stays well below what any local file system splits. */
const MAX_WRITE_BYTES = 64 * 1024;
const RAW = /^(\d{4}-\d{2}-\d{2})\.jsonl$/;
const COMPACT = /^(\d{4}-\d{2}-\d{2})\.compact\.jsonl$/;
const TEMP = /\.tmp$/;

interface CompactHeader {
  k: 'h';
  span: number;
  /** Bytes of the raw day file already folded into this file. */
  consumed: number;
}

export interface CompactResult {
  compactedDays: string[];
  removedDays: string[];
  /** Another process held the lock: nothing was done. */
  locked?: boolean;
}

export const dayOf = (t: number) => new Date(t).toISOString().slice(0, 10);
const dayStart = (day: string) => Date.parse(`${day}T00:00:00Z`);

export function healthDir(root: string): string {
  return join(root, HEALTH_SUBDIR);
}

export class HealthHistory {
  readonly dir: string;
  private writing: Promise<void> = Promise.resolve();

  constructor(root: string, readonly policy: HistoryPolicy = DEFAULT_POLICY) {
    this.dir = healthDir(root);
  }

  /** Appends samples (one write per day touched). Writes of one process are kept in order. */
  record(samples: readonly HealthSample[]): Promise<void> {
    if (!samples.length) return this.writing;
    const next = this.writing.then(() => this.append(samples));
    this.writing = next.catch(() => undefined);
    return next;
  }

  private async append(samples: readonly HealthSample[]): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const byDay = new Map<string, string[]>();
    for (const s of samples) {
      const day = dayOf(s.t);
      byDay.set(day, [...(byDay.get(day) ?? []), JSON.stringify(s) + '\n']);
    }
    for (const [day, lines] of byDay) {
      for (const chunk of chunks(lines)) await appendOnce(join(this.dir, `${day}.jsonl`), chunk);
    }
  }

  /** Records from `since` on (all hosts, or those named), oldest first. Re-reading only parses what was appended since. */
  async read(opts: { since: number; until?: number; hosts?: readonly string[] }): Promise<{ records: HealthRecord[]; damagedLines: number }> {
    const until = opts.until ?? Number.MAX_SAFE_INTEGER;
    const wanted = opts.hosts ? new Set(opts.hosts) : undefined;
    const records: HealthRecord[] = [];
    let damagedLines = 0;
    const days = await this.days();
    const seen = new Set<string>();
    for (const [day, files] of days) {
      const start = dayStart(day);
      if (start + DAY_MS <= opts.since || start > until) continue;
      const parts: ParsedFile[] = [];
      let consumed = 0;
      if (files.compact) {
        const compact = await this.parsed(join(this.dir, files.compact), 0);
        consumed = compact.header?.consumed ?? 0;
        parts.push(compact);
      }
      if (files.raw) parts.push(await this.parsed(join(this.dir, files.raw), consumed));
      for (const part of parts) {
        seen.add(part.path);
        damagedLines += part.damaged;
        for (const r of part.records) {
          if (r.t < opts.since - (r.k === 'b' ? r.span : 0) || r.t > until) continue;
          if (wanted && !wanted.has(r.host)) continue;
          records.push(r);
        }
      }
    }
    for (const path of this.cache.keys()) if (!seen.has(path)) this.cache.delete(path);
    records.sort((a, b) => a.t - b.t);
    return { records, damagedLines };
  }

  private readonly cache = new Map<string, ParsedFile>();

  /** A file's records from byte `from` on; a file that only grew since the last call is parsed from where that call stopped. */
  private async parsed(path: string, from: number): Promise<ParsedFile> {
    const st = await stat(path).catch(() => undefined);
    const old = this.cache.get(path);
    if (!st) {
      this.cache.delete(path);
      return { path, ino: 0, from, end: from, records: [], damaged: 0 };
    }
    const grew = old && old.ino === st.ino && old.from === from && st.size >= old.end;
    const base: ParsedFile = grew ? old : { path, ino: st.ino, from, end: from, records: [], damaged: 0 };
    if (grew && st.size === old.end) return old;
    const chunk = await readLines(path, base.end);
    const next: ParsedFile = { ...base, end: chunk.end, records: [...base.records], damaged: base.damaged };
    for (const [i, line] of chunk.lines.entries()) {
      if (base.end === 0 && i === 0 && from === 0) {
        const header = headerOf(line);
        if (header) {
          next.header = header;
          continue;
        }
      }
      const r = parseRecord(line);
      if (r) next.records.push(r);
      else next.damaged++;
    }
    this.cache.set(path, next);
    return next;
  }

  /**
   * Folds raw days past `rawDays` into buckets, re-buckets days past `fineDays`, deletes days past
   * `retentionDays`. Safe to call from several processes at once: one does the work, the others return `locked`.
   */
  async compact(now = Date.now()): Promise<CompactResult> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const lock = join(this.dir, 'compact.lock');
    if (!(await takeLock(lock))) return { compactedDays: [], removedDays: [], locked: true };
    try {
      const result: CompactResult = { compactedDays: [], removedDays: [] };
      const today = dayStart(dayOf(now));
      for (const [day, files] of await this.days()) {
        const ageDays = Math.round((today - dayStart(day)) / DAY_MS);
        if (ageDays >= this.policy.retentionDays) {
          for (const f of [files.raw, files.compact]) if (f) await rm(join(this.dir, f), { force: true });
          result.removedDays.push(day);
          continue;
        }
        const span = ageDays >= this.policy.fineDays ? this.policy.coarseSpanMs : this.policy.fineSpanMs;
        if (ageDays >= this.policy.rawDays && (await this.compactDay(day, files, span))) result.compactedDays.push(day);
      }
      await this.removeStaleTemps(now);
      return result;
    } finally {
      await rm(lock, { force: true });
    }
  }

  private async compactDay(day: string, files: DayFiles, span: number): Promise<boolean> {
    const compactPath = join(this.dir, `${day}.compact.jsonl`);
    const rawPath = join(this.dir, `${day}.jsonl`);
    const old = files.compact ? await readLines(compactPath) : undefined;
    const header = old ? headerOf(old.lines[0]) : undefined;
    const rawSize = files.raw ? (await stat(rawPath)).size : 0;
    const consumed = header?.consumed ?? 0;
    if (header && header.span === span && rawSize <= consumed) {
      // Already compacted; a raw file left by a compaction cut short before removing it.
      if (files.raw) await rm(rawPath, { force: true });
      return false;
    }
    const records: HealthRecord[] = [];
    for (const line of old?.lines.slice(header ? 1 : 0) ?? []) {
      const r = parseRecord(line);
      if (r) records.push(r);
    }
    let rawEnd = consumed;
    if (files.raw && rawSize > consumed) {
      const raw = await readLines(rawPath, consumed);
      rawEnd = raw.end;
      for (const line of raw.lines) {
        const r = parseRecord(line);
        if (r) records.push(r);
      }
    }
    const buckets: HealthBucket[] = downsample(records, span);
    const head: CompactHeader = { k: 'h', span, consumed: rawEnd };
    const temp = join(this.dir, `.${day}.compact.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    await writeFile(temp, [head, ...buckets].map((r) => JSON.stringify(r) + '\n').join(''), { mode: 0o600 });
    await rename(temp, compactPath);
    // Remove the raw file only when nothing was appended after what we read (a late writer's lines stay for next time).
    if (files.raw && (await stat(rawPath).then((s) => s.size, () => 0)) === rawEnd) await rm(rawPath, { force: true });
    return true;
  }

  private async removeStaleTemps(now: number): Promise<void> {
    for (const name of await readdir(this.dir)) {
      if (!TEMP.test(name)) continue;
      const s = await stat(join(this.dir, name)).catch(() => undefined);
      if (s && now - s.mtimeMs > STALE_LOCK_MS) await rm(join(this.dir, name), { force: true });
    }
  }

  private async days(): Promise<Map<string, DayFiles>> {
    const names = await readdir(this.dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[];
      throw err;
    });
    const days = new Map<string, DayFiles>();
    for (const name of names) {
      const raw = RAW.exec(name);
      const compact = COMPACT.exec(name);
      const day = raw?.[1] ?? compact?.[1];
      if (!day) continue;
      const files = days.get(day) ?? {};
      if (raw) files.raw = name;
      else files.compact = name;
      days.set(day, files);
    }
    return new Map([...days].sort(([a], [b]) => (a < b ? -1 : 1)));
  }
}

interface ParsedFile {
  path: string;
  ino: number;
  /** Byte offset parsing started at (a compact file's `consumed`, for its raw day). */
  from: number;
  /** Byte offset after the last complete line parsed. */
  end: number;
  records: HealthRecord[];
  damaged: number;
  header?: CompactHeader;
}

interface DayFiles {
  raw?: string;
  compact?: string;
}

function* chunks(lines: readonly string[]): Generator<string> {
  let chunk = '';
  for (const line of lines) {
    if (chunk && chunk.length + line.length > MAX_WRITE_BYTES) {
      yield chunk;
      chunk = '';
    }
    chunk += line;
  }
  if (chunk) yield chunk;
}

/** One write(2) on an O_APPEND descriptor: the kernel places it at the end atomically w.r.t. other appenders. */
async function appendOnce(path: string, text: string): Promise<void> {
  const fh = await open(path, 'a', 0o600);
  try {
    const buf = Buffer.from(text, 'utf8');
    let off = 0;
    while (off < buf.length) off += (await fh.write(buf, off, buf.length - off)).bytesWritten;
  } finally {
    await fh.close();
  }
}

/**
 * Complete lines of a file from byte `from` on. A last line without its newline is a write in progress
 * (or cut by a crash): not returned, and `end` stops before it.
 */
async function readLines(path: string, from = 0): Promise<{ lines: string[]; end: number }> {
  let buf: Buffer;
  try {
    const fh = await open(path, 'r');
    try {
      const size = (await fh.stat()).size;
      buf = Buffer.alloc(Math.max(0, size - from));
      let got = 0;
      while (got < buf.length) {
        const { bytesRead } = await fh.read(buf, got, buf.length - got, from + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      buf = buf.subarray(0, got);
    } finally {
      await fh.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { lines: [], end: from };
    throw err;
  }
  const lastNewline = buf.lastIndexOf(0x0a);
  if (lastNewline < 0) return { lines: [], end: from };
  const text = buf.subarray(0, lastNewline + 1).toString('utf8');
  return { lines: text.split('\n').filter((l) => l.trim() !== ''), end: from + lastNewline + 1 };
}

function headerOf(line: string | undefined): CompactHeader | undefined {
  if (!line) return undefined;
  try {
    const h = JSON.parse(line) as Partial<CompactHeader>;
    return h.k === 'h' && typeof h.span === 'number' && typeof h.consumed === 'number' ? (h as CompactHeader) : undefined;
  } catch {
    return undefined;
  }
}

async function takeLock(path: string): Promise<boolean> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o600);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const s = await stat(path).catch(() => undefined);
      if (s && Date.now() - s.mtimeMs < STALE_LOCK_MS) return false;
      // Remove the stale lock only if it is still the same file (another process may just have replaced it).
      const again = await stat(path).catch(() => undefined);
      if (s && again && again.ino === s.ino) await unlink(path).catch(() => undefined);
    }
  }
  return false;
}
