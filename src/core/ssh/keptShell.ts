// A `/bin/sh -s` channel kept open on a pooled connection between uses (push's listing shell, the health
// probe's shell, the Agents view's tmux listing shell): the next use writes its script to the parked shell, so
// the host starts no session, login shell or sh for it and no channel opens. One way to take, reuse and give
// back such a shell, and one way to run a script in it and read its output to an end marker.
import { randomBytes } from 'node:crypto';
import type { ClientChannel } from 'ssh2';
import type { LeasedChannel, Pool } from './pool';
import { STDIN_SHELL } from './quote';

/** Thrown by a use of a reused shell that ended before answering: nothing ran in it, so a new one is used. */
export class ShellGone extends Error {
  constructor(kind: string) {
    super(`the parked ${kind} has ended`);
  }
}

/**
 * Runs `use` in the connection's parked shell of `kind` or, when there is none or `use` throws ShellGone
 * for it, in a new one (`reused` tells which). `use` hands the shell back with `parkOrEnd` or closes it.
 */
export async function inKeptShell<T>(
  pool: Pool, alias: string, kind: string, use: (lease: LeasedChannel<ClientChannel>, reused: boolean) => Promise<T>,
): Promise<T> {
  const parked = pool.reuse<ClientChannel>(alias, kind);
  if (parked) {
    try {
      return await use(parked, true);
    } catch (err) {
      if (!(err instanceof ShellGone)) throw err;
    }
  }
  return use(await pool.exec(alias, STDIN_SHELL), false);
}

/**
 * Done with a kept shell: parked for the next use of `kind` when `idle` (nothing of this use runs in it any
 * more) and the pool takes it, else its input ends (the shell exits; the pool frees the slot as it closes).
 */
export function parkOrEnd(pool: Pool, lease: LeasedChannel<ClientChannel>, kind: string, idle: boolean): void {
  const end = () => { try { lease.channel.end(); } catch { lease.channel.close(); } };
  if (idle && pool.park(lease, kind, end)) return;
  end();
}

/** Done with a kept shell that is not to be reused (it is partway through something): closed now, its slot given back. */
export function abandon(lease: LeasedChannel<ClientChannel>): void {
  try { lease.channel.close(); } catch { /* gone */ }
  lease.release();
}

export interface ShellRun {
  out: string;
  err: string;
  /** When the first byte on stdout came (epoch ms). */
  firstOutputAt?: number;
}

export interface ShellRunOptions {
  timeoutMs: number;
  /** Bytes of stdout and stderr together past which the run is given up (the shell is closed). */
  maxOutputBytes: number;
  /**
   * Run in a subshell: the script may `exit`, set variables, `cd` or change PATH without touching the kept shell
   * (one fork on the host). Without it the script runs in the kept shell itself and must do none of those.
   */
  subshell?: boolean;
}

/**
 * Runs `script` in the connection's kept shell of `kind` (the parked one or a new one): it is written to the
 * shell's stdin, then an end marker printed on stdout and on stderr; once both have come the shell is parked
 * for the next run. The script's stdin is /dev/null (the shell's is the next script). Undefined when it did not
 * finish in time or printed too much (the shell is closed); what came so far when the shell ended partway.
 */
export function runInKeptShell(pool: Pool, alias: string, kind: string, script: string, opts: ShellRunOptions): Promise<ShellRun | undefined> {
  return inKeptShell(pool, alias, kind, (lease, reused) => runToMarker(pool, lease, kind, reused, script, opts));
}

function runToMarker(
  pool: Pool, lease: LeasedChannel<ClientChannel>, kind: string, reused: boolean, script: string, opts: ShellRunOptions,
): Promise<ShellRun | undefined> {
  const { channel } = lease;
  const marker = `kept-shell-end-${randomBytes(8).toString('hex')}`;
  const tail = Buffer.from(`${marker}\n`, 'latin1');
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let bytes = 0;
  let firstOutputAt: number | undefined;
  /** Whether the stream's bytes end in the marker line (the last chunks only are looked at). */
  const endsWithMarker = (chunks: Buffer[]) => {
    let last = chunks[chunks.length - 1]!;
    for (let i = chunks.length - 2; last.length < tail.length && i >= 0; i--) last = Buffer.concat([chunks[i]!, last]);
    return last.length >= tail.length && last.subarray(last.length - tail.length).equals(tail);
  };
  const text = (chunks: Buffer[], done: boolean) => {
    const all = Buffer.concat(chunks);
    return (done ? all.subarray(0, all.length - tail.length) : all).toString('utf8');
  };
  return new Promise((resolve, reject) => {
    let outDone = false;
    let errDone = false;
    const finish = (result: ShellRun | ShellGone | undefined, idle: boolean) => {
      clearTimeout(timer);
      channel.removeListener('data', onOut);
      channel.stderr.removeListener('data', onErr);
      channel.removeListener('close', onClose);
      if (idle) parkOrEnd(pool, lease, kind, true);
      else abandon(lease);
      if (result instanceof ShellGone) reject(result); else resolve(result);
    };
    const received = (d: Buffer, into: Buffer[]) => {
      if (into === out) firstOutputAt ??= Date.now();
      into.push(d);
      bytes += d.length;
    };
    const check = () => {
      if (outDone && errDone) finish({ out: text(out, true), err: text(err, true), firstOutputAt }, true);
      else if (bytes > opts.maxOutputBytes) finish(undefined, false);
    };
    const onOut = (d: Buffer) => { received(d, out); outDone = endsWithMarker(out); check(); };
    const onErr = (d: Buffer) => { received(d, err); errDone = endsWithMarker(err); check(); };
    // The shell ended: before anything ran (a parked shell the host closed) or partway (what came is returned).
    const onClose = () => finish(bytes === 0 && reused ? new ShellGone(kind) : { out: text(out, outDone), err: text(err, errDone), firstOutputAt }, false);
    const timer = setTimeout(() => finish(undefined, false), opts.timeoutMs);
    channel.on('data', onOut);
    channel.stderr.on('data', onErr);
    channel.once('close', onClose);
    const [open, close] = opts.subshell ? ['(', ')'] : ['{', '}'];
    channel.write(`${open} ${script}\n${close} </dev/null\necho ${marker}; echo ${marker} >&2\n`);
  });
}
