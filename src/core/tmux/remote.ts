// tmux's remote scripts: run in a channel of their own (ssh/script.ts) or in a kept shell, output as text,
// capped, and a script that does not finish in time is an error.
import { runInKeptShell } from '../ssh/keptShell';
import type { Pool } from '../ssh/pool';
import { runScript as runInChannel } from '../ssh/script';

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

function notFinished(alias: string, timeoutMs: number): string {
  return `remote tmux command on ${alias} did not finish within ${timeoutMs} ms`;
}

export async function runScript(pool: Pool, alias: string, script: string, opts: ScriptOptions = {}): Promise<ScriptResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const r = await runInChannel(pool, alias, script, { stdin: opts.stdin, timeoutMs, maxOutputBytes: opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT });
  if (r.timedOut) throw new Error(notFinished(alias, timeoutMs));
  return { stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8'), code: r.code ?? undefined };
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
  if (!r) throw new Error(`${notFinished(alias, timeoutMs)} (or printed more than ${maxOutputBytes} bytes)`);
  return { stdout: r.out, stderr: r.err };
}
