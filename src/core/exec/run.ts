// Runs one command on many hosts in parallel through the pool, with an honest outcome per host.
// Cancel and timeout: signal → process-group kill through a second channel (root logins on OpenSSH < 10
// refuse signals) → close; the slot is released even when the channel never reports close.
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { ClientChannel } from 'ssh2';
import { ConnectError } from '../ssh/connect';
import type { Pool } from '../ssh/pool';
import { buildRemoteCommand, extractPgid, PGID_MARKER, shellCommandFromArgv } from '../ssh/quote';
import { CappedBuffer } from './output';

export type HostState =
  | 'ok' | 'failed' | 'killed' | 'timeout' | 'cancelled' | 'lost' | 'unreachable' | 'auth-failed' | 'hostkey-rejected';

export const TRANSPORT_FAILURES: ReadonlySet<HostState> = new Set(['unreachable', 'auth-failed', 'hostkey-rejected', 'lost']);

export interface HostResult {
  host: string;
  state: HostState;
  exit?: number;
  signal?: string;
  durationMs: number;
  /** For cancelled/timeout/lost: whether the remote process is known to be gone. */
  remoteStopped?: boolean;
  /** Why a transport-level state happened (connect refused, handshake timeout, ...). */
  reason?: string;
  /** Head of the output, capped; `truncated` says whether more was produced. Not sanitized. */
  stdout: string;
  stderr: string;
  truncated: boolean;
  stdoutBytes: number;
  stderrBytes: number;
  stdoutFile?: string;
  stderrFile?: string;
}

export type RunOrigin = 'palette' | 'tree' | 'task' | 'cli' | 'test';

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
}

export type RunEvent =
  | { type: 'host-start'; host: string }
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
const DEFAULT_DISK_CAP = 256 * 1024 * 1024;

