// Runs one command on many hosts in parallel through the pool, with an honest outcome per host.
// Cancel and timeout: signal → process-group kill through a second channel (root logins on OpenSSH < 10
// refuse signals) → close; the slot is released even when the channel never reports close.
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { ClientChannel } from 'ssh2';
import { ConnectError } from '../ssh/connect';
import type { LeasedChannel, Pool } from '../ssh/pool';
import { buildRemoteCommand, PGID_MARKER, shellCommandFromArgv } from '../ssh/quote';
import { CappedBuffer } from './output';
import type { HostOutcome } from '../jobs/outcome';

export type { HostState } from '../jobs/outcome';

/** Output facts of one host of a run; the heads are capped and not sanitized. */
export interface HostOutput {
  host: string;
  stdout: string;
  stderr: string;
  truncated: boolean;
  stdoutBytes: number;
  stderrBytes: number;
  stdoutFile?: string;
  stderrFile?: string;
}

export type HostResult = HostOutcome & HostOutput;

/** Which front end started a run. */
export type RunOrigin = 'extension' | 'task' | 'cli' | 'mcp' | 'workflow' | 'test';

export interface RunSpec {
  /** A shell command line, or an argv whose elements must each arrive byte-exact. */
  command: string | readonly string[];
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  concurrency?: number;
  pty?: boolean;
  /** Per-host, per-stream cap of output kept in memory (default 128 KiB). */
  outputCapBytes?: number;
  /** When set, full output goes to `<outputDir>/<host>.stdout|.stderr` (capped by diskCapBytes). */
  outputDir?: string;
  diskCapBytes?: number;
  origin: RunOrigin;
  /** Grace between TERM and the process-group kill. */
  killGraceMs?: number;
  /**
   * The remote command's stdin: bytes given to every host, or a stream (one host only: a stream is read
   * once). Without it stdin gets EOF at once.
   */
  stdin?: Readable | Buffer;
  /** A private working directory per host (e.g. with uploaded files), made before the command and removed after. */
  workdir?: Workdir;
}

export interface Workdir {
  /** Makes the directory on the host and returns its absolute path; runs before the command. */
  prepare(host: string, signal: AbortSignal): Promise<string>;
  /** Removes it (or not, when it is to be kept); runs after the command whatever its outcome. */
  cleanup(host: string, dir: string): Promise<void>;
}

export class RunSpecError extends Error {}

/** Longest timer Node keeps: setTimeout clamps anything larger to 1 ms. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * Refuses a spec that could not run as meant, before any host is contacted: an empty command, one
 * too big for the remote exec, a bad cwd or env name, a timeout Node cannot keep.
 */
export function checkRunSpec(spec: Pick<RunSpec, 'command' | 'cwd' | 'env' | 'timeoutMs' | 'concurrency'>): void {
  const argv = typeof spec.command === 'string' ? undefined : spec.command;
  if (argv ? argv.length === 0 || argv[0] === '' : (spec.command as string).trim() === '') {
    throw new RunSpecError('the command is empty: give a shell command line (or a program and its arguments)');
  }
  if (spec.timeoutMs !== undefined && !(Number.isInteger(spec.timeoutMs) && spec.timeoutMs > 0 && spec.timeoutMs <= MAX_TIMEOUT_MS)) {
    throw new RunSpecError(`timeout ${spec.timeoutMs} ms is out of range: give 1 ms to ${Math.floor(MAX_TIMEOUT_MS / 86_400_000)} days`);
  }
  if (spec.concurrency !== undefined && !(Number.isInteger(spec.concurrency) && spec.concurrency >= 1)) {
    throw new RunSpecError(`concurrency ${spec.concurrency} is not a whole number of hosts (1 or more)`);
  }
  try {
    const script = commandText(spec.command);
    // The placeholder stands for the longest cwd a workdir gets; the real one is only known on the host.
    buildRemoteCommand(script, { cwd: spec.cwd, env: spec.env, reportPgid: true });
  } catch (err) {
    throw new RunSpecError((err as Error).message);
  }
}

