// One connection per host, shared by every feature. Channels are capped per connection (sshd's
// MaxSessions defaults to 10; we use at most 8) and queued beyond that; when a server refuses a channel
// (a lower MaxSessions) the cap for that connection drops to what it accepted and the request waits.
// A host that allows only one or two sessions per connection would starve an operation that holds one
// channel while it opens another (a push: its lock and its transfer): there, a request that would wait
// opens another connection to the same host instead (at most MAX_CONNECTIONS_PER_HOST in all), as
// OpenSSH's ControlMaster clients fall back to a connection of their own when the master refuses.
// A channel a feature is done with but may use again soon (push's listing shell and SFTP channel, the health
// probe's shell, the Agents listing's shell) can be parked for the next user on the same connection: it keeps
// its slot, but is closed as soon as a request would wait for one, and the connection idles out as if it were
// not there.
import type { ClientChannel, ExecOptions, PseudoTtyOptions, SFTPWrapper } from 'ssh2';
import { refusingPrompter, type Prompter, type ResolvedHost } from '../types';
import { KeyCache } from './auth';
import { connectHost, type Connection, type ConnectDeps } from './connect';
import { DisposalScope } from './scope';
import { describeJump, jumpChain, resolveJumpHost, type JumpHop, type ResolveJump } from './jumpChain';

export interface PoolOptions {
  resolve(alias: string): Promise<ResolvedHost>;
  /**
   * How a name in a ProxyJump is resolved: through the ssh config only, as `ssh -J` does (an inventory's
   * host settings never apply to a jump host). Default: resolveJumpHost with no further options.
   */
  resolveJump?: ResolveJump;
  prompter: Prompter;
  env?: Record<string, string | undefined>;
  connectTimeoutMs?: number;
  idleCloseMs?: number;
  maxChannelsPerConnection?: number;
}

export interface LeasedChannel<T> {
  readonly channel: T;
  readonly alias: string;
  /** Frees the channel slot. Idempotent; also happens by itself when the channel closes. */
  release(): void;
}

const DEFAULT_MAX_CHANNELS = 8;
/** Connections to one host when its sshd allows few sessions per connection (the primary included). */
export const MAX_CONNECTIONS_PER_HOST = 4;
/** A server that refused a channel at this many open (or fewer) gets more connections instead of a queue. */
const FEW_SESSIONS = 2;

class Slots {
  inUse = 0;
  private closed = false;
  private readonly waiting: Array<() => void> = [];
  constructor(public cap: number) {}
  /** Resolves false (without taking a slot) once the connection is gone: the caller reconnects. */
  async acquire(): Promise<boolean> {
    while (!this.closed && this.inUse >= this.cap) await new Promise<void>((r) => this.waiting.push(r));
    if (this.closed) return false;
    this.inUse++;
    return true;
  }
  release(): void {
    this.inUse = Math.max(0, this.inUse - 1);
    this.waiting.shift()?.();
  }
  /** The server refused a channel: it allows no more than are open now. */
  lowerCapTo(n: number): void {
    this.cap = Math.max(1, Math.min(this.cap, n));
    this.lowered = true;
  }
  /** Set once the server refused a channel (the cap is the server's limit, not ours). */
  lowered = false;
  /** A request now would get a slot without waiting. */
  get free(): boolean { return !this.closed && this.inUse < this.cap && this.waiting.length === 0; }
  get load(): number { return this.inUse + this.waiting.length; }
  rejectAll(): void {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w();
  }
}

/** Re-tries after a refusal with nothing else open (sshd frees a session slot late, "delay detach"). */
const REFUSAL_RETRIES = 6;
/** Reconnects for a request that never reached a server whose connection died under it. */
const RECONNECTS = 2;

interface Parked {
  readonly lease: LeasedChannel<unknown>;
  readonly close: () => void;
  /** Drops it from the parked ones if it closes by itself (removed when it is taken). */
  readonly onClose: () => void;
}

