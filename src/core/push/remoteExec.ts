// Run one short script over the pooled connection and collect its output (listing, hashing, cleanup).
import type { Pool } from '../ssh/pool';
import { buildRemoteCommand } from '../ssh/quote';

export interface ExecResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

export async function execScript(pool: Pool, host: string, script: string, stdin?: Buffer, signal?: AbortSignal): Promise<ExecResult> {
  const lease = await pool.exec(host, buildRemoteCommand(script));
  try {
    const { channel } = lease;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let code: number | null = null;
    channel.on('data', (d: Buffer) => out.push(d));
    channel.stderr.on('data', (d: Buffer) => err.push(d));
    channel.on('exit', (c: number | null) => { code = c; });
    const closed = new Promise<void>((resolve) => channel.once('close', () => resolve()));
    const onAbort = () => channel.close();
    signal?.addEventListener('abort', onAbort, { once: true });
    channel.end(stdin);
    await closed;
    signal?.removeEventListener('abort', onAbort);
    return { code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') };
  } finally {
    lease.release();
  }
}

/** Splits a buffer on NUL bytes (a trailing NUL does not produce an empty last field). */
export function splitNul(buf: Buffer): string[] {
  const fields: string[] = [];
  let start = 0;
  for (let i = buf.indexOf(0, start); i !== -1; i = buf.indexOf(0, start)) {
    fields.push(buf.toString('utf8', start, i));
    start = i + 1;
  }
  if (start < buf.length) fields.push(buf.toString('utf8', start));
  return fields;
}
