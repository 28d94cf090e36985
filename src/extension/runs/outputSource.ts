// Where a host's output comes from for the view: the live head while the run is going, the output files
// afterwards (history runs only have those). Always capped at the view cap; the raw text is returned
// unsanitized — rendering sanitizes it.
import { open } from 'node:fs/promises';
import { utf8SafeLength } from '../../core/exec/output';
import type { HostRow } from './runModel';

export interface CappedText {
  /** The first `shownBytes` bytes, decoded as UTF-8 (cut on a character boundary). Not sanitized. */
  text: string;
  shownBytes: number;
  totalBytes: number;
  /** The full output on disk, when there is one. */
  file?: string;
  /** Set when the output file was expected but could not be read. */
  missing?: string;
}

export interface HostOutputs {
  stdout: CappedText;
  stderr: CappedText;
}

const EMPTY: CappedText = { text: '', shownBytes: 0, totalBytes: 0 };

export function cappedFromBuffer(head: Buffer, totalBytes: number, capBytes: number, file?: string): CappedText {
  const cut = head.length > capBytes ? head.subarray(0, capBytes) : head;
  const len = cut.length < totalBytes ? utf8SafeLength(cut) : cut.length;
  return { text: cut.toString('utf8', 0, len), shownBytes: len, totalBytes, file };
}

/** Reads at most `capBytes` from the start of `file` and reports the file's full size. */
export async function readCapped(file: string, capBytes: number): Promise<CappedText> {
  let handle;
  try {
    handle = await open(file, 'r');
    const { size } = await handle.stat();
    const buf = Buffer.alloc(Math.min(size, capBytes));
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    return cappedFromBuffer(buf.subarray(0, bytesRead), size, capBytes, file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ...EMPTY, file, missing: code === 'ENOENT' ? 'the output file is gone (history cleared?)' : String(code ?? err) };
  } finally {
    await handle?.close();
  }
}

/** The output to show for one host row. */
export async function loadHostOutputs(row: HostRow, capBytes: number): Promise<HostOutputs> {
  if (row.live && !row.result) {
    return {
      stdout: cappedFromBuffer(row.live.stdout.head(), row.live.stdout.totalBytes, capBytes),
      stderr: cappedFromBuffer(row.live.stderr.head(), row.live.stderr.totalBytes, capBytes),
    };
  }
  // A finished host names its files; a host still running in another process has them at the known place.
  const r = row.result;
  const stdoutFile = r ? r.stdoutFile : row.files?.stdout;
  const stderrFile = r ? r.stderrFile : row.files?.stderr;
  const [stdout, stderr] = await Promise.all([
    stdoutFile ? readCapped(stdoutFile, capBytes) : EMPTY,
    stderrFile ? readCapped(stderrFile, capBytes) : EMPTY,
  ]);
  return { stdout, stderr };
}

/** Whether the command got as far as running on the host (it is running, sent output, or has an output file). */
export function hostRan(row: HostRow): boolean {
  if (row.state === 'running') return true;
  return !!(row.live || row.result?.stdoutFile);
}
