// Output sized for a model's context window: one byte budget shared by every host and stream of a run
// (small outputs are shown whole, the big ones share what is left), read from the run store's files so a
// capped answer can always be continued with run_output.
import { open, stat } from 'node:fs/promises';
import { sanitizeForView, utf8SafeLength } from '../core/exec/output';

/** Splits `budget` over streams of these sizes: none gets more than it has, the rest is shared evenly. */
export function shareBudget(sizes: readonly number[], budget: number): number[] {
  const shares = sizes.map(() => 0);
  const order = sizes.map((_, i) => i).sort((a, b) => sizes[a]! - sizes[b]!);
  let left = Math.max(0, budget);
  let streams = sizes.length;
  for (const i of order) {
    const give = Math.min(sizes[i]!, Math.floor(left / streams));
    shares[i] = give;
    left -= give;
    streams--;
  }
  return shares;
}

export async function fileSize(path: string | undefined): Promise<number> {
  if (!path) return 0;
  return (await stat(path).catch(() => ({ size: 0 }))).size;
}

/** Bytes [start, start+length) of a file (fewer at its end; none when it does not exist). */
export async function readRange(path: string, start: number, length: number): Promise<Buffer> {
  if (length <= 0) return Buffer.alloc(0);
  const fh = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!fh) return Buffer.alloc(0);
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, start);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** Continuation bytes at the start of a slice belong to a character cut off before it. */
function leadingPartial(buf: Buffer): number {
  let i = 0;
  while (i < buf.length && i < 3 && (buf[i]! & 0xc0) === 0x80) i++;
  return i;
}

export interface Slice {
  /** Sanitized text (terminal escapes removed). */
  text: string;
  /** Byte offset in the file where the text starts and the offset just after it. */
  start: number;
  end: number;
}

/** The last `maxBytes` of a file, starting on a character (and, when cut, on a line) boundary. */
export async function readTail(path: string, size: number, maxBytes: number): Promise<Slice> {
  const start = Math.max(0, size - maxBytes);
  let buf = await readRange(path, start, size - start);
  let from = start;
  if (start > 0) {
    const nl = buf.indexOf(0x0a);
    const cut = nl >= 0 && nl < buf.length - 1 ? nl + 1 : leadingPartial(buf);
    buf = buf.subarray(cut);
    from += cut;
  }
  return { text: sanitizeForView(buf.toString('utf8')), start: from, end: from + buf.length };
}

/** Up to `maxBytes` from `offset`, ending on a character boundary (the next read goes on from `end`). */
export async function readFrom(path: string, offset: number, maxBytes: number): Promise<Slice> {
  let buf = await readRange(path, offset, maxBytes);
  const lead = offset > 0 ? leadingPartial(buf) : 0;
  buf = buf.subarray(lead);
  const keep = utf8SafeLength(buf);
  if (keep > 0) buf = buf.subarray(0, keep);
  return { text: sanitizeForView(buf.toString('utf8')), start: offset + lead, end: offset + lead + buf.length };
}

/** The last `lines` lines within the last `maxBytes`. */
export async function readTailLines(path: string, size: number, lines: number, maxBytes: number): Promise<Slice & { lines: number }> {
  const tail = await readTail(path, size, maxBytes);
  const raw = await readRange(path, tail.start, tail.end - tail.start);
  let cut = raw.length;
  let seen = 0;
  // A final newline ends the last line; it does not start another.
  let i = raw.length - (raw[raw.length - 1] === 0x0a ? 2 : 1);
  for (; i >= 0; i--) {
    if (raw[i] === 0x0a && ++seen === lines) break;
  }
  cut = i >= 0 ? i + 1 : 0;
  const kept = raw.subarray(cut);
  const count = kept.length ? kept.toString('utf8').split('\n').length - (kept[kept.length - 1] === 0x0a ? 1 : 0) : 0;
  return { text: sanitizeForView(kept.toString('utf8')), start: tail.start + cut, end: tail.end, lines: count };
}