type Closable = { once(ev: 'close', l: () => void): unknown; removeListener(ev: 'close', l: () => void): unknown };

interface Entry {
  readonly key: string;
  ready: Promise<Connection>;
  connection?: Connection;
  slots: Slots;
  /** Connections tunnelled through this one (it is a jump host for them): not idle while > 0. */
  dependents: number;
  idleTimer?: NodeJS.Timeout;
  dead: boolean;
  /** Made under settings since replaced: serves the channels open on it, then closes. */
  retired?: boolean;
  /** For an extra connection to a few-sessions host: the alias it serves. */
  extraFor?: string;
  /** Resources tied to this connection: disposed when it closes. */
  readonly scope: DisposalScope;
  /** Channels parked for reuse, one per kind (see park()). */
  readonly parked: Map<string, Parked>;
}

/**
 * ssh2 emits 'exit' as a plain event while parsing; when the exec reply, the output and the exit status
 * arrive in one chunk (common through a jump host) it fires before the caller of `await pool.exec()` could
 * attach a listener, and the status would be lost (a clean exit 0 reported as "lost"). Record it here, in
 * ssh2's own callback, and replay it to any 'exit' listener added later.
 */
function latchExit(ch: ClientChannel): ClientChannel {
  let exitArgs: unknown[] | undefined;
  ch.once('exit', (...args: unknown[]) => { exitArgs = args; });
  ch.on('newListener', (event: string | symbol, listener: (...a: unknown[]) => void) => {
    if (event !== 'exit' || !exitArgs) return;
    const args = exitArgs;
    process.nextTick(() => listener.apply(ch, args));
  });
  return ch;
}

function isChannelRefusal(err: Error): boolean {
  return /open failed|Channel open failure|administratively prohibited/i.test(err.message);
}

export class Pool {
  private readonly entries = new Map<string, Entry>();
  private readonly resolving = new Map<string, Promise<ResolvedHost>>();
  /** Retired entries still serving channels: closed by dispose() too. */
  private readonly retired = new Set<Entry>();
  private readonly keys = new KeyCache();
  /** Each live lease's connection and whether it was released (only an unreleased lease can be parked). */
  private readonly leases = new WeakMap<object, { entry: Entry; released: () => boolean }>();
  private disposed = false;

  private readonly opts: PoolOptions;

  constructor(opts: PoolOptions) {
    this.opts = { ...opts };
  }

  /**
   * New settings for the connections made from now on. The pool stays the same object for everyone
   * holding it: open connections keep serving the channels on them and close once idle; the next use
   * of a host connects with the new settings (and re-resolves it).
   */
  reconfigure(changes: Partial<Pick<PoolOptions, 'connectTimeoutMs' | 'idleCloseMs' | 'env'>>): void {
    Object.assign(this.opts, changes);
    for (const e of [...this.entries.values()]) {
      e.retired = true;
      this.retired.add(e);
      if (this.entries.get(e.key) === e) this.entries.delete(e.key);
      this.armIdle(e);
    }
  }

  /**
   * The resolved settings for an alias (same resolver the pool connects with). Asks made while one is in
   * flight share it (a health probe asks beside its connect); a later ask resolves afresh.
   */
  resolve(alias: string): Promise<ResolvedHost> {
    let p = this.resolving.get(alias);
    if (!p) {
      p = this.opts.resolve(alias).finally(() => { if (this.resolving.get(alias) === p) this.resolving.delete(alias); });
      this.resolving.set(alias, p);
    }
    return p;
  }

  /**
   * Returns the live connection for an alias, connecting (once, however many callers) if needed.
   * `interactive: false` (background probes) never asks the user anything: an unknown host key or a
   * key needing a passphrase fails the connect instead, to be reviewed when the user chooses.
   */
  async connection(alias: string, opts: { interactive?: boolean } = {}): Promise<Connection> {
    return (await this.entry(alias, () => this.target(alias), opts.interactive ?? true)).ready;
  }

