// What every CLI verb needs: where the ssh config and groups are, the inventory, a pool, the run store.
import { resolve } from 'node:path';
import { expandTargets, loadInventory, TargetError, type Inventory } from '../core/config/inventory';
import { EXIT } from '../core/jobs/outcome';
import { importLegacyHistory } from '../core/jobs/legacy';
import { defaultStoreRoot, RunStore } from '../core/jobs/store';
import { Pool } from '../core/ssh/pool';
import type { CliIo } from './io';
import { UsageError } from './io';
import { terminalPrompter } from './prompter';

export { EXIT, UsageError };

export interface GlobalFlags {
  sshConfig?: string;
  groups?: string;
  store?: string;
  connectTimeoutMs?: number;
  acceptNewHostKeys?: boolean;
  json?: boolean;
  /** Ansible inventory sources whose groups and hosts join the fleet. */
  ansibleInventories?: string[];
  ansibleAllowScripts?: boolean;
}

export interface CliContext {
  flags: GlobalFlags;
  inventory: Inventory;
  pool: Pool;
  store: RunStore;
  io: CliIo;
  connectTimeoutMs: number;
  /** TARGET expanded to host aliases; every problem is a usage error before anything is contacted. */
  targets(target: string): string[];
}

const absolute = (p: string | undefined) => (p && !p.startsWith('~') ? resolve(p) : p);

export function storeRootOf(flags: GlobalFlags): string {
  return absolute(flags.store) ?? defaultStoreRoot();
}

export async function createContext(flags: GlobalFlags, io: CliIo, opts: { interactive?: boolean } = {}): Promise<CliContext> {
  const inventory = await loadInventory({
    sshConfigFile: absolute(flags.sshConfig ?? process.env.FLOTILLA_SSH_CONFIG),
    groupsFile: absolute(flags.groups ?? process.env.FLOTILLA_GROUPS),
    ansibleInventories: flags.ansibleInventories?.map((p) => absolute(p)!),
    ansibleAllowScripts: flags.ansibleAllowScripts,
  });
  const connectTimeoutMs = flags.connectTimeoutMs ?? 10_000;
  const pool = new Pool({
    resolve: (alias) => inventory.resolve(alias),
    prompter: terminalPrompter({ acceptNewHostKeys: flags.acceptNewHostKeys, signal: io.signal, interactive: opts.interactive }),
    connectTimeoutMs,
    idleCloseMs: 1000,
  });
  const store = new RunStore(storeRootOf(flags));
  // Runs recorded before the shared store (history.jsonl in the same folder) are imported once.
  await importLegacyHistory(store, store.root).catch(() => 0);
  return {
    flags,
    inventory,
    pool,
    store,
    io,
    connectTimeoutMs,
    targets: (target) => strictTargets(target, inventory),
  };
}

/**
 * Like expandTargets, but a group member that is not a Host alias of the ssh config (a typo, or text such
 * as `-oProxyCommand=…` or `a;b`) stops the command instead of being skipped.
 */
export function strictTargets(target: string, inventory: Inventory): string[] {
  let hosts: string[];
  try {
    hosts = expandTargets(target, inventory);
  } catch (err) {
    if (err instanceof TargetError) throw new UsageError(err.message, 'list hosts and groups with: flotilla hosts', 'target');
    throw err;
  }
  const known = new Set(inventory.hosts.map((h) => h.alias));
  const named = new Set(target.split(',').map((p) => p.trim().replace(/^group:/, '')));
  const rejected = inventory.rejectedMembers.filter((r) => named.has(r.group) || named.has('all'));
  const bad = [...hosts.filter((h) => !known.has(h)), ...rejected.map((r) => r.member)];
  if (bad.length) {
    const groups = [...new Set([...inventory.unknownMembers.filter((u) => bad.includes(u.alias)).map((u) => u.group), ...rejected.map((r) => r.group)])];
    throw new UsageError(
      `target ${JSON.stringify(target)} names ${bad.length} member${bad.length === 1 ? '' : 's'} that ${bad.length === 1 ? 'is' : 'are'} not a Host alias in the ssh config: ${bad.map((b) => JSON.stringify(b)).join(', ')}` +
        (groups.length ? ` (in group${groups.length === 1 ? '' : 's'} ${groups.join(', ')})` : ''),
      `fix ${inventory.groupsFile ?? 'the groups file'} or add the Host to the ssh config; nothing was run`,
      'target',
    );
  }
  return hosts;
}
