// Recent least-loaded choices shared by every process using one run store, so quick successive
// launches from the CLI, the editor and agents spread out (the herd guard of core/balance/place.ts).
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HerdGuard, type HerdOptions } from '../balance/place';

export const HERD_FILE = 'placements.json';

export async function loadHerd(root: string, opts: HerdOptions = {}): Promise<HerdGuard> {
  const herd = new HerdGuard(opts);
  try {
    herd.load(JSON.parse(await readFile(join(root, HERD_FILE), 'utf8')));
  } catch { /* absent or damaged: start empty */ }
  return herd;
}

export async function saveHerd(root: string, herd: HerdGuard): Promise<void> {
  try {
    await mkdir(root, { recursive: true, mode: 0o700 });
    const tmp = join(root, `${HERD_FILE}.${process.pid}.tmp`);
    await writeFile(tmp, JSON.stringify(herd.toJSON()), { mode: 0o600 });
    await rename(tmp, join(root, HERD_FILE));
  } catch { /* herd protection is best effort */ }
}

const chains = new Map<string, Promise<unknown>>();

/**
 * Read-decide-write of the herd file, one at a time: in this process by a promise chain, across
 * processes by an exclusive lock file (taken over when its holder is older than `staleMs`).
 */
export function withHerdLock<T>(root: string, fn: () => Promise<T>, staleMs = 5000): Promise<T> {
  const run = async () => {
    await mkdir(root, { recursive: true, mode: 0o700 });
    const lock = join(root, `${HERD_FILE}.lock`);
    const until = Date.now() + staleMs;
    for (;;) {
      try {
        await writeFile(lock, String(process.pid), { flag: 'wx', mode: 0o600 });
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') break; // no lock possible: go on unlocked
        if (Date.now() > until) { await rm(lock, { force: true }); continue; }
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    try {
      return await fn();
    } finally {
      await rm(lock, { force: true });
    }
  };
  const next = (chains.get(root) ?? Promise.resolve()).then(run, run);
  chains.set(root, next.catch(() => {}));
  return next;
}
