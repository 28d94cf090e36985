// The fleet as the user described it: every concrete Host alias of the ssh config (and its Includes),
// the sshsync groups over them, and optionally Tailscale peers.
import { homedir } from 'node:os';
import type { ConfigSource } from '../types';
import { findGroupsFile, flagUnknownMembers, loadGroups } from './groups';
import { listHostAliases, resolveHost, type ResolveOptions } from './sshConfig';
import { matchPeersToAliases, readTailscaleStatus, type TailscalePeer } from './tailscale';

export interface InventoryOptions {
  sshConfigFile?: string;
  groupsFile?: string;
  homeDir?: string;
  tailscale?: boolean;
  matchExec?: boolean;
  env?: Record<string, string | undefined>;
}

export interface InventoryHost {
  alias: string;
  source: ConfigSource;
  groups: string[];
  tailscale?: TailscalePeer;
}

export interface Inventory {
  hosts: InventoryHost[];
  groups: ReadonlyMap<string, readonly string[]>;
  groupsFile?: string;
  /** Group members that name no Host alias: shown flagged, never dropped. */
  unknownMembers: { group: string; alias: string }[];
  /** Group members that cannot be an alias at all (left out of the group, with where they are). */
  rejectedMembers: { group: string; member: string; at: string }[];
  tailscalePeers: TailscalePeer[];
  warnings: string[];
  resolveOptions: ResolveOptions;
}

export function resolveOptionsFor(opts: InventoryOptions): ResolveOptions {
  return {
    configFile: opts.sshConfigFile || undefined,
    homeDir: opts.homeDir,
    env: opts.env,
    matchExec: { enabled: !!opts.matchExec, timeoutMs: 5000 },
  };
}

export async function loadInventory(opts: InventoryOptions = {}): Promise<Inventory> {
  const resolveOptions = resolveOptionsFor(opts);
  const { hosts: entries, warnings } = await listHostAliases(resolveOptions);
  const groupsPath = await findGroupsFile(opts.groupsFile || undefined, opts.homeDir ?? homedir());
  const groupsFile = groupsPath ? await loadGroups(groupsPath) : undefined;
  const groups = groupsFile?.groups ?? new Map<string, readonly string[]>();
  const known = new Set(entries.map((e) => e.alias));
  const hosts: InventoryHost[] = entries.map((e) => ({
    alias: e.alias,
    source: e.source,
    groups: [...groups].filter(([, members]) => members.includes(e.alias)).map(([g]) => g),
  }));
  let tailscalePeers: TailscalePeer[] = [];
  if (opts.tailscale) {
    const status = await readTailscaleStatus();
    if (status.state === 'ok') {
      tailscalePeers = status.peers.filter((p) => !p.self);
      warnings.push(...status.warnings);
      const resolved = await Promise.all(hosts.map(async (h) => ({ alias: h.alias, hostname: (await resolveHost(h.alias, resolveOptions)).hostname })));
      for (const [alias, peer] of matchPeersToAliases(tailscalePeers, resolved)) {
        const h = hosts.find((x) => x.alias === alias);
        if (h) h.tailscale = peer;
      }
    } else {
      warnings.push(`Tailscale: ${status.reason}`);
    }
  }
  return {
    hosts,
    groups,
    groupsFile: groupsPath,
    unknownMembers: groupsFile ? flagUnknownMembers(groupsFile, known) : [],
    rejectedMembers: groupsFile?.rejectedMembers ?? [],
    tailscalePeers,
    warnings: [...warnings, ...(groupsFile?.warnings ?? [])],
    resolveOptions,
  };
}

export class TargetError extends Error {}

/**
 * Expands a target: `all`, a group name, a host alias, or a comma list of those. Order is kept and
 * duplicates removed. Unknown names are an error that lists what exists.
 */
export function expandTargets(target: string, inv: Pick<Inventory, 'hosts' | 'groups'>): string[] {
  const out: string[] = [];
  const add = (a: string) => { if (!out.includes(a)) out.push(a); };
  const aliases = new Set(inv.hosts.map((h) => h.alias));
  const parts = target.split(',').map((p) => p.trim()).filter(Boolean);
  if (!parts.length) throw new TargetError('no target given: name a host alias, a group, "all", or a comma list');
  for (const part of parts) {
    const name = part.startsWith('group:') ? part.slice(6) : part;
    if (part === 'all') inv.hosts.forEach((h) => add(h.alias));
    else if (inv.groups.has(name) && !(aliases.has(name) && !part.startsWith('group:'))) inv.groups.get(name)!.forEach(add);
    else if (aliases.has(part)) add(part);
    else {
      const groups = [...inv.groups.keys()].join(', ') || 'none';
      throw new TargetError(`unknown target ${JSON.stringify(part)}: not a Host alias in the ssh config nor a group (groups: ${groups}); "all" means every host`);
    }
  }
  return out;
}

