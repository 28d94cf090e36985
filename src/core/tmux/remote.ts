// One short remote script over the pooled connection, output collected (capped) with its exit status.
import { runInKeptShell } from '../ssh/keptShell';
import type { Pool } from '../ssh/pool';
import { buildRemoteCommand } from '../ssh/quote';

export interface ScriptResult {
  stdout: string;
  stderr: string;
  /** Exit status; undefined when the command was killed by a signal or the channel just closed. */
  code?: number;
}

export interface ScriptOptions {
  timeoutMs?: number;
  /** Sent to the script's stdin, then EOF. */
  stdin?: string;
  maxOutputBytes?: number;
}

const DEFAULT_TIMEOUT_MS = 20_000;
const DEFAULT_MAX_OUTPUT = 4 * 1024 * 1024;

export async function runScript(pool: Pool, alias: string, script: string, opts: ScriptOptions = {}): Promise<ScriptResult> {
  const lease = await pool.exec(alias, buildRemoteCommand(script));
  const max = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let outBytes = 0;
  let errBytes = 0;
  let code: number | undefined;
  lease.channel.on('data', (d: Buffer) => { if (outBytes < max) { out.push(d); outBytes += d.length; } });
  lease.channel.stderr.on('data', (d: Buffer) => { if (errBytes < max) { err.push(d); errBytes += d.length; } });
  lease.channel.on('exit', (c: number | null) => { if (typeof c === 'number') code = c; });
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  try {
    const finished = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      lease.channel.once('close', () => { clearTimeout(timer); resolve(true); });
      lease.channel.end(opts.stdin ?? '');
    });
    if (!finished) {
      try { lease.channel.close(); } catch { /* already gone */ }
      throw new Error(`remote tmux command on ${alias} did not finish within ${timeoutMs} ms`);
    }
  } finally {
    lease.release();
  }
  return { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), code };
}

/**
 * The same, written to a `/bin/sh` kept on the connection between calls of `kind` and run in a subshell (stdin
 * /dev/null; no exit status): for a script that runs again and again, like the Agents view's listing every few
 * seconds on every online host, the host starts no session, login shell or sh for each run.
 */
export async function runScriptInKeptShell(pool: Pool, alias: string, kind: string, script: string, opts: Omit<ScriptOptions, 'stdin'> = {}): Promise<ScriptResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxOutputBytes = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  const r = await runInKeptShell(pool, alias, kind, script, { timeoutMs, maxOutputBytes, subshell: true });
  if (!r) throw new Error(`remote tmux command on ${alias} did not finish within ${timeoutMs} ms (or printed more than ${maxOutputBytes} bytes)`);
  return { stdout: r.out, stderr: r.err };
}
