// Every tool call leaves a line in the run store (ROOT/mcp/, one file per server process, so writers never
// share a file): when, which tool, on what target, with what outcome and which run or plan id. Commands and
// typed text are not repeated here (a run's record already holds its command), so a token in them goes no further.
import { randomBytes } from 'node:crypto';
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ToolResult } from './toolkit';

const pick = (v: unknown, key: string): unknown => (v && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined);

export class AuditLog {
  readonly file: string;
  private ready?: Promise<unknown>;

  constructor(storeRoot: string, readonly origin: string) {
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
    this.file = join(storeRoot, 'mcp', `${stamp}-${process.pid}-${randomBytes(3).toString('hex')}.jsonl`);
  }

  async record(tool: string, args: unknown, result: ToolResult, durationMs: number): Promise<void> {
    this.ready ??= mkdir(join(this.file, '..'), { recursive: true, mode: 0o700 });
    const line = {
      at: new Date().toISOString(),
      origin: this.origin,
      tool,
      ...(typeof pick(args, 'target') === 'string' ? { target: pick(args, 'target') } : {}),
      ...(Array.isArray(pick(args, 'targets')) ? { targets: pick(args, 'targets') } : {}),
      ...(typeof pick(args, 'run_id') === 'string' ? { run_id: pick(args, 'run_id') } : {}),
      ...(typeof pick(result.data, 'run_id') === 'string' ? { run_id: pick(result.data, 'run_id') } : {}),
      ...(typeof pick(result.data, 'plan_id') === 'string' ? { plan_id: pick(result.data, 'plan_id') } : {}),
      ...(typeof pick(args, 'plan_id') === 'string' ? { plan_id: pick(args, 'plan_id') } : {}),
      ok: !result.isError,
      ...(result.isError ? { error: String(pick(result.data, 'error') ?? '') } : {}),
      duration_ms: durationMs,
    };
    await this.ready.then(() => appendFile(this.file, `${JSON.stringify(line)}\n`, { mode: 0o600 })).catch(() => {});
  }
}
