import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fleetFiles, InventoryFollower } from '../../src/core/config/follow';
import { defaultGroupsPaths } from '../../src/core/config/groups';
import { loadInventory } from '../../src/core/config/inventory';

describe('InventoryFollower', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the fleet again only when a file of it changed: an Included file, then a groups file that appeared', async () => {
    dir = mkdtempSync(join(tmpdir(), 'flotilla-follow-'));
    const config = join(dir, 'config');
    const included = join(dir, 'more.conf');
    writeFileSync(config, `Include ${included}\nHost a\n  HostName 127.0.0.1\n`);
    writeFileSync(included, 'Host b\n  HostName 127.0.0.2\n');
    const opts = { sshConfigFile: config, homeDir: dir };
    const reloads: string[][] = [];
    const follower = await InventoryFollower.follow(await loadInventory(opts), opts, (inv) => reloads.push(inv.hosts.map((h) => h.alias)));
    expect(await follower.refresh()).toBe(false);
    writeFileSync(included, 'Host b c\n  HostName 127.0.0.2\n');
    expect(await follower.refresh()).toBe(true);
    expect(follower.current.hosts.map((h) => h.alias)).toEqual(['b', 'c', 'a']);
    expect(await follower.refresh()).toBe(false);
    // sshsync's default groups file, created while following
    mkdirSync(join(dir, '.config', 'sshsync'), { recursive: true });
    writeFileSync(join(dir, '.config', 'sshsync', 'config.yaml'), 'groups:\n  web: [a, c]\n');
    expect(await follower.refresh()).toBe(true);
    expect(follower.current.hosts.find((h) => h.alias === 'c')!.groups).toEqual(['web']);
    expect(reloads).toHaveLength(2);
  });

  it('a configured groups file that does not exist yet is followed, so creating it is a change', async () => {
    dir = mkdtempSync(join(tmpdir(), 'flotilla-follow-'));
    const config = join(dir, 'config');
    writeFileSync(config, 'Host a\n  HostName 127.0.0.1\n');
    const groupsFile = join(dir, 'groups.yaml');
    const opts = { sshConfigFile: config, groupsFile, homeDir: dir };
    const follower = await InventoryFollower.follow(await loadInventory(opts), opts);
    writeFileSync(groupsFile, 'groups:\n  web: [a]\n');
    expect(await follower.refresh()).toBe(true);
    expect(follower.current.hosts[0]!.groups).toEqual(['web']);
  });
});

describe('fleetFiles', () => {
  it('names the main config, what it read, the groups file or where one is looked for, and the inventories', () => {
    const home = '/home/u';
    const read = { configFiles: ['/home/u/.ssh/config', '/home/u/.ssh/more.conf'], groupsFile: undefined };
    expect(fleetFiles({ homeDir: home, ansibleInventories: ['/srv/hosts.ini'] }, read))
      .toEqual(['/home/u/.ssh/config', '/home/u/.ssh/more.conf', ...defaultGroupsPaths(home), '/srv/hosts.ini']);
    expect(fleetFiles({ homeDir: home }, { ...read, groupsFile: '/home/u/g.yaml' })).toEqual(['/home/u/.ssh/config', '/home/u/.ssh/more.conf', '/home/u/g.yaml']);
    // a fleet that could not be read: what would define it once fixed
    expect(fleetFiles({ homeDir: home, sshConfigFile: '/etc/fleet.conf', groupsFile: '/home/u/g.yaml' }, undefined)).toEqual(['/etc/fleet.conf', '/home/u/g.yaml']);
    expect(fleetFiles({ homeDir: home, sshConfigFile: 'none', groupsFile: '/g.yaml' }, undefined)).toEqual(['/g.yaml']);
  });
});
