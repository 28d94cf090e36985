// Shared by integration tests: a lab fleet plus a pool resolving against its ssh_config.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveHost } from '../../src/core/config/sshConfig';
import type { ConnectError } from '../../src/core/ssh/connect';
import { Pool, type PoolOptions } from '../../src/core/ssh/pool';
import { refusingPrompter } from '../../src/core/types';
import { startLab, type Lab, type LabOptions } from '../lab/lab';

export interface TestFleet {
  lab: Lab;
  dir: string;
  pool(overrides?: Partial<PoolOptions>): Pool;
  /** Aliases of hosts with a given role. */
  aliases(role: string): string[];
  stop(): Promise<void>;
}

export async function startFleet(opts: Partial<LabOptions> & { hosts: number }): Promise<TestFleet> {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-lab-'));
  // Isolated: each host gets its own /home, /root and /tmp, like real machines (separate files, separate tmux servers).
  const lab = await startLab({ dir, isolated: true, ...opts });
  const pools: Pool[] = [];
  return {
    lab,
    dir,
    pool(overrides = {}) {
      const p = new Pool({
        resolve: (alias) => resolveHost(alias, { configFile: lab.info.sshConfig }),
        prompter: refusingPrompter,
        connectTimeoutMs: 3000,
        env: { SSH_AUTH_SOCK: undefined },
        ...overrides,
      });
      pools.push(p);
      return p;
    },
    aliases(role) {
      return lab.info.hosts.filter((h) => h.role === role).map((h) => h.alias);
    },
    async stop() {
      await Promise.all(pools.map((p) => p.dispose()));
      await lab.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ExecResult {
  out: string;
  err: string;
  code: number | null;
  signal?: string;
}

/** Runs one raw exec on the pool and collects its output and exit status. */
export async function execOn(pool: Pool, alias: string, command: string): Promise<ExecResult> {
  const { channel } = await pool.exec(alias, command);
  return new Promise((resolve) => {
    const r: ExecResult = { out: '', err: '', code: null };
    channel.on('data', (d: Buffer) => (r.out += d.toString()));
    channel.stderr.on('data', (d: Buffer) => (r.err += d.toString()));
    channel.on('exit', (code: number | null, signal?: string) => {
      r.code = code;
      if (signal) r.signal = signal;
    });
    channel.once('close', () => resolve(r));
  });
}

/** The rejection of a connect that must fail (a success fails the test). */
export function connectFailure(p: Promise<unknown>): Promise<ConnectError> {
  return p.then(
    () => { throw new Error('expected the connection to fail'); },
    (e: unknown) => e as ConnectError,
  );
}

/** Live (non-zombie) processes on this machine whose command line is `text` or starts with it — the lab is local. */
export function pgrep(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n) && Number(n) !== process.pid)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      if (cmdline === text || cmdline.startsWith(`${text} `)) found.push(pid);
    } catch {
      // gone
    }
  }
  return found;
}

export async function waitUntil(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** stdout and exit status only (for exact comparisons). */
export async function execOut(pool: Pool, alias: string, command: string): Promise<{ out: string; code: number | null }> {
  const { out, code } = await execOn(pool, alias, command);
  return { out, code };
}
