// Attaching to a remote tmux session through a pty channel. tmux needs a terminal (`new-session -A`
// without a pty fails "open terminal failed: not a terminal"), and closing the channel detaches the
// client while the session lives on (ssh-traps §2.5). vscode-free: the Pseudoterminal adapter wraps it.
import type { ClientChannel } from 'ssh2';
import type { LeasedChannel, Pool } from '../ssh/pool';
import { buildRemoteCommand, shQuote } from '../ssh/quote';
import { EXTRA_PATH } from './listing';
import { parseAgentTarget, tmuxTargetOf, validateSessionName, type AgentTarget } from './names';

export interface AttachCommandOptions {
  /** Create the session when it does not exist (`new-session -A`); otherwise attach or fail. */
  create: boolean;
  /** Directory for a newly created session. */
  cwd?: string;
}

/** The remote command line (already wrapped by buildRemoteCommand) that attaches a tmux client. */
export function attachCommand(target: string | Omit<AgentTarget, 'host'>, opts: AttachCommandOptions): string {
  const t = typeof target === 'string' ? { session: validateSessionName(target) } : target;
  validateSessionName(t.session);
  // exec: tmux itself is the channel's process, so its exit status is the channel's.
  const tmux = opts.create
    ? `exec tmux new-session -A -s ${shQuote(t.session)}`
    : `exec tmux attach-session -t ${shQuote(tmuxTargetOf(t))}`;
  return buildRemoteCommand(`${EXTRA_PATH}\n${tmux}`, opts.create && opts.cwd ? { cwd: opts.cwd } : {});
}

export type AttachEnd =
  /** detach() was called: the tmux client detached, the session keeps running. */
  | { reason: 'detached' }
  /** The tmux client exited on its own: detached from inside (prefix d), session killed, or attach failed. */
  | { reason: 'exited'; code: number | null; signal?: string }
  /** The SSH connection (or the channel) went away without an exit status: reattach when it is back. */
  | { reason: 'connection-lost' };

export interface AttachOptions extends Partial<AttachCommandOptions> {
  cols: number;
  rows: number;
  term?: string;
}

type Listener<T> = (value: T) => void;

export class AttachedSession {
  private readonly dataListeners: Listener<string>[] = [];
  private readonly exitListeners: Listener<AttachEnd>[] = [];
  /** Output that arrived before anyone listened (the first screen is drawn immediately). */
  private pending: string[] = [];
  private detachedByUs = false;
  private exitStatus?: { code: number | null; signal?: string };
  private ended?: AttachEnd;

  private constructor(private readonly lease: LeasedChannel<ClientChannel>) {
    const ch = lease.channel;
    ch.setEncoding('utf8');
    ch.on('data', (d: string) => this.emitData(d));
    ch.stderr.on('data', (d: Buffer | string) => this.emitData(d.toString()));
    ch.on('exit', (code: number | null, signal?: string) => { this.exitStatus = { code, ...(signal ? { signal } : {}) }; });
    ch.once('close', () => this.finish());
  }

  /** Opens a pty channel on the pooled connection and attaches (or creates, with `create`) the session. */
  static async open(pool: Pool, target: string | AgentTarget, opts: AttachOptions): Promise<AttachedSession> {
    const t = typeof target === 'string' ? parseAgentTarget(target) : target;
    const command = attachCommand(t, { create: opts.create ?? false, cwd: opts.cwd });
    const lease = await pool.exec(t.host, command, {
      pty: { term: opts.term ?? 'xterm-256color', cols: opts.cols, rows: opts.rows, width: 0, height: 0 },
    });
    return new AttachedSession(lease);
  }

  get isOpen(): boolean { return this.ended === undefined; }

  onData(cb: Listener<string>): () => void {
    this.dataListeners.push(cb);
    const early = this.pending;
    this.pending = [];
    for (const d of early) cb(d);
    return () => remove(this.dataListeners, cb);
  }

  /** Called once; immediately if the session already ended. */
  onExit(cb: Listener<AttachEnd>): () => void {
    if (this.ended) {
      cb(this.ended);
      return () => {};
    }
    this.exitListeners.push(cb);
    return () => remove(this.exitListeners, cb);
  }

  write(data: string): void {
    if (this.ended) return;
    this.lease.channel.write(data);
  }

  resize(cols: number, rows: number): void {
    if (this.ended || cols <= 0 || rows <= 0) return;
    this.lease.channel.setWindow(rows, cols, 0, 0);
  }

  /** Closes the channel: sshd hangs up the pty, tmux detaches that client and the session survives. */
  detach(): void {
    if (this.ended) return;
    this.detachedByUs = true;
    try { this.lease.channel.close(); } catch { /* connection already gone */ }
  }

  private emitData(d: string): void {
    if (this.dataListeners.length === 0) this.pending.push(d);
    else for (const l of this.dataListeners) l(d);
  }

  private finish(): void {
    if (this.ended) return;
    this.lease.release();
    this.ended = this.detachedByUs
      ? { reason: 'detached' }
      : this.exitStatus
        ? { reason: 'exited', ...this.exitStatus }
        : { reason: 'connection-lost' };
    for (const l of this.exitListeners.splice(0)) l(this.ended);
  }
}

function remove<T>(list: T[], item: T): void {
  const i = list.indexOf(item);
  if (i >= 0) list.splice(i, 1);
}
