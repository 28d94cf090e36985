// The fleet as the user described it: every concrete Host alias of the ssh config (and its Includes),
// the sshsync groups over them, optionally Ansible inventories (groups, and hosts the ssh config lacks),
// and optionally Tailscale peers.
import { homedir } from 'node:os';
import { mergeAnsibleInventory, resolveAnsibleHost, type AnsibleConnection, type AnsibleTreeGroup } from '../ansible';
import { resolveJumpHost, type ResolveJump } from '../ssh/jumpChain';
import type { ConfigSource, ResolvedHost } from '../types';
import { findGroupsFile, flagUnknownMembers, GroupsFileError, loadGroups } from './groups';
import { listHostAliases, resolveHost, type ConfigProblem, type ResolveOptions } from './sshConfig';
import { readTailnet, type Tailnet, type TailscalePeer } from './tailscale';

export interface InventoryOptions {
  sshConfigFile?: string;
  groupsFile?: string;
  homeDir?: string;
  tailscale?: boolean;
  /** The tailscale executable (default: `tailscale` on PATH). */
  tailscaleBinary?: string;
  matchExec?: boolean;
  env?: Record<string, string | undefined>;
  /** Ansible inventory sources (files or directories; `~/` allowed). Read only when given. */
  ansibleInventories?: readonly string[];
  /** Let `ansible-inventory` run inventory scripts and plugin configurations. */
  ansibleAllowScripts?: boolean;
  /** A broken groups file is reported in `groupsProblem` (the hosts stay listed) instead of thrown. */
  reportGroupsProblem?: boolean;
}

export interface InventoryHost {
  alias: string;
  source: ConfigSource;
  groups: string[];
  tailscale?: TailscalePeer;
  /** Only for hosts that come from an Ansible inventory and not from the ssh config. */
  ansible?: AnsibleConnection;
}

export interface Inventory {
  hosts: InventoryHost[];
  groups: ReadonlyMap<string, readonly string[]>;
  groupsFile?: string;
  /** Why the groups file could not be used (with reportGroupsProblem): its groups are left out. */
  groupsProblem?: { message: string; file: string; line?: number };
  /** The ssh config files read, Includes too: what to watch for changes. */
  configFiles: string[];
  /** Groups defined in the groups file: the ones the group commands edit (Ansible groups are edited in their inventory). */
  fileGroups: ReadonlySet<string>;
  /** Group members that name no Host alias: shown flagged, never dropped. */
  unknownMembers: { group: string; alias: string }[];
  /** Group members that cannot be an alias at all (left out of the group, with where they are). */
  rejectedMembers: { group: string; member: string; at: string }[];
  tailscalePeers: TailscalePeer[];
  /** The tailnet, when asked for (`tailscale`). */
  tailnet?: Tailnet;
  warnings: string[];
  /** What is wrong in the ssh config files, with file:line (the hosts that resolved are listed anyway). */
  configProblems: ConfigProblem[];
  resolveOptions: ResolveOptions;
  /** Groups as the Ansible inventories nest them (empty without inventories); `groups` holds their flattened members. */
  ansibleGroups: ReadonlyMap<string, AnsibleTreeGroup>;
  /** Resolved settings of a host: the ssh config's, or for inventory-only hosts the inventory's on top. */
  resolve(alias: string): Promise<ResolvedHost>;
  /** A jump host named in a ProxyJump: through the ssh config only, as `ssh -J` resolves it (never the inventory). */
  resolveJump: ResolveJump;
}

