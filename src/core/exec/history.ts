// Append-only JSONL history shared by the extension and the CLI: one record per run, output files
// beside it under runs/<id>/.
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { RunRecord } from './run';

export const HISTORY_FILE = 'history.jsonl';

/** The CLI's default store (XDG data dir); the extension passes its global storage folder instead. */
export function defaultHistoryDir(env: Record<string, string | undefined> = process.env): string {
  return join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'flotilla');
}

export function runOutputDir(historyDir: string, runId: string): string {
  return join(historyDir, 'runs', runId);
}

/** What is stored: the record without the in-memory output heads (those live in the output files). */
export type StoredRun = Omit<RunRecord, 'results'> & {
  results: Array<Omit<RunRecord['results'][number], 'stdout' | 'stderr'>>;
};

export function toStored(record: RunRecord): StoredRun {
  return { ...record, results: record.results.map(({ stdout: _o, stderr: _e, ...rest }) => rest) };
}

export async function appendRun(historyDir: string, record: RunRecord): Promise<void> {
  await mkdir(historyDir, { recursive: true, mode: 0o700 });
  await appendFile(join(historyDir, HISTORY_FILE), JSON.stringify(toStored(record)) + '\n', { mode: 0o600 });
}

/** Newest first. A damaged line is reported, not silently dropped. */
export async function readHistory(historyDir: string, limit = 100): Promise<{ runs: StoredRun[]; damagedLines: number[] }> {
  let text: string;
  try {
    text = await readFile(join(historyDir, HISTORY_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { runs: [], damagedLines: [] };
    throw err;
  }
  const runs: StoredRun[] = [];
  const damagedLines: number[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    try {
      runs.push(JSON.parse(line) as StoredRun);
    } catch {
      damagedLines.push(i + 1);
    }
  });
  return { runs: runs.reverse().slice(0, limit), damagedLines };
}

export async function findRun(historyDir: string, idPrefix: string): Promise<StoredRun> {
  const { runs } = await readHistory(historyDir, Number.MAX_SAFE_INTEGER);
  const matches = runs.filter((r) => r.id === idPrefix || r.id.startsWith(idPrefix));
  if (matches.length === 0) throw new Error(`no run ${JSON.stringify(idPrefix)} in the history; list runs with: flotilla history`);
  if (matches.length > 1 && !matches.some((r) => r.id === idPrefix)) {
    throw new Error(`run id ${JSON.stringify(idPrefix)} is ambiguous (${matches.length} runs); give more characters`);
  }
  return matches.find((r) => r.id === idPrefix) ?? matches[0]!;
}