  isConnected(alias: string): boolean {
    const e = this.entries.get(alias);
    return !!e?.connection && !e.dead;
  }

  async exec(alias: string, command: string, options: ExecOptions = {}): Promise<LeasedChannel<ClientChannel>> {
    return this.lease(alias, (conn) => new Promise<ClientChannel>((resolve, reject) => {
      conn.client.exec(command, options, (err, ch) => (err ? reject(err) : resolve(latchExit(ch))));
    }));
  }

  async shell(alias: string, pty: PseudoTtyOptions): Promise<LeasedChannel<ClientChannel>> {
    return this.lease(alias, (conn) => new Promise<ClientChannel>((resolve, reject) => {
      conn.client.shell(pty, (err, ch) => (err ? reject(err) : resolve(latchExit(ch))));
    }));
  }

  async sftp(alias: string): Promise<LeasedChannel<SFTPWrapper>> {
    return this.lease(alias, (conn) => new Promise<SFTPWrapper>((resolve, reject) => {
      conn.client.sftp((err, sftp) => (err ? reject(err) : resolve(sftp)));
    }));
  }

  /**
   * Keeps a leased channel its user is done with open for the next `reuse(alias, kind)` on the same
   * connection, instead of `close()` now (the lease stays taken: the caller must not release it). Refused
   * (false: the caller closes it as usual) when the connection is going away, its server limits sessions, or
   * a channel of that kind is parked already. A parked channel is closed with `close` when a request would
   * wait for its slot; a channel that closes by itself is dropped.
   */
  park(lease: LeasedChannel<unknown>, kind: string, close: () => void): boolean {
    const known = this.leases.get(lease);
    const e = known?.entry;
    if (!e || known.released() || e.dead || e.retired || e.slots.lowered || e.parked.has(kind)) return false;
    const parked: Parked = { lease, close, onClose: () => { if (e.parked.get(kind) === parked) e.parked.delete(kind); } };
    e.parked.set(kind, parked);
    (lease.channel as Closable).once('close', parked.onClose);
    this.armIdle(e);
    return true;
  }

  /** The channel of `kind` parked on the host's live connection (now the caller's lease), if there is one. */
  reuse<T>(alias: string, kind: string): LeasedChannel<T> | undefined {
    const e = this.entries.get(alias);
    const parked = e && !e.dead ? e.parked.get(kind) : undefined;
    if (!e || !parked) return undefined;
    e.parked.delete(kind);
    (parked.lease.channel as Closable).removeListener('close', parked.onClose);
    if (e.idleTimer) clearTimeout(e.idleTimer);
    return parked.lease as LeasedChannel<T>;
  }

  /** Closes the parked channels of a connection (their slots free as they close). */
  private unpark(e: Entry): void {
    const all = [...e.parked.values()];
    e.parked.clear();
    for (const parked of all) {
      try {
        parked.close();
      } catch {
        parked.lease.release();
      }
    }
  }

  /** The disposal scope of the host's live connection, if it has one now (never connects, never waits). */
  liveScope(alias: string): DisposalScope | undefined {
    const e = this.entries.get(alias);
    return e?.connection && !e.dead ? e.scope : undefined;
  }

  /**
   * The disposal scope of the host's live connection (connecting if needed): what is added to it is
   * disposed when that connection closes.
   */
  async scope(alias: string, opts: { interactive?: boolean } = {}): Promise<DisposalScope> {
    const e = await this.entry(alias, () => this.target(alias), opts.interactive ?? true);
    await e.ready;
    return e.scope;
  }

  /** Drops a host's connection (e.g. after it was found frozen); the next use reconnects. */
  close(alias: string): void {
    const e = this.entries.get(alias);
    if (e) this.closeEntry(e);
    for (const extra of this.extrasOf(alias)) this.closeEntry(extra);
  }