/** Each host's resolved HostName (hosts whose settings cannot be resolved are left out), for matching tailnet peers. */
export async function resolvedHostnames(inv: Pick<Inventory, 'hosts' | 'resolve'>): Promise<{ alias: string; hostname: string }[]> {
  const resolved = await Promise.all(inv.hosts.map(async (h) => inv.resolve(h.alias).then((r) => ({ alias: h.alias, hostname: r.hostname }), () => undefined)));
  return resolved.filter((r): r is { alias: string; hostname: string } => !!r);
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
  const { hosts: entries, warnings, problems: configProblems, files: configFiles } = await listHostAliases(resolveOptions);
  const groupsPath = await findGroupsFile(opts.groupsFile || undefined, opts.homeDir ?? homedir());
  let groupsProblem: Inventory['groupsProblem'];
  const groupsFile = groupsPath
    ? await loadGroups(groupsPath).catch((err: unknown) => {
      if (!opts.reportGroupsProblem || !(err instanceof GroupsFileError)) throw err;
      groupsProblem = { message: err.message, file: err.path, line: err.line };
      return undefined;
    })
    : undefined;
  const hosts: InventoryHost[] = entries.map((e) => ({ alias: e.alias, source: e.source, groups: [] }));
  const ansible = opts.ansibleInventories?.length
    ? await mergeAnsibleInventory(hosts, groupsFile?.groups ?? new Map(), opts.ansibleInventories, {
      allowScripts: !!opts.ansibleAllowScripts,
      homeDir: opts.homeDir ?? homedir(),
      env: opts.env,
    })
    : undefined;
  const groups = ansible?.groups ?? groupsFile?.groups ?? new Map<string, readonly string[]>();
  const known = new Set(hosts.map((h) => h.alias));
  const groupsOf = new Map<string, string[]>();
  for (const [g, members] of groups) for (const m of new Set(members)) groupsOf.set(m, [...(groupsOf.get(m) ?? []), g]);
  for (const h of hosts) h.groups = groupsOf.get(h.alias) ?? [];
  const inventoryOnly = new Map(hosts.filter((h) => h.ansible).map((h) => [h.alias, h.ansible!]));
  const resolve = (alias: string): Promise<ResolvedHost> => {
    const connection = inventoryOnly.get(alias);
    return connection ? resolveAnsibleHost(connection, resolveOptions) : resolveHost(alias, resolveOptions);
  };
  const tailnet = opts.tailscale ? await readTailnet(() => resolvedHostnames({ hosts, resolve }), { binary: opts.tailscaleBinary }) : undefined;
  if (tailnet) {
    warnings.push(...tailnet.warnings, ...(tailnet.reason ? [`Tailscale: ${tailnet.reason}`] : []));
    for (const h of hosts) h.tailscale = tailnet.byAlias.get(h.alias);
  }
  return {
    hosts,
    groups,
    groupsFile: groupsPath,
    groupsProblem,
    configFiles,
    fileGroups: new Set(groupsFile?.groups.keys() ?? []),
    unknownMembers: groupsFile ? flagUnknownMembers(groupsFile, known) : [],
    rejectedMembers: groupsFile?.rejectedMembers ?? [],
    tailscalePeers: tailnet?.peers ?? [],
    tailnet,
    warnings: [...warnings, ...(groupsFile?.warnings ?? []), ...(ansible?.warnings ?? [])],
    configProblems,
    resolveOptions,
    ansibleGroups: ansible?.tree ?? new Map(),
    resolve,
    resolveJump: (request, from) => resolveJumpHost(request, from, resolveOptions),
  };
}

export class TargetError extends Error {
  constructor(message: string, readonly hint?: string) {
    super(message);
  }
}

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

/**
 * Like expandTargets, but a group member that is not a Host alias (a typo, or text such as
 * `-oProxyCommand=…` or `a;b` that the groups file could not take) stops the command instead of being
 * skipped: nothing runs on the valid members either.
 */
export function strictTargets(target: string, inventory: Pick<Inventory, 'hosts' | 'groups' | 'unknownMembers' | 'rejectedMembers' | 'groupsFile'>): string[] {
  let hosts: string[];
  try {
    hosts = expandTargets(target, inventory);
  } catch (err) {
    if (err instanceof TargetError && !err.hint) throw new TargetError(err.message, 'list hosts and groups with: flotilla hosts');
    throw err;
  }
  const known = new Set(inventory.hosts.map((h) => h.alias));
  const named = new Set(target.split(',').map((p) => p.trim().replace(/^group:/, '')));
  const rejected = inventory.rejectedMembers.filter((r) => named.has(r.group) || named.has('all'));
  const bad = [...hosts.filter((h) => !known.has(h)), ...rejected.map((r) => r.member)];
  if (bad.length) {
    const groups = [...new Set([...inventory.unknownMembers.filter((u) => bad.includes(u.alias)).map((u) => u.group), ...rejected.map((r) => r.group)])];
    throw new TargetError(
      `target ${JSON.stringify(target)} names ${bad.length} member${bad.length === 1 ? '' : 's'} that ${bad.length === 1 ? 'is' : 'are'} not a Host alias in the ssh config: ${bad.map((b) => JSON.stringify(b)).join(', ')}` +
        (groups.length ? ` (in group${groups.length === 1 ? '' : 's'} ${groups.join(', ')})` : ''),
      `fix ${inventory.groupsFile ?? 'the groups file'} or add the Host to the ssh config; nothing was run`,
    );
  }
  return hosts;
}
