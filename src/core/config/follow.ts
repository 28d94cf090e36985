// A long-running process without an editor's file watchers (`flotilla mcp`) still follows the user's
// edits: before each use it compares the files that define the fleet — every ssh config file read
// (Includes too), the groups file (or where one would be found), Ansible inventories — and reads the
// fleet again when any of them changed, appeared or went away.
import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { defaultGroupsPaths } from './groups';
import { loadInventory, type Inventory, type InventoryOptions } from './inventory';

/**
 * The files that define the fleet read with `opts`: the main ssh config and every file it read, the groups file
 * (or, with none found, where one would be looked for: creating it changes the fleet), the Ansible inventories.
 * `inventory` undefined: the fleet could not be read (what to follow until it can).
 */
export function fleetFiles(opts: InventoryOptions, inventory: Pick<Inventory, 'configFiles' | 'groupsFile'> | undefined): string[] {
  const home = opts.homeDir ?? homedir();
  const mainConfig = opts.sshConfigFile === 'none' ? [] : [opts.sshConfigFile || join(home, '.ssh', 'config')];
  const groups = inventory?.groupsFile ? [inventory.groupsFile] : opts.groupsFile ? [opts.groupsFile] : defaultGroupsPaths(home);
  return [...new Set([...mainConfig, ...(inventory?.configFiles ?? []), ...groups, ...(opts.ansibleInventories ?? [])])];
}

async function stampOf(files: readonly string[]): Promise<string> {
  const parts = await Promise.all(files.map(async (f) => {
    const s = await stat(f).catch(() => undefined);
    return s ? `${f}\0${s.ino}\0${s.size}\0${s.mtimeMs}` : `${f}\0absent`;
  }));
  return parts.join('\n');
}

export class InventoryFollower {
  private stamp: Promise<string>;
  private reading: Promise<boolean> | undefined;

  private constructor(private inventory: Inventory, private readonly opts: InventoryOptions, private readonly onReload: (inventory: Inventory) => void) {
    this.stamp = stampOf(fleetFiles(opts, inventory));
  }

  /**
   * Follows the fleet `inventory` was read from (with `opts`); `onReload` runs after a changed fleet was
   * read (e.g. to retire the pool's connections).
   */
  static async follow(inventory: Inventory, opts: InventoryOptions, onReload: (inventory: Inventory) => void = () => {}): Promise<InventoryFollower> {
    const follower = new InventoryFollower(inventory, opts, onReload);
    await follower.stamp;
    return follower;
  }

  get current(): Inventory {
    return this.inventory;
  }

  /**
   * Reads the fleet again if a file changed since the last read; true when it did. A file that cannot
   * be read now throws (the caller reports it) and the previous fleet stays current.
   */
  refresh(): Promise<boolean> {
    this.reading ??= this.readIfChanged().finally(() => { this.reading = undefined; });
    return this.reading;
  }

  private async readIfChanged(): Promise<boolean> {
    const before = await this.stamp;
    const files = fleetFiles(this.opts, this.inventory);
    const now = await stampOf(files);
    if (now === before) return false;
    const fresh = await loadInventory(this.opts);
    this.inventory = fresh;
    // Stamped before reading: an edit made while reading shows as a change next time. If the read
    // found other files (an Include came or went), those are stamped as they are now.
    const freshFiles = fleetFiles(this.opts, fresh);
    this.stamp = Promise.resolve(freshFiles.join('\n') === files.join('\n') ? now : await stampOf(freshFiles));
    this.onReload(fresh);
    return true;
  }
}