  private extrasOf(alias: string): Entry[] {
    return [...this.entries.values()].filter((x) => x.extraFor === alias && !x.dead);
  }

  /**
   * The connection a request for `alias` should use: the host's own, unless its server allows only a few
   * sessions and they are all taken; then a free extra connection, a new one (bounded), or the least busy.
   */
  private async connectionFor(alias: string, primary: Entry): Promise<Entry> {
    if (!primary.slots.lowered || primary.slots.cap > FEW_SESSIONS || primary.slots.free) return primary;
    const extras = this.extrasOf(alias);
    const free = extras.find((x) => x.connection && x.slots.free);
    if (free) return free;
    if (extras.length < MAX_CONNECTIONS_PER_HOST - 1) {
      let n = 1;
      while (this.entries.has(`${alias}\u0000${n}`)) n++;
      const extra = await this.entry(`${alias}\u0000${n}`, () => this.target(alias), true, { extraFor: alias, cap: primary.slots.cap });
      try {
        await extra.ready;
        return extra;
      } catch {
        return primary; // could not open another one (e.g. MaxStartups): wait for the host's own
      }
    }
    return [primary, ...extras].reduce((a, b) => (b.slots.load < a.slots.load ? b : a));
  }

  private closeEntry(e: Entry): void {
    this.forget(e);
    if (e.connection) e.connection.client.end();
    else void e.ready.then((conn) => conn.client.end(), () => undefined);
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    const closing = [...this.entries.values(), ...this.retired].map(async (e) => {
      this.forget(e);
      const conn = await e.ready.catch(() => undefined);
      conn?.client.end();
      if (conn) await Promise.race([conn.closed, new Promise((r) => setTimeout(r, 2000).unref())]);
    });
    await Promise.all(closing);
  }

  private forget(e: Entry): void {
    e.dead = true;
    e.scope.close();
    this.retired.delete(e);
    if (e.idleTimer) clearTimeout(e.idleTimer);
    e.slots.rejectAll();
    if (this.entries.get(e.key) === e) this.entries.delete(e.key);
  }

