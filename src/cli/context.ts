// What every CLI command needs: where the ssh config and groups are, the inventory, a pool.
import { resolve } from 'node:path';
import { loadInventory, type Inventory } from '../core/config/inventory';
import { resolveHost } from '../core/config/sshConfig';
import { defaultHistoryDir } from '../core/exec/history';
import { Pool } from '../core/ssh/pool';
import { terminalPrompter } from './prompter';

export interface GlobalFlags {
  sshConfig?: string;
  groups?: string;
  historyDir?: string;
  connectTimeout?: number;
  acceptNewHostKeys?: boolean;
  json?: boolean;
}

export class UsageError extends Error {}

export interface CliContext {
  flags: GlobalFlags;
  inventory: Inventory;
  pool: Pool;
  historyDir: string;
}

export async function createContext(flags: GlobalFlags): Promise<CliContext> {
  const absolute = (p: string | undefined) => (p && !p.startsWith('~') ? resolve(p) : p);
  const inventory = await loadInventory({
    sshConfigFile: absolute(flags.sshConfig ?? process.env.FLOTILLA_SSH_CONFIG),
    groupsFile: absolute(flags.groups ?? process.env.FLOTILLA_GROUPS),
  });
  const pool = new Pool({
    resolve: (alias) => resolveHost(alias, inventory.resolveOptions),
    prompter: terminalPrompter({ acceptNewHostKeys: flags.acceptNewHostKeys }),
    connectTimeoutMs: (flags.connectTimeout ?? 10) * 1000,
    idleCloseMs: 1000,
  });
  return { flags, inventory, pool, historyDir: flags.historyDir ?? process.env.FLOTILLA_HISTORY_DIR ?? defaultHistoryDir() };
}

export const EXIT = { ok: 0, usage: 1, commandFailed: 2, unreachable: 3, cancelled: 4 } as const;
