import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const DEFAULT_LOAD = 0.05;

export function loadavgText(load: number): string {
  const l = load.toFixed(2);
  return `${l} ${l} ${l} 1/100 12345\n`;
}

/** The real /proc/meminfo with the MemAvailable value replaced (kept when `memAvailableKb` is undefined). */
export async function meminfoText(memAvailableKb?: number): Promise<string> {
  const real = await readFile('/proc/meminfo', 'utf8');
  if (memAvailableKb === undefined) return real;
  return real.replace(/^(MemAvailable:\s*)\d+( kB)$/m, (_line, head: string, tail: string) => {
    const value = String(Math.round(memAvailableKb));
    // keep the column alignment of the real file: the number ends at the same column
    const width = _line.length - head.trimEnd().length - tail.length;
    return `${head.trimEnd()} ${value.padStart(width - 1)}${tail}`;
  });
}

export function realMemAvailableKb(meminfo: string): number | undefined {
  const match = /^MemAvailable:\s*(\d+) kB$/m.exec(meminfo);
  return match ? Number(match[1]) : undefined;
}

export const loadavgPath = (hostDir: string) => join(hostDir, 'loadavg');
export const meminfoPath = (hostDir: string) => join(hostDir, 'meminfo');

/** Creates the files that get bind-mounted over /proc/loadavg and /proc/meminfo. */
export async function createFakeProc(hostDir: string, load: number, memAvailableKb?: number): Promise<void> {
  await writeFile(loadavgPath(hostDir), loadavgText(load), { mode: 0o644 });
  await writeFile(meminfoPath(hostDir), await meminfoText(memAvailableKb), { mode: 0o644 });
}

/**
 * Rewrites a file in place (same inode), because it is bind-mounted into a running sshd's namespace:
 * a rename would leave the mount pointing at the old inode. Writes first, then truncates, so a reader
 * never sees an empty file.
 */
export async function rewriteInPlace(file: string, text: string): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    const bytes = Buffer.from(text);
    await handle.write(bytes, 0, bytes.length, 0);
    await handle.truncate(bytes.length);
  } finally {
    await handle.close();
  }
}

export async function updateFakeProc(hostDir: string, load: number, memAvailableKb?: number): Promise<void> {
  await rewriteInPlace(loadavgPath(hostDir), loadavgText(load));
  if (memAvailableKb !== undefined) await rewriteInPlace(meminfoPath(hostDir), await meminfoText(memAvailableKb));
}
