import { expandTargets } from '../../core/config/inventory';
import { appendRun, runOutputDir } from '../../core/exec/history';
import { coalesce, prefixLines, sanitizeForView } from '../../core/exec/output';
import { DEFAULT_TIMEOUT_MS, newRunId, startRun, summarize, type RunRecord } from '../../core/exec/run';
import { EXIT, UsageError, type CliContext } from '../context';

export interface RunFlags {
  cwd?: string;
  timeout?: number;
  concurrency?: number;
  pty?: boolean;
  dryRun?: boolean;
}

export function exitCodeFor(record: RunRecord): number {
  const states = record.results.map((r) => r.state);
  if (states.includes('cancelled')) return EXIT.cancelled;
  if (states.some((s) => s === 'unreachable' || s === 'timeout' || s === 'auth-failed' || s === 'hostkey-rejected' || s === 'lost')) return EXIT.unreachable;
  if (states.some((s) => s === 'failed' || s === 'killed')) return EXIT.commandFailed;
  return EXIT.ok;
}

/** `--json` shape promised to scripts and agents. */
export function runToJson(record: RunRecord) {
  return {
    id: record.id,
    command: record.command,
    hosts: record.results.map((r) => ({
      host: r.host,
      state: r.state,
      exit: r.exit ?? null,
      signal: r.signal ?? null,
      durationMs: r.durationMs,
      stdout: r.stdout,
      stderr: r.stderr,
      truncated: r.truncated,
      ...(r.reason ? { reason: r.reason } : {}),
      ...(r.remoteStopped !== undefined ? { remoteStopped: r.remoteStopped } : {}),
    })),
  };
}

export function printHumanRun(record: RunRecord, write: (s: string) => void): void {
  const outputs = record.results.filter((r) => r.stdout || r.stderr).map((r) => ({ host: r.host, text: sanitizeForView(r.stdout + r.stderr) }));
  for (const group of coalesce(outputs)) {
    write(`----------------\n${group.hosts.join(',')}\n----------------\n${group.text}${group.text.endsWith('\n') ? '' : '\n'}`);
  }
  for (const r of record.results) {
    const detail = r.state === 'failed' ? `exit ${r.exit}` : r.state === 'killed' ? `signal ${r.signal}` : r.reason ?? '';
    write(prefixLines(r.host, `${r.state}${detail ? ` (${detail})` : ''} ${r.durationMs} ms`));
  }
  const s = summarize(record);
  write(`${record.results.length} hosts: ${s.ok} ok, ${s.failed} command failures, ${s.transport} transport failures${s.stopped ? `, ${s.stopped} cancelled` : ''} · run ${record.id}\n`);
}

export async function runCommand(ctx: CliContext, target: string, command: string[], flags: RunFlags): Promise<number> {
  if (!command.length) throw new UsageError('no command given: flotilla run TARGET -- COMMAND...');
  const hosts = expandTargets(target, ctx.inventory);
  const id = newRunId();
  const spec = {
    command: command.length === 1 ? command[0]! : command,
    cwd: flags.cwd,
    timeoutMs: flags.timeout !== undefined ? flags.timeout * 1000 : DEFAULT_TIMEOUT_MS,
    concurrency: flags.concurrency,
    pty: flags.pty,
    origin: 'cli' as const,
  };
  const controller = startRun(hosts, { ...spec, outputDir: runOutputDir(ctx.historyDir, id) }, ctx.pool, undefined, id);
  const onSigint = () => controller.cancel();
  process.once('SIGINT', onSigint);
  const record = await controller.done;
  process.off('SIGINT', onSigint);
  await appendRun(ctx.historyDir, record);
  if (ctx.flags.json) process.stdout.write(JSON.stringify(runToJson(record)) + '\n');
  else printHumanRun(record, (s) => process.stdout.write(s));
  return exitCodeFor(record);
}