/**
 * What connecting to a host for the run showed: the connection (`ms`: how long the connect took; a warm
 * pooled connection took none) or why there was none. For the health history; nothing extra is probed.
 */
export type ConnectFact = { ok: true; ms: number; warm: boolean } | { ok: false; ms: number; error: ConnectError };

export type RunEvent =
  | { type: 'host-start'; host: string }
  | { type: 'host-connect'; host: string; at: number; connect: ConnectFact }
  | { type: 'host-output'; host: string; stream: 'stdout' | 'stderr'; chunk: Buffer }
  | { type: 'host-done'; result: HostResult };

export interface RunRecord {
  id: string;
  startedAt: string;
  finishedAt: string;
  origin: RunOrigin;
  targets: readonly string[];
  command: string;
  argv?: readonly string[];
  cwd?: string;
  timeoutMs: number;
  results: HostResult[];
}

export interface RunController {
  readonly id: string;
  readonly done: Promise<RunRecord>;
  /** Cancels one host, or all when omitted. */
  cancel(host?: string): void;
}

export const DEFAULT_TIMEOUT_MS = 300_000;
export const DEFAULT_OUTPUT_CAP = 128 * 1024;
/** Per host and stream on disk: enough for any log worth reading, small enough that 50 hosts × a runaway `yes` stays sane. */
export const DEFAULT_DISK_CAP = 32 * 1024 * 1024;
/** Give up looking for the PGID line after this much output (login-shell rc noise comes before it). */
const PGID_SCAN_LIMIT = 64 * 1024;

