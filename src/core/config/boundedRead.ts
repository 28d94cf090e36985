// Reading a config-like file with a size bound: a wrong path (a log, /dev/zero) is refused with a
// clear error instead of filling memory.
import type { FileHandle } from 'node:fs/promises';

/** The whole file as UTF-8, or undefined when it is longer than `maxBytes` (read stops there). */
export async function readAtMost(handle: FileHandle, maxBytes: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const buffer = Buffer.alloc(64 * 1024);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
    if (bytesRead === 0) break;
    total += bytesRead;
    if (total > maxBytes) return undefined;
    chunks.push(buffer.subarray(0, bytesRead));
  }
  return Buffer.concat(chunks).toString('utf8');
}
