// Shared by integration tests: a lab fleet plus a pool resolving against its ssh_config.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveHost } from '../../src/core/config/sshConfig';
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