export function newRunId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}-${randomBytes(3).toString('hex')}`;
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
  const cancellers = new Map<string, AbortController>(hosts.map((h) => [h, new AbortController()]));
  const script = commandText(spec.command);
  const done = (async () => {
    const results = new Map<string, HostResult>();
    const queue = [...hosts];
    const workers = Array.from({ length: Math.max(1, Math.min(spec.concurrency ?? 64, queue.length)) }, async () => {
      for (let host = queue.shift(); host !== undefined; host = queue.shift()) {
        const abort = cancellers.get(host)!.signal;
        on({ type: 'host-start', host });
        const result = abort.aborted
          ? emptyResult(host, 'cancelled', 0, { remoteStopped: true, reason: 'cancelled before start' })
          : await runOnHost(host, script, spec, pool, abort, (stream, chunk) => on({ type: 'host-output', host, stream, chunk }));
        results.set(host, result);
        on({ type: 'host-done', result });
      }
    });
    await Promise.all(workers);
    return {
      id,
      startedAt,
      finishedAt: new Date().toISOString(),
      origin: spec.origin,
      targets: hosts,
      command: script,
      argv: typeof spec.command === 'string' ? undefined : [...spec.command],
      cwd: spec.cwd,
      timeoutMs: spec.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      results: hosts.map((h) => results.get(h)!),
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

function emptyResult(host: string, state: HostState, durationMs: number, extra: Partial<HostResult> = {}): HostResult {
  return { host, state, durationMs, stdout: '', stderr: '', truncated: false, stdoutBytes: 0, stderrBytes: 0, ...extra };
}

function connectFailure(host: string, err: unknown, durationMs: number): HostResult {
  if (err instanceof ConnectError) {
    const state: HostState = err.kind === 'timeout' ? 'timeout' : err.kind;
    return emptyResult(host, state, durationMs, { reason: err.message, remoteStopped: state === 'timeout' ? true : undefined });
  }
  return emptyResult(host, 'unreachable', durationMs, { reason: err instanceof Error ? err.message : String(err) });
}

/** Sink for one output stream: capped head in memory, full copy on disk with back-pressure. */
class StreamSink {
  readonly head: CappedBuffer;
  private file?: WriteStream;
  private written = 0;
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
  drained(): Promise<void> {
    return new Promise((r) => (this.file ? this.file.once('drain', r) : r()));
  }
  async close(): Promise<void> {
    if (!this.file) return;
    const f = this.file;
    if (this.head.totalBytes > this.diskCap) f.write(`\n[flotilla: output cut at ${this.diskCap} bytes on disk]\n`);
    await new Promise<void>((r) => f.end(r));
  }
}

async function runOnHost(
  host: string,
  script: string,
  spec: RunSpec,
  pool: Pool,
  abort: AbortSignal,
  onChunk: (stream: 'stdout' | 'stderr', chunk: Buffer) => void,
): Promise<HostResult> {
  const t0 = Date.now();
  const elapsed = () => Date.now() - t0;
  const timeoutMs = spec.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let remote: string;
  try {
    remote = buildRemoteCommand(script, { cwd: spec.cwd, env: spec.env, reportPgid: true });
  } catch (err) {
    return emptyResult(host, 'failed', 0, { reason: (err as Error).message, exit: 1 });
  }

  let lease;
  try {
    const leasing = pool.exec(host, remote, spec.pty ? { pty: { term: 'xterm-256color', rows: 24, cols: 200 } } : {});
    lease = await raceAbort(leasing, abort);
    if (!lease) {
      void leasing.then((l) => { l.channel.close(); l.release(); }, () => {});
      return emptyResult(host, 'cancelled', elapsed(), { remoteStopped: true, reason: 'cancelled before the command started' });
    }
  } catch (err) {
    return connectFailure(host, err, elapsed());
  }

  const channel = lease.channel;
  const cap = spec.outputCapBytes ?? DEFAULT_OUTPUT_CAP;
  const dir = spec.outputDir;
  if (dir) mkdirSync(dir, { recursive: true });
  const safe = host.replace(/[^A-Za-z0-9._-]/g, '_');
  const out = new StreamSink(cap, spec.diskCapBytes ?? DEFAULT_DISK_CAP, dir ? join(dir, `${safe}.stdout`) : undefined);
  const err = new StreamSink(cap, spec.diskCapBytes ?? DEFAULT_DISK_CAP, dir ? join(dir, `${safe}.stderr`) : undefined);

  let pgid: number | undefined;
  let stderrPrefix: Buffer | undefined = Buffer.alloc(0); // until the PGID line is seen
  const pump = (sink: StreamSink, stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
    if (!sink.write(chunk)) {
      channel.pause();
      void sink.drained().then(() => channel.resume());
    }
    onChunk(stream, chunk);
  };
  const pumpOut = pump(out, 'stdout');
  const pumpErr = pump(err, 'stderr');
  channel.on('data', pumpOut);
  channel.stderr.on('data', (chunk: Buffer) => {
    if (!stderrPrefix) return pumpErr(chunk);
    stderrPrefix = Buffer.concat([stderrPrefix, chunk]);
    const text = stderrPrefix.toString('latin1');
    const found = extractPgid(text);
    if (found.pgid !== undefined || stderrPrefix.length > 8192 || (!text.includes(PGID_MARKER.slice(0, 4)) && text.includes('\n'))) {
      pgid = found.pgid;
      const rest = Buffer.from(found.rest, 'latin1');
      stderrPrefix = undefined;
      if (rest.length) pumpErr(rest);
    }
  });

  type End = { kind: 'exit'; code: number | null; signal?: string } | { kind: 'closed' } | { kind: 'timeout' } | { kind: 'cancel' };
  let exitInfo: { code: number | null; signal?: string } | undefined;
  channel.on('exit', (code: number | null, signal?: string) => { exitInfo = { code, signal }; });
  const closed = new Promise<End>((resolve) => channel.once('close', () => resolve(exitInfo ? { kind: 'exit', ...exitInfo } : { kind: 'closed' })));
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<End>((resolve) => (timer = setTimeout(() => resolve({ kind: 'timeout' }), timeoutMs)));
  const cancelled = new Promise<End>((resolve) => {
    if (abort.aborted) resolve({ kind: 'cancel' });
    abort.addEventListener('abort', () => resolve({ kind: 'cancel' }), { once: true });
  });

  let end = await Promise.race([closed, timedOut, cancelled]);
  clearTimeout(timer);
  let remoteStopped: boolean | undefined;
  if (end.kind === 'timeout' || end.kind === 'cancel') {
    const stop = end.kind;
    remoteStopped = await stopRemote(pool, host, channel, () => pgid, closed, spec);
    lease.release();
    end = { kind: stop };
  }
  await Promise.all([out.close(), err.close()]);
  if (stderrPrefix?.length) err.head.push(stderrPrefix);

  const base = {
    host,
    durationMs: elapsed(),
    stdout: out.head.text(),
    stderr: err.head.text(),
    truncated: out.head.truncated || err.head.truncated,
    stdoutBytes: out.head.totalBytes,
    stderrBytes: err.head.totalBytes,
    stdoutFile: out.path,
    stderrFile: err.path,
  };
  switch (end.kind) {
    case 'exit':
      if (end.signal) return { ...base, state: 'killed', signal: end.signal.replace(/^SIG/, '') };
      if (end.code === null) return { ...base, state: 'lost', remoteStopped: false, reason: 'no exit status reported' };
      return { ...base, state: end.code === 0 ? 'ok' : 'failed', exit: end.code };
    case 'closed':
      return { ...base, state: 'lost', remoteStopped: false, reason: 'connection closed before the command reported an exit status: outcome unknown' };
    case 'timeout':
      return { ...base, state: 'timeout', remoteStopped, reason: `no exit within ${timeoutMs} ms` };
    case 'cancel':
      return { ...base, state: 'cancelled', remoteStopped };
  }
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

/**
 * Stops the remote command and says whether it is known to be gone: TERM by signal (and ^C on a pty),
 * then `kill -- -PGID` through a second channel, then KILL, then close.
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
  try { channel.signal('TERM'); } catch { /* ssh2 throws on a closed channel */ }
  if (spec.pty) { try { channel.write('\x03'); } catch { /* closed */ } }
  if (await within(closed, grace)) return true;
  const group = pgid();
  let killedByGroup = false;
  if (group !== undefined && group > 1) {
    killedByGroup = await killProcessGroup(pool, host, group, grace);
  }
  try { channel.close(); } catch { /* already closed */ }
  if (await within(closed, grace)) return true;
  return killedByGroup;
}

/** Kills the process group on the remote side and reports whether it is gone afterwards. */
async function killProcessGroup(pool: Pool, host: string, pgid: number, graceMs: number): Promise<boolean> {
  const secs = Math.max(1, Math.ceil(graceMs / 1000));
  const script =
    `kill -TERM -- -${pgid} 2>/dev/null; i=0; while kill -0 -- -${pgid} 2>/dev/null && [ $i -lt ${secs * 10} ]; do sleep 0.1; i=$((i+1)); done; ` +
    `kill -KILL -- -${pgid} 2>/dev/null; sleep 0.2; if kill -0 -- -${pgid} 2>/dev/null; then echo alive; else echo gone; fi`;
  try {
    const lease = await pool.exec(host, buildRemoteCommand(script));
    let text = '';
    lease.channel.on('data', (d: Buffer) => (text += d.toString()));
    await within(new Promise((r) => lease.channel.once('close', r)), graceMs + 5000);
    lease.release();
    return text.trim() === 'gone';
  } catch {
    return false;
  }
}

export function summarize(record: RunRecord): { ok: number; failed: number; transport: number; stopped: number } {
  let ok = 0, failed = 0, transport = 0, stopped = 0;
  for (const r of record.results) {
    if (r.state === 'ok') ok++;
    else if (r.state === 'failed' || r.state === 'killed') failed++;
    else if (TRANSPORT_FAILURES.has(r.state) || r.state === 'timeout') transport++;
    else stopped++;
  }
  return { ok, failed, transport, stopped };
}
