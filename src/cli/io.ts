// The CLI's contract with pipes and signals: every byte reaches stdout however slow the reader (the
// process only exits once stdout has drained), a closed pipe (`| head`) ends it quietly, errors under
// --json are one JSON object, and SIGINT/SIGTERM abort whatever is going on (prompts included).
import { isUtf8 } from 'node:buffer';
import { readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';

export interface CliErrorInfo {
  code: string;
  message: string;
  hint?: string;
}

/** A problem with what the user asked for: exit 1, before any host is contacted. */
export class UsageError extends Error {
  constructor(message: string, readonly hint?: string, readonly code = 'usage') {
    super(message);
  }
}

/**
 * JSON.stringify escapes C0 controls but not C1 (U+0080–U+009F), which some terminals execute (U+009B
 * is CSI): escape those too, so `--json` on a terminal is as inert as the human output.
 */
export function inertJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u0080-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export class CliIo {
  /** Aborted on SIGINT/SIGTERM and when stdout's reader went away. */
  readonly abort = new AbortController();
  stdoutClosed = false;
  signalled?: NodeJS.Signals;
  /** Set by a verb that ends cleanly on abort (a run records itself as cancelled); others end at once. */
  graceful = false;

  constructor(readonly stdout: Writable = process.stdout, readonly stderr: Writable = process.stderr) {
    stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
      this.stdoutClosed = true;
      this.abort.abort();
    });
    stderr.on('error', () => {});
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Writes to stdout and waits while the reader is behind (nothing is buffered without bound). */
  async out(data: string | Buffer): Promise<void> {
    if (this.stdoutClosed || !data.length) return;
    if (!this.stdout.write(data)) await this.drained(this.stdout);
  }

  err(text: string): void {
    this.stderr.write(text);
  }

  json(value: unknown): Promise<void> {
    return this.out(inertJson(value) + '\n');
  }

  private drained(stream: Writable): Promise<void> {
    if (!stream.writableNeedDrain || this.stdoutClosed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => { stream.off('drain', done); stream.off('close', done); stream.off('error', done); resolve(); };
      stream.on('drain', done);
      stream.on('close', done);
      stream.on('error', done);
    });
  }

  /** Resolves when everything written so far has been handed to the OS (or the reader is gone). */
  async flush(): Promise<void> {
    for (const stream of [this.stdout, this.stderr]) {
      if (this.stdoutClosed && stream === this.stdout) continue;
      await new Promise<void>((resolve) => {
        if (stream.writableLength === 0) return resolve();
        stream.write('', () => resolve());
        stream.once('error', () => resolve());
      });
    }
  }

  /**
   * First SIGINT/SIGTERM aborts: a graceful verb cancels and records what it was doing, any other verb
   * ends at once (exit 4). A second signal always ends the process at once.
   */
  installSignals(): void {
    const onSignal = (sig: NodeJS.Signals) => {
      if (this.signalled) process.exit(sig === 'SIGINT' ? 130 : 143);
      this.signalled = sig;
      this.abort.abort();
      if (!this.graceful) void this.flush().then(() => process.exit(4));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }

  errorJson(info: CliErrorInfo): Promise<void> {
    return this.json({ error: { code: info.code, message: info.message, ...(info.hint ? { hint: info.hint } : {}) } });
  }
}

/**
 * Node decodes argv as UTF-8 and silently replaces invalid bytes with U+FFFD; an argument sent to a
 * host must be exactly what the user typed, so such an argument is refused. The raw bytes are in
 * /proc/self/cmdline (Linux); elsewhere nothing can be checked.
 */
export function invalidUtf8Argument(userArgs: readonly string[]): number | undefined {
  let raw: Buffer;
  try {
    raw = readFileSync('/proc/self/cmdline');
  } catch {
    return undefined;
  }
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < raw.length; i++) if (raw[i] === 0) { parts.push(raw.subarray(start, i)); start = i + 1; }
  const mine = parts.slice(parts.length - userArgs.length);
  if (mine.length !== userArgs.length) return undefined;
  const bad = mine.findIndex((b) => !isUtf8(b));
  return bad >= 0 ? bad : undefined;
}