export function newRunId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}-${randomBytes(3).toString('hex')}`;
}

/** The name of a host's output file in a run's output directory. */
export function outputFileName(host: string, stream: 'stdout' | 'stderr'): string {
  return `${host.replace(/[^A-Za-z0-9._-]/g, '_')}.${stream}`;
}

export function commandText(command: string | readonly string[]): string {
  return typeof command === 'string' ? command : shellCommandFromArgv(command);
}

/** Starts the run and returns at once; `done` settles when every host has an outcome. */
export function startRun(
  hosts: readonly string[],
  spec: RunSpec,
  pool: Pool,
  on: (e: RunEvent) => void = () => {},
  id = newRunId(),
): RunController {
  const startedAt = new Date().toISOString();
  const targets = [...new Set(hosts)];
  const cancellers = new Map<string, AbortController>(targets.map((h) => [h, new AbortController()]));
  const script = commandText(spec.command);
  // A listener that throws must not take the run (and its remote processes) down with it.
  const emit = (e: RunEvent) => {
    try { on(e); } catch { /* the consumer's problem */ }
  };
  const done = (async () => {
    const results = new Map<string, HostResult>();
    const queue = [...targets];
    const workers = Array.from({ length: Math.max(1, Math.min(spec.concurrency ?? 64, queue.length)) }, async () => {
      for (let host = queue.shift(); host !== undefined; host = queue.shift()) {
        const abort = cancellers.get(host)!.signal;
        emit({ type: 'host-start', host });
        let result: HostResult;
        const t0 = Date.now();
        try {
          result = abort.aborted
            ? withoutOutput(host, { state: 'cancelled', durationMs: 0, remoteStopped: true, reason: 'cancelled before start' })
            : await runOnHost({
              host, script, spec, pool, abort,
              onChunk: (stream, chunk) => emit({ type: 'host-output', host, stream, chunk }),
              onConnect: (connect, at) => emit({ type: 'host-connect', host, at, connect }),
            });
        } catch (err) {
          result = withoutOutput(host, {
            state: 'lost',
            durationMs: Date.now() - t0,
            remoteStopped: false,
            reason: `internal error: ${err instanceof Error ? err.message : String(err)}`,
          });
        }
        results.set(host, result);
        emit({ type: 'host-done', result });
      }
    });
    await Promise.all(workers);
    return {
      id,
      startedAt,
      finishedAt: new Date().toISOString(),
      origin: spec.origin,
      targets,
      command: script,
      argv: typeof spec.command === 'string' ? undefined : [...spec.command],
      cwd: spec.cwd,
      timeoutMs: spec.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      results: targets.map((h) => results.get(h)!),
    };
  })();
  return {
    id,
    done,
    cancel(host?: string) {
      for (const [h, c] of cancellers) if (host === undefined || h === host) c.abort();
    },
  };
}

export function withoutOutput(host: string, outcome: HostOutcome): HostResult {
  return { ...outcome, host, stdout: '', stderr: '', truncated: false, stdoutBytes: 0, stderrBytes: 0 };
}

/** A connect that failed: the command never started, so nothing remote is left running. */
export function connectFailureOutcome(err: unknown, durationMs: number): HostOutcome {
  if (err instanceof ConnectError) {
    if (err.kind === 'timeout') return { state: 'timeout', durationMs, remoteStopped: true, reason: err.message };
    return { state: err.kind, durationMs, reason: err.message };
  }
  return { state: 'unreachable', durationMs, reason: err instanceof Error ? err.message : String(err) };
}

/** Sink for one output stream: capped head in memory, capped copy on disk with back-pressure. */
class StreamSink {
  readonly head: CappedBuffer;
  private file?: WriteStream;
  private written = 0;
  private draining?: Promise<void>;
  constructor(cap: number, private readonly diskCap: number, readonly path?: string) {
    this.head = new CappedBuffer(cap);
    if (path) {
      this.file = createWriteStream(path, { mode: 0o600 });
      this.file.on('error', () => {});
    }
  }
  /** Returns false when the caller should pause until `drained`. */
  write(chunk: Buffer): boolean {
    this.head.push(chunk);
    if (!this.file || this.written >= this.diskCap) return true;
    const part = chunk.length + this.written > this.diskCap ? chunk.subarray(0, this.diskCap - this.written) : chunk;
    this.written += part.length;
    return this.file.write(part);
  }
  /** One shared waiter however many writes asked to pause (no listener pile-up). */
  drained(): Promise<void> {
    const f = this.file;
    if (!f || !f.writableNeedDrain) return Promise.resolve();
    return (this.draining ??= new Promise<void>((r) => {
      const done = () => { f.off('drain', done); f.off('close', done); this.draining = undefined; r(); };
      f.on('drain', done);
      f.on('close', done);
    }));
  }
  async close(): Promise<void> {
    if (!this.file) return;
    const f = this.file;
    if (this.head.totalBytes > this.diskCap) f.write(`\n[flotilla: output cut at ${this.diskCap} bytes on disk of ${this.head.totalBytes}]\n`);
    await new Promise<void>((r) => { f.once('error', () => r()); f.end(r); });
  }
}

/**
 * Takes the `FLOTILLA_PGID=<n>` line out of a stream (stderr, or stdout with a pty, where it ends in
 * `\r\n`). Lines before it (login-shell rc noise) pass through as they complete; after it, or after
 * PGID_SCAN_LIMIT bytes without it, everything passes through untouched.
 */
class PgidScanner {
  pgid?: number;
  private pending: Buffer | undefined = Buffer.alloc(0);
  private scanned = 0;
  constructor(private readonly emit: (b: Buffer) => void) {}
  push(chunk: Buffer): void {
    if (!this.pending) return this.emit(chunk);
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    this.scanned += chunk.length;
    for (let nl = buf.indexOf(0x0a); nl >= 0; nl = buf.indexOf(0x0a)) {
      const line = buf.toString('latin1', 0, nl);
      const m = /FLOTILLA_PGID=(\d+)\r?$/.exec(line);
      if (m && line.indexOf(PGID_MARKER) === m.index) {
        this.pgid = Number(m[1]);
        if (m.index > 0) this.emit(buf.subarray(0, m.index));
        this.pending = undefined;
        if (nl + 1 < buf.length) this.emit(buf.subarray(nl + 1));
        return;
      }
      this.emit(buf.subarray(0, nl + 1));
      buf = buf.subarray(nl + 1);
    }
    if (this.scanned > PGID_SCAN_LIMIT) {
      this.pending = undefined;
      if (buf.length) this.emit(buf);
      return;
    }
    this.pending = Buffer.from(buf);
  }
  /** End of stream: whatever was held back is output. */
  flush(): void {
    const rest = this.pending;
    this.pending = undefined;
    if (rest?.length) this.emit(rest);
  }
}

/** One host's share of a run. */
interface HostTask {
  host: string;
  script: string;
  spec: RunSpec;
  pool: Pool;
  abort: AbortSignal;
  onChunk: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
  onConnect: (fact: ConnectFact, at: number) => void;
}

async function runOnHost(task: HostTask): Promise<HostResult> {
  const { host, spec, abort, pool } = task;
  const t0 = Date.now();
  const elapsed = () => Date.now() - t0;
  const timeoutMs = spec.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // The connection first, on its own: what it took (or why it failed) is the run's health reading. The
  // exec below leases a channel on this same pooled connection. Cancel does not wait for a slow connect.
  const warm = pool.isConnected(host);
  try {
    const conn = await raceAbort(pool.connection(host), abort);
    if (!conn) return withoutOutput(host, { state: 'cancelled', durationMs: elapsed(), remoteStopped: true, reason: 'cancelled before the command started' });
    task.onConnect({ ok: true, ms: warm ? 0 : elapsed(), warm }, t0);
  } catch (err) {
    // Only what the host did counts as its health (not, say, an ssh config that does not parse).
    if (err instanceof ConnectError) task.onConnect({ ok: false, ms: elapsed(), error: err }, t0);
    return withoutOutput(host, connectFailureOutcome(err, elapsed()));
  }
  if (!spec.workdir) return execOnHost(task, t0, timeoutMs);
  let dir: string;
  try {
    dir = await spec.workdir.prepare(host, abort);
  } catch (err) {
    if (abort.aborted) return withoutOutput(host, { state: 'cancelled', durationMs: elapsed(), remoteStopped: true, reason: 'cancelled while placing the files' });
    if (err instanceof ConnectError) return withoutOutput(host, connectFailureOutcome(err, elapsed()));
    return withoutOutput(host, { state: 'failed', exit: 1, durationMs: elapsed(), reason: `could not place the files: ${(err as Error).message}` });
  }
  try {
    return await execOnHost({ ...task, spec: { ...spec, cwd: dir } }, t0, timeoutMs - elapsed());
  } finally {
    await spec.workdir.cleanup(host, dir).catch(() => {});
  }
}

/** The exec itself: `timeoutMs` is what is left of the host's time limit. */
async function execOnHost({ host, script, spec, pool, abort, onChunk }: HostTask, t0: number, timeoutMs: number): Promise<HostResult> {
  const elapsed = () => Date.now() - t0;
  let remote: string;
  try {
    remote = buildRemoteCommand(script, { cwd: spec.cwd, env: spec.env, reportPgid: true });
  } catch (err) {
    return withoutOutput(host, { state: 'failed', durationMs: 0, reason: (err as Error).message, exit: 1 });
  }

  let lease: LeasedChannel<ClientChannel> | undefined;
  // The connect (and a queued slot) may take long; neither cancel nor the timeout waits for it.
  const leasing = pool.exec(host, remote, spec.pty ? { pty: { term: 'xterm-256color', rows: 24, cols: 200 } } : {});
  try {
    lease = await raceAbort(leasing, abort);
  } catch (err) {
    return withoutOutput(host, connectFailureOutcome(err, elapsed()));
  }
  if (!lease) {
    // If the exec still goes through, the command starts: stop it properly rather than just closing
    // the channel (without a pty that leaves the remote process running).
    void leasing.then((late) => stopLate(pool, host, late, spec), () => {});
    return withoutOutput(host, { state: 'cancelled', durationMs: elapsed(), remoteStopped: true, reason: 'cancelled before the command started' });
  }

  const channel = lease.channel;
  feedStdin(channel, spec);
  const cap = spec.outputCapBytes ?? DEFAULT_OUTPUT_CAP;
  const diskCap = spec.diskCapBytes ?? DEFAULT_DISK_CAP;
  const dir = spec.outputDir;
  if (dir) mkdirSync(dir, { recursive: true, mode: 0o700 });
  const out = new StreamSink(cap, diskCap, dir ? join(dir, outputFileName(host, 'stdout')) : undefined);
  const err = new StreamSink(cap, diskCap, dir ? join(dir, outputFileName(host, 'stderr')) : undefined);

  const pump = (sink: StreamSink, stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
    if (!sink.write(chunk)) {
      // Disk slower than the network: stop reading, so ssh2 stops granting window to the server.
      channel.pause();
      void sink.drained().then(() => channel.resume());
    }
    onChunk(stream, chunk);
  };
  // Without a pty the PGID line is on stderr; with one, stderr is merged into stdout by the terminal.
  const outScan = new PgidScanner(pump(out, 'stdout'));
  const errScan = new PgidScanner(pump(err, 'stderr'));
  const scanner = spec.pty ? outScan : errScan;
  if (spec.pty) errScan.flush(); else outScan.flush();
  channel.on('data', (chunk: Buffer) => outScan.push(chunk));
  channel.stderr.on('data', (chunk: Buffer) => errScan.push(chunk));

  type End = ChannelEnd;
  let exitInfo: { code: number | null; signal?: string } | undefined;
  channel.on('exit', (code: number | null, signal?: string) => { exitInfo = { code, signal }; });
  // 'exit' may fire before this listener exists (a fast command, while the lease was being handed over);
  // ssh2 repeats the exit status as the arguments of 'close' (undefined when the connection died).
  const closed = new Promise<End>((resolve) => channel.once('close', (code?: number | null, signal?: string) => {
    if (typeof code === 'number' || (code === null && signal)) exitInfo = { code, signal: signal ?? undefined };
    resolve(exitInfo ? { kind: 'exit', ...exitInfo } : { kind: 'closed' });
  }));
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<End>((resolve) => (timer = setTimeout(() => resolve({ kind: 'timeout' }), timeoutMs)));
  let onAbort: (() => void) | undefined;
  const cancelled = new Promise<End>((resolve) => {
    if (abort.aborted) return resolve({ kind: 'cancel' });
    onAbort = () => resolve({ kind: 'cancel' });
    abort.addEventListener('abort', onAbort, { once: true });
  });

  let end = await Promise.race([closed, timedOut, cancelled]);
  clearTimeout(timer);
  if (onAbort) abort.removeEventListener('abort', onAbort);
  let remoteStopped = false;
  if (end.kind === 'timeout' || end.kind === 'cancel') {
    const stop = end.kind;
    remoteStopped = await stopRemote(pool, host, channel, () => scanner.pgid, closed, spec);
    lease.release();
    end = { kind: stop };
  }
  outScan.flush();
  errScan.flush();
  await Promise.all([out.close(), err.close()]);

  const output: HostOutput = {
    host,
    stdout: out.head.text(),
    stderr: err.head.text(),
    truncated: out.head.truncated || err.head.truncated,
    stdoutBytes: out.head.totalBytes,
    stderrBytes: err.head.totalBytes,
    stdoutFile: out.path,
    stderrFile: err.path,
  };
  return { ...outcomeOf(end, elapsed(), remoteStopped, timeoutMs), ...output };
}

type ChannelEnd = { kind: 'exit'; code: number | null; signal?: string } | { kind: 'closed' } | { kind: 'timeout' } | { kind: 'cancel' };

function outcomeOf(end: ChannelEnd, durationMs: number, remoteStopped: boolean, timeoutMs: number): HostOutcome {
  switch (end.kind) {
    case 'exit':
      if (end.signal) return { state: 'killed', signal: end.signal.replace(/^SIG/, ''), durationMs };
      if (end.code === null) return { state: 'lost', durationMs, remoteStopped: false, reason: 'no exit status reported' };
      return end.code === 0 ? { state: 'ok', exit: 0, durationMs } : { state: 'failed', exit: end.code, durationMs };
    case 'closed':
      return { state: 'lost', durationMs, remoteStopped: false, reason: 'connection closed before the command reported an exit status: outcome unknown' };
    case 'timeout':
      return { state: 'timeout', durationMs, remoteStopped, reason: `no exit within ${timeoutMs} ms${remoteStopped ? '; remote command stopped' : '; remote command may still run'}` };
    case 'cancel':
      return { state: 'cancelled', durationMs, remoteStopped, ...(remoteStopped ? {} : { reason: 'remote command may still run' }) };
  }
}

/**
 * Without `stdin` the command reads EOF at once (`cat` ends instead of waiting for the timeout). With a
 * pty, EOF would hang up the terminal, so stdin is just left unused there.
 */
function feedStdin(channel: ClientChannel, spec: RunSpec): void {
  if (!spec.stdin) {
    // A short command may have closed its channel already; end() on it would build (and drop) an error.
    if (!spec.pty && !channel.writableEnded && !channel.destroyed) channel.end();
    return;
  }
  const input = spec.stdin;
  if (Buffer.isBuffer(input)) {
    channel.end(input);
    return;
  }
  const onData = (chunk: Buffer) => { if (!channel.write(chunk)) { input.pause(); channel.once('drain', () => input.resume()); } };
  const onEnd = () => { try { channel.end(); } catch { /* closed */ } };
  input.on('data', onData);
  input.once('end', onEnd);
  channel.once('close', () => { input.off('data', onData); input.off('end', onEnd); });
}

async function raceAbort<T>(p: Promise<T>, abort: AbortSignal): Promise<T | undefined> {
  if (abort.aborted) return undefined;
  return await new Promise<T | undefined>((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    abort.addEventListener('abort', onAbort, { once: true });
    p.then((v) => { abort.removeEventListener('abort', onAbort); resolve(v); }, (e) => { abort.removeEventListener('abort', onAbort); reject(e); });
  });
}

function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    p.then(() => { clearTimeout(t); resolve(true); }, () => { clearTimeout(t); resolve(false); });
  });
}

/** A channel that opened after its host was cancelled: find its PGID and stop it like any other. */
async function stopLate(pool: Pool, host: string, lease: LeasedChannel<ClientChannel>, spec: RunSpec): Promise<void> {
  const ch = lease.channel;
  const scan = new PgidScanner(() => {});
  ch.on('data', (d: Buffer) => { if (spec.pty) scan.push(d); });
  ch.stderr.on('data', (d: Buffer) => { if (!spec.pty) scan.push(d); });
  const closed = new Promise<void>((r) => ch.once('close', () => r()));
  // The PGID line is the script's first action; give it a moment to arrive.
  for (let i = 0; i < 20 && scan.pgid === undefined && !(await within(closed, 50)); i++);
  await stopRemote(pool, host, ch, () => scan.pgid, closed, { ...spec, killGraceMs: Math.min(spec.killGraceMs ?? 1500, 500) });
  lease.release();
}

/**
 * Stops the remote command and says whether it is known to be gone: TERM by signal (and ^C on a pty),
 * then `kill -TERM -PGID` through a second channel, then close. Root logins on OpenSSH < 10 refuse signals
 * (ssh-traps §2.6), so for them the group kill starts at once instead of after the grace period.
 */
async function stopRemote(
  pool: Pool,
  host: string,
  channel: ClientChannel,
  pgid: () => number | undefined,
  closed: Promise<unknown>,
  spec: RunSpec,
): Promise<boolean> {
  const grace = spec.killGraceMs ?? 1500;
  // ssh2 throws synchronously on a closed channel or an unknown signal name: never let that escape.
  try { channel.signal('TERM'); } catch { /* closed */ }
  if (spec.pty) { try { channel.write('\x03'); } catch { /* closed */ } }
  let asRoot = false;
  try { asRoot = (await pool.resolve(host)).user === 'root'; } catch { /* unknown: assume not */ }
  if (await within(closed, asRoot ? 150 : grace)) return true;
  const group = pgid();
  let killedByGroup = false;
  if (group !== undefined && group > 1) {
    killedByGroup = await killProcessGroup(pool, host, group, grace);
  }
  if (await within(closed, killedByGroup ? grace : 0)) return true;
  try { channel.close(); } catch { /* already closed */ }
  if (await within(closed, grace)) return true;
  // A pty channel that closes delivers SIGHUP; without one only the group kill says anything.
  return killedByGroup;
}

/**
 * Kills the process group on the remote side and reports whether it is gone afterwards. The channel
 * is opened on the host's pooled connection but outside the pool's slot accounting: the command being
 * stopped holds a slot, and with every slot busy a queued kill would wait for itself. sshd allows 10
 * sessions, the pool uses 8, so there is room; if the server refuses anyway, queue through the pool.
 */
async function killProcessGroup(pool: Pool, host: string, pgid: number, graceMs: number): Promise<boolean> {
  const secs = Math.max(1, Math.ceil(graceMs / 1000));
  // No `--`: dash's kill builtin rejects it. `kill -0 -$$` first proves this shell's kill takes a group
  // (sshd made this session's shell a group leader too), so "gone" never comes from a syntax error.
  const script =
    `kill -0 -$$ 2>/dev/null || { echo unsure; exit 0; }; ` +
    `kill -TERM -${pgid} 2>/dev/null; i=0; while kill -0 -${pgid} 2>/dev/null && [ $i -lt ${secs * 20} ]; do sleep 0.05; i=$((i+1)); done; ` +
    `kill -KILL -${pgid} 2>/dev/null; i=0; while kill -0 -${pgid} 2>/dev/null && [ $i -lt 20 ]; do sleep 0.05; i=$((i+1)); done; ` +
    `if kill -0 -${pgid} 2>/dev/null; then echo alive; else echo gone; fi`;
  const command = buildRemoteCommand(script);
  const collect = (ch: ClientChannel) => new Promise<string>((resolve) => {
    let text = '';
    ch.on('error', () => {});
    ch.on('data', (d: Buffer) => (text += d.toString()));
    ch.stderr.on('data', () => {});
    ch.once('close', () => resolve(text));
  });
  const deadline = graceMs + secs * 1000 + 5000;
  try {
    const conn = await pool.connection(host);
    const direct = await new Promise<ClientChannel | undefined>((resolve) => {
      try {
        conn.client.exec(command, (e, ch) => resolve(e ? undefined : ch));
      } catch {
        resolve(undefined);
      }
    });
    if (direct) {
      let text = '';
      const got = collect(direct).then((t) => (text = t));
      if (!(await within(got, deadline))) try { direct.close(); } catch { /* gone */ }
      return text.trim() === 'gone';
    }
    const lease = await pool.exec(host, command);
    let text = '';
    const got = collect(lease.channel).then((t) => (text = t));
    if (!(await within(got, deadline))) try { lease.channel.close(); } catch { /* gone */ }
    lease.release();
    return text.trim() === 'gone';
  } catch {
    return false;
  }
}