  private async lease<T extends { on(ev: 'error', l: (e: Error) => void): unknown; once(ev: 'close', l: () => void): unknown }>(
    alias: string,
    open: (conn: Connection) => Promise<T>,
  ): Promise<LeasedChannel<T>> {
    let refusals = 0;
    let reconnects = 0;
    for (;;) {
      const primary = await this.entry(alias, () => this.target(alias));
      await primary.ready;
      const e = await this.connectionFor(alias, primary);
      const conn = await e.ready;
      if (!e.slots.free && e.parked.size) this.unpark(e); // a parked channel never makes a request wait
      if (!(await e.slots.acquire()) || e.dead) {
        if (!e.dead) e.slots.release();
        continue; // connection went away while we waited: reconnect
      }
      if (e.idleTimer) clearTimeout(e.idleTimer);
      let channel: T;
      try {
        channel = await open(conn);
      } catch (err) {
        e.slots.release();
        if (err instanceof Error && isChannelRefusal(err) && !e.dead) {
          // The server allows fewer sessions than our cap (MaxSessions): wait for one of ours to close.
          if (e.slots.inUse > 0) {
            this.unpark(e);
            e.slots.lowerCapTo(e.slots.inUse);
            continue;
          }
          if (refusals++ < REFUSAL_RETRIES) {
            await new Promise((r) => setTimeout(r, 50 * 2 ** refusals));
            continue;
          }
        }
        if (err instanceof Error && /Not connected|No response from server/i.test(err.message) && reconnects++ < RECONNECTS) {
          this.forget(e);
          conn.client.end();
          continue;
        }
        throw err;
      }
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        e.slots.release();
        this.armIdle(e);
      };
      channel.on('error', () => {});
      channel.once('close', release);
      const lease = { channel, alias, release };
      this.leases.set(lease, { entry: e, released: () => released });
      return lease;
    }
  }

  private armIdle(e: Entry): void {
    if (e.slots.inUse > e.parked.size || e.dependents > 0 || e.dead) return;
    if (e.idleTimer) clearTimeout(e.idleTimer);
    if (e.retired) {
      if (e.connection) this.closeEntry(e); // still connecting: armIdle runs again once it is ready
      return;
    }
    e.idleTimer = setTimeout(() => this.closeEntry(e), this.opts.idleCloseMs ?? 5 * 60_000);
    e.idleTimer.unref();
  }

  /** A host to connect to and the jump hosts in front of it (outermost first); a ProxyJump loop fails here. */
  private async target(alias: string): Promise<Plan> {
    const host = await this.resolve(alias);
    return { host, chain: await jumpChain(host, this.opts.resolveJump ?? ((request, from) => resolveJumpHost(request, from))) };
  }

  private entry(
    key: string,
    plan: () => Promise<Plan>,
    interactive = true,
    extra?: { extraFor: string; cap: number },
  ): Promise<Entry> {
    if (this.disposed) return Promise.reject(new Error('connection pool is closed'));
    const existing = this.entries.get(key);
    if (existing && !existing.dead) return Promise.resolve(existing);
    const e: Entry = {
      key,
      slots: new Slots(extra?.cap ?? this.opts.maxChannelsPerConnection ?? DEFAULT_MAX_CHANNELS),
      dependents: 0,
      dead: false,
      scope: new DisposalScope(),
      parked: new Map(),
      ready: undefined as unknown as Promise<Connection>,
      extraFor: extra?.extraFor,
    };
    if (extra) e.slots.lowered = true; // the server's limit is known from the host's own connection
    // Jump entries this connection went through: they stay open while it lives.
    const jumps: Entry[] = [];
    const releaseJumps = () => {
      for (const j of jumps.splice(0)) {
        j.dependents = Math.max(0, j.dependents - 1);
        this.armIdle(j);
      }
    };
    e.ready = plan().then(({ host, chain }) => connectHost(host, this.deps(interactive, jumps, chain)));
    this.entries.set(key, e);
    e.ready.then(
      (conn) => {
        e.connection = conn;
        conn.client.on('error', () => {});
        void conn.closed.then(() => {
          this.forget(e);
          releaseJumps();
        });
        if (e.dead) conn.client.end(); // closed or disposed while connecting
        this.armIdle(e);
      },
      () => {
        this.forget(e);
        releaseJumps();
      },
    );
    return Promise.resolve(e);
  }

  private deps(interactive: boolean, jumps: Entry[], chain: readonly JumpHop[]): ConnectDeps {
    return {
      prompter: interactive ? this.opts.prompter : refusingPrompter,
      keys: this.keys,
      env: this.opts.env ?? process.env,
      defaultConnectTimeoutMs: this.opts.connectTimeoutMs ?? 10_000,
      openJump: () => this.openJump(chain, interactive, jumps),
    };
  }

  /**
   * The connection to the last hop of `chain` (itself reached through the hops before it), shared by
   * every connection whose chain has the same hop: same name, user, port, -J hops and config file.
   */
  private async openJump(chain: readonly JumpHop[], interactive: boolean, dependents: Entry[]) {
    const hop = chain[chain.length - 1];
    if (!hop) throw new Error('internal: a ProxyJump host without a jump chain');
    const e = await this.entry(`jump:${hop.key}`, async () => ({ host: hop.host, chain: chain.slice(0, -1) }), interactive);
    const conn = await e.ready;
    if (!dependents.includes(e)) {
      e.dependents++;
      dependents.push(e);
    }
    if (e.idleTimer) clearTimeout(e.idleTimer);
    return { client: conn.client, name: describeJump(hop.request) };
  }
}

interface Plan {
  host: ResolvedHost;
  chain: readonly JumpHop[];
}
