import { execFile } from 'node:child_process';

export interface MatchExecOutcome {
  matched: boolean;
  /** Set when the command could not give an answer (timeout, spawn failure). */
  problem?: string;
}

export const DEFAULT_MATCH_EXEC_TIMEOUT_MS = 5_000;

/** Runs a `Match exec` command asynchronously with `/bin/sh -c`; exit status 0 means "matches". */
export function runMatchExec(
  command: string,
  env: Record<string, string | undefined>,
  timeoutMs: number,
): Promise<MatchExecOutcome> {
  return new Promise((resolve) => {
    const child = execFile(
      '/bin/sh',
      ['-c', command],
      { env: definedOnly(env), timeout: timeoutMs, killSignal: 'SIGKILL', windowsHide: true },
      (error) => {
        if (!error) return resolve({ matched: true });
        const e = error as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
        if (e.killed) return resolve({ matched: false, problem: `timed out after ${timeoutMs} ms` });
        if (typeof e.code === 'number') return resolve({ matched: false });
        resolve({ matched: false, problem: e.message });
      },
    );
    child.stdin?.end();
  });
}

function definedOnly(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}
