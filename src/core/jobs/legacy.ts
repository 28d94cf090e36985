// Runs recorded before the run store existed: one JSONL file (history.jsonl) per front end, output
// under runs/<id>/ beside it. Imported once into the store, so nothing earlier is lost.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunOrigin } from '../exec/run';
import type { HostEntry, RunDoc, RunStore } from './store';

export const LEGACY_HISTORY_FILE = 'history.jsonl';

interface LegacyRun {
  id: string;
  startedAt: string;
  finishedAt: string;
  origin: string;
  targets: string[];
  command: string;
  argv?: string[];
  cwd?: string;
  timeoutMs: number;
  results: HostEntry[];
}

const ORIGINS: Record<string, RunOrigin> = { palette: 'extension', tree: 'extension', task: 'task', cli: 'cli', test: 'test' };

/** Imports `dir/history.jsonl` (renamed to `.imported` afterwards); returns how many runs were added. */
export async function importLegacyHistory(store: RunStore, dir: string): Promise<number> {
  const file = join(dir, LEGACY_HISTORY_FILE);
  if (!existsSync(file)) return 0;
  let added = 0;
  for (const line of (await readFile(file, 'utf8')).split('\n')) {
    let run: LegacyRun;
    try {
      run = JSON.parse(line) as LegacyRun;
    } catch {
      continue;
    }
    if (!run?.id || (await store.read(run.id).catch(() => undefined))) continue;
    const doc: RunDoc = {
      version: 1,
      id: run.id,
      kind: 'run',
      state: 'done',
      origin: ORIGINS[run.origin] ?? 'cli',
      startedBy: 'unknown (imported)',
      owner: { pid: 0, machine: '' },
      startedAt: run.startedAt,
      finishedAt: run.finishedAt,
      target: run.targets.join(','),
      command: run.command,
      argv: run.argv,
      cwd: run.cwd,
      timeoutMs: run.timeoutMs,
      hosts: run.results,
    };
    try {
      await mkdir(store.dirOf(run.id), { recursive: true, mode: 0o700 });
      await store.write(doc);
      added++;
    } catch { /* an id that does not fit the store: skip */ }
  }
  await rename(file, `${file}.imported`);
  return added;
}
