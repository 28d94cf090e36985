// Ansible inventories as a group source for Flotilla's inventory: their groups join the sshsync groups
// (flattened: a group's members include its children's), and their hosts that the ssh config does not
// name become hosts reached with the inventory's connection variables.
import { join } from 'node:path';
import { validateHostToken } from '../config/validate';
import type { ConfigSource } from '../types';
import { connectionFromVars, type AnsibleConnection } from './connection';
import { where, type AnsibleInventory } from './model';
import { loadAnsibleInventory } from './source';

export { resolveAnsibleHost, sshArgv, type AnsibleConnection } from './connection';
export { AnsibleInventoryError } from './model';
export { loadAnsibleInventory } from './source';

/** One Ansible group as the tree nests it. */
export interface AnsibleTreeGroup {
  readonly children: readonly string[];
  /** Direct members only. */
  readonly hosts: readonly string[];
  readonly parents: readonly string[];
  readonly source?: ConfigSource;
}

/** Ansible's implicit groups: `all` is Flotilla's "all", `ungrouped` its Ungrouped. */
const IMPLICIT = new Set(['all', 'ungrouped']);
const CONNECTION_VARS = ['ansible_host', 'ansible_ssh_host', 'ansible_port', 'ansible_ssh_port', 'ansible_user', 'ansible_ssh_user', 'ansible_private_key_file', 'ansible_ssh_private_key_file'];

interface HostLike {
  alias: string;
  source: ConfigSource;
  groups: string[];
  ansible?: AnsibleConnection;
}

export interface MergedAnsible {
  groups: Map<string, readonly string[]>;
  tree: Map<string, AnsibleTreeGroup>;
  warnings: string[];
}

export function expandHome(path: string, homeDir: string): string {
  if (path === '~') return homeDir;
  return path.startsWith('~/') ? join(homeDir, path.slice(2)) : path;
}

/** Reads the inventories, appends their inventory-only hosts to `hosts`, and returns the merged groups. */
export async function mergeAnsibleInventory(
  hosts: HostLike[],
  sshsyncGroups: ReadonlyMap<string, readonly string[]>,
  paths: readonly string[],
  opts: { allowScripts: boolean; homeDir: string; env?: Record<string, string | undefined> },
): Promise<MergedAnsible> {
  const inv = await loadAnsibleInventory(paths.map((p) => expandHome(p.trim(), opts.homeDir)), { allowScripts: opts.allowScripts, env: opts.env });
  return mergeInto(hosts, sshsyncGroups, inv);
}

export function mergeInto(hosts: HostLike[], sshsyncGroups: ReadonlyMap<string, readonly string[]>, inv: AnsibleInventory): MergedAnsible {
  const warnings = [...inv.warnings];
  const inSshConfig = new Set(hosts.map((h) => h.alias));
  const usable = new Set<string>();
  for (const h of inv.hosts.values()) {
    try {
      validateHostToken(h.name, 'alias');
    } catch (err) {
      warnings.push(`${where(h.source)}: host ${JSON.stringify(h.name)} left out: ${(err as Error).message}`);
      continue;
    }
    usable.add(h.name);
    const vars = inv.hostVars(h.name);
    if (inSshConfig.has(h.name)) {
      const shadowed = CONNECTION_VARS.filter((k) => vars.has(k));
      if (shadowed.length) warnings.push(`${h.name} is in the ssh config, whose settings Flotilla uses; the inventory's ${shadowed.join(', ')} are not applied`);
      continue;
    }
    const ansible = connectionFromVars(h.name, vars);
    warnings.push(...ansible.warnings);
    hosts.push({ alias: h.name, source: h.source, groups: [], ansible });
  }
  const groups = new Map<string, readonly string[]>(sshsyncGroups);
  const tree = new Map<string, AnsibleTreeGroup>();
  for (const g of inv.groups.values()) {
    if (IMPLICIT.has(g.name)) continue;
    const members = inv.hostsOf(g.name).filter((h) => usable.has(h));
    const existing = groups.get(g.name);
    if (existing) {
      warnings.push(`group "${g.name}" is both in the groups file and in the Ansible inventory${g.source ? ` (${where(g.source)})` : ''}: its members are both lists together`);
      groups.set(g.name, [...existing, ...members.filter((m) => !existing.includes(m))]);
    } else {
      groups.set(g.name, members);
    }
    tree.set(g.name, {
      children: g.children,
      hosts: g.hosts.filter((h) => usable.has(h)),
      parents: g.parents.filter((p) => !IMPLICIT.has(p)),
      source: g.source,
    });
  }
  return { groups, tree, warnings };
}

