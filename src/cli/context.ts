// What every CLI verb needs: where the ssh config and groups are, the inventory, a pool, the run store.
import { resolve } from 'node:path';
import { loadInventory, strictTargets, type Inventory, type InventoryOptions } from '../core/config/inventory';
import { EXIT } from '../core/jobs/outcome';
import { importLegacyHistory } from '../core/jobs/legacy';
import { defaultStoreRoot, RunStore } from '../core/jobs/store';
import { Pool } from '../core/ssh/pool';
import type { CliIo } from './io';
import { UsageError } from './io';
import { terminalPrompter } from './prompter';

export { EXIT, UsageError, strictTargets };

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

// `-F none` means no config file at all, as for ssh; any other relative path is taken from the working directory.
const absolute = (p: string | undefined) => (p && p !== 'none' && !p.startsWith('~') ? resolve(p) : p);

export function storeRootOf(flags: GlobalFlags): string {
  return absolute(flags.store) ?? defaultStoreRoot();
}

/** Where the fleet is read from, as the flags (and environment) say. */
export function inventoryOptionsOf(flags: GlobalFlags): InventoryOptions {
  return {
    sshConfigFile: absolute(flags.sshConfig ?? process.env.FLOTILLA_SSH_CONFIG),
    groupsFile: absolute(flags.groups ?? process.env.FLOTILLA_GROUPS),
    ansibleInventories: flags.ansibleInventories?.map((p) => absolute(p)!),
    ansibleAllowScripts: flags.ansibleAllowScripts,
  };
}

export async function createContext(flags: GlobalFlags, io: CliIo, opts: { interactive?: boolean } = {}): Promise<CliContext> {
  const connectTimeoutMs = flags.connectTimeoutMs ?? 10_000;
  // The pool and targets read the context's inventory when used: a long-running verb may replace it.
  const context: CliContext = {
    flags,
    inventory: await loadInventory(inventoryOptionsOf(flags)),
    pool: new Pool({
      resolve: (alias) => context.inventory.resolve(alias),
      resolveJump: (request, from) => context.inventory.resolveJump(request, from),
      prompter: terminalPrompter({ acceptNewHostKeys: flags.acceptNewHostKeys, signal: io.signal, interactive: opts.interactive }),
      connectTimeoutMs,
      idleCloseMs: 1000,
    }),
    store: new RunStore(storeRootOf(flags)),
    io,
    connectTimeoutMs,
    targets: (target) => strictTargets(target, context.inventory),
  };
  // Runs recorded before the shared store (history.jsonl in the same folder) are imported once.
  await importLegacyHistory(context.store, context.store.root).catch(() => 0);
  return context;
}
