import { readFile } from 'node:fs/promises';
import { findRun, readHistory } from '../../core/exec/history';
import { sanitizeForView } from '../../core/exec/output';
import { EXIT, UsageError, type CliContext } from '../context';

export async function historyCommand(ctx: CliContext, limit: number): Promise<number> {
  const { runs, damagedLines } = await readHistory(ctx.historyDir, limit);
  if (ctx.flags.json) {
    process.stdout.write(JSON.stringify({ runs, damagedLines }) + '\n');
    return EXIT.ok;
  }
  for (const r of runs) {
    const counts = new Map<string, number>();
    for (const h of r.results) counts.set(h.state, (counts.get(h.state) ?? 0) + 1);
    const states = [...counts].map(([s, n]) => `${n} ${s}`).join(', ');
    process.stdout.write(`${r.id}  ${r.startedAt}  [${r.origin}]  ${sanitizeForView(r.command).replace(/\n/g, ' ⏎ ')}  →  ${states}\n`);
  }
  if (damagedLines.length) process.stderr.write(`history has unreadable lines: ${damagedLines.join(', ')}\n`);
  return EXIT.ok;
}

/** `flotilla cat RUN HOST`: the full output kept on disk, sanitized unless --raw. */
export async function catCommand(ctx: CliContext, runId: string, host: string, raw: boolean): Promise<number> {
  const run = await findRun(ctx.historyDir, runId);
  const result = run.results.find((r) => r.host === host);
  if (!result) throw new UsageError(`run ${run.id} has no host ${JSON.stringify(host)}; its hosts: ${run.results.map((r) => r.host).join(', ')}`);
  for (const file of [result.stdoutFile, result.stderrFile]) {
    if (!file) continue;
    const text = await readFile(file, raw ? undefined : 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    process.stdout.write(raw ? text : sanitizeForView(text as string));
  }
  return EXIT.ok;
}
