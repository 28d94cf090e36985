// A `/bin/sh -s` channel kept open on a pooled connection between uses (push's listing shell, the health
// probe's shell): the next use writes its script to the parked shell, so the host starts no session, login
// shell or sh for it and no channel opens. One way to take, reuse and give back such a shell.
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
