// One short script as the exec command of a channel of its own on a pooled connection, its output collected
// with its exit status: push's hashing, a run's temp directory, the tmux commands, the full health probe.
// (A script run again and again goes to a kept shell instead: keptShell.ts.)
import type { Pool } from './pool';
import { buildRemoteCommand } from './quote';

export interface ScriptOutput {
  /** Exit status; null when the command was killed by a signal or the channel just closed. */
  code: number | null;
  stdout: Buffer;
  stderr: Buffer;
  /** When the first byte on stdout came (epoch ms). */
  firstOutputAt?: number;
  /** It did not finish within `timeoutMs`: its channel was closed, the output is what came until then. */
  timedOut: boolean;
}

export interface ScriptOptions {
  /** Sent to the script's stdin, then EOF (EOF alone without it). */
  stdin?: Buffer | string;
  /** No limit without it. */
  timeoutMs?: number;
  /** Bytes kept of stdout and of stderr each; the rest is read and dropped. No limit without it. */
  maxOutputBytes?: number;
  /** Gives up on the script as a timeout does (its channel closed): the output so far, code null. */
  signal?: AbortSignal;
}

export async function runScript(pool: Pool, alias: string, script: string, opts: ScriptOptions = {}): Promise<ScriptOutput> {
  const lease = await pool.exec(alias, buildRemoteCommand(script));
  const { channel } = lease;
  const max = opts.maxOutputBytes ?? Infinity;
  const collector = () => {
    const parts: Buffer[] = [];
    let bytes = 0;
    return { parts, add: (d: Buffer) => { if (bytes < max) { parts.push(d); bytes += d.length; } } };
  };
  const out = collector();
  const err = collector();
  let code: number | null = null;
  let firstOutputAt: number | undefined;
  channel.on('data', (d: Buffer) => { firstOutputAt ??= Date.now(); out.add(d); });
  channel.stderr.on('data', err.add);
  channel.on('exit', (c: number | null) => { code = typeof c === 'number' ? c : null; });
  const close = () => { try { channel.close(); } catch { /* already gone */ } };
  // Neither a timeout nor an abort waits for the channel's close: sshd sends it once the command has exited.
  let giveUp: (why: 'timed-out' | 'aborted') => void = () => {};
  const onAbort = () => giveUp('aborted');
  let timer: NodeJS.Timeout | undefined;
  try {
    const end = await new Promise<'closed' | 'timed-out' | 'aborted'>((resolve) => {
      giveUp = resolve;
      channel.once('close', () => resolve('closed'));
      if (opts.timeoutMs !== undefined) timer = setTimeout(() => resolve('timed-out'), opts.timeoutMs);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      if (opts.signal?.aborted) resolve('aborted');
      channel.end(opts.stdin ?? '');
    });
    if (end !== 'closed') close();
    const whole = (parts: Buffer[]) => Buffer.concat(parts).subarray(0, max);
    return { code: end === 'closed' ? code : null, stdout: whole(out.parts), stderr: whole(err.parts), firstOutputAt, timedOut: end === 'timed-out' };
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
    lease.release();
  }
}
