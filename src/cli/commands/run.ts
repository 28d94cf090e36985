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

/**
 * JSON.stringify escapes C0 controls but not C1 (U+0080–U+009F), which some terminals execute (U+009B
 * is CSI): escape those too, so `--json` on a terminal is as inert as the human output.
 */
export function inertJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u0080-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const oneLine = (s: string) => sanitizeForView(s).replace(/\s*\n\s*/g, ' ').trim();

/**
 * Human output. Every line of remote text starts with `[host] ` (dshbak-style groups get a `== ... ==`
 * header and `[first-host +N] ` prefixes); trusted lines (headers, per-host status, summary) never start
 * with `[`, so no remote output can pass for another host's output or for a status line.
 */
export function printHumanRun(record: RunRecord, write: (s: string) => void): void {
  const outputs = record.results.filter((r) => r.stdout || r.stderr).map((r) => ({ host: r.host, text: sanitizeForView(r.stdout + r.stderr) }));
  for (const group of coalesce(outputs)) {
    const hosts = group.hosts.map(oneLine);
    const label = hosts.length === 1 ? hosts[0]! : `${hosts[0]} +${hosts.length - 1}`;
    write(`== ${hosts.join(',')} (${hosts.length} host${hosts.length === 1 ? '' : 's'}) ==\n`);
    write(prefixLines(label, group.text));
  }
  const width = Math.max(...record.results.map((r) => oneLine(r.host).length), 4);
  for (const r of record.results) {
    const detail = r.state === 'failed' ? `exit ${r.exit}` : r.state === 'killed' ? `signal ${r.signal}` : r.reason ? oneLine(r.reason) : '';
    const stopped = r.remoteStopped === false && (r.state === 'cancelled' || r.state === 'timeout' || r.state === 'lost') ? ' [remote may still run]' : '';
    write(`${`${oneLine(r.host)}:`.padEnd(width + 1)} ${r.state}${detail ? ` (${detail})` : ''}${stopped} ${r.durationMs} ms\n`);
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
  // First ^C/TERM: cancel (remote process groups are stopped, the run is recorded). A second ^C: default.
  const onSignal = () => controller.cancel();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const record = await controller.done.finally(() => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  });
  await appendRun(ctx.historyDir, record);
  if (ctx.flags.json) process.stdout.write(inertJson(runToJson(record)) + '\n');
  else printHumanRun(record, (s) => process.stdout.write(s));
  return exitCodeFor(record);
}
