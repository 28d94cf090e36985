// The one target picker every feature uses (Run, Run on Group, Least-Loaded, Dry Run, Push, Pull):
// groups, "All hosts", "Several hosts…" (tick any number), then hosts with their health from the
// shared monitor; unreachable ones are listed last with why, and picking only unreachable hosts asks first.
// While it is open the picker is a health consumer, so what it shows is kept current.
import * as vscode from 'vscode';
import { compareHostNames } from '../../core/exec/output';
import type { HostHealth } from '../../core/health/probe';
import { escapeIcons, oneLine } from '../../core/text';
import type { Fleet } from '../fleet';
import type { HostsNode } from './hostsTree';

export interface Targets {
  hosts: string[];
  /** `group:web`, `all` or the host list: names the target in titles and keys remembered options. */
  key: string;
  label: string;
}

export function plural(n: number, what = 'host'): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

/** A short stable text naming a target list, used to remember options per target. */
export function targetKeyFor(hosts: readonly string[]): string {
  return [...hosts].sort(compareHostNames).join(',');
}

export function selectedAliases(node: HostsNode | undefined, selection: readonly HostsNode[] | undefined): string[] {
  const nodes = selection?.length ? selection : node ? [node] : [];
  return [...new Set(nodes.filter((n): n is Extract<HostsNode, { kind: 'host' }> => n.kind === 'host').map((n) => n.alias))];
}

/** Members of a Hosts-tree group node ("Ungrouped" = hosts in no group). */
export function groupMembers(fleet: Fleet, node: Extract<HostsNode, { kind: 'group' }>): string[] {
  const inv = fleet.snapshot.inventory;
  if (!inv) return [];
  if (!node.ungrouped) return [...(inv.groups.get(node.name) ?? [])];
  const grouped = new Set([...inv.groups.values()].flat());
  return inv.hosts.map((h) => h.alias).filter((a) => !grouped.has(a));
}

/** Targets from a Hosts-tree invocation: the clicked node plus the multi-selection; groups expand to members. */
export function targetsFromNodes(fleet: Fleet, node: HostsNode | undefined, selection: readonly HostsNode[] | undefined): Targets | undefined {
  const nodes = selection?.length ? selection : node ? [node] : [];
  const groups = nodes.filter((n): n is Extract<HostsNode, { kind: 'group' }> => n.kind === 'group');
  const hosts = new Set<string>();
  for (const g of groups) groupMembers(fleet, g).forEach((h) => hosts.add(h));
  selectedAliases(node, selection).forEach((h) => hosts.add(h));
  if (!hosts.size) return undefined;
  const list = [...hosts];
  if (groups.length === 1 && nodes.length === 1) {
    const g = groups[0]!;
    return { hosts: list, key: g.ungrouped ? 'ungrouped' : `group:${g.name}`, label: g.ungrouped ? 'Ungrouped' : g.name };
  }
  return hostTargets(list);
}

function hostTargets(list: readonly string[]): Targets {
  return list.length === 1
    ? { hosts: [...list], key: list[0]!, label: list[0]! }
    : { hosts: [...list], key: targetKeyFor(list), label: list.length <= 3 ? list.join(', ') : plural(list.length) };
}

const STATE_ICON: Record<HostHealth['state'], string> = {
  online: '$(pass-filled)',
  degraded: '$(warning)',
  unusable: '$(circle-slash)',
  offline: '$(error)',
  checking: '$(loading~spin)',
};

/** `offline · connection refused`: the state and, when not plain online, why. */
export function healthText(h: HostHealth | undefined): string {
  if (!h) return 'checking';
  return h.reason && h.state !== 'online' ? `${h.state} · ${oneLine(h.reason, 90)}` : h.state;
}

const unreachable = (h: HostHealth | undefined) => h?.state === 'offline';

type TargetItem = vscode.QuickPickItem & { targets?: Targets; alias?: string; several?: boolean };

export interface PickOptions {
  title: string;
  placeHolder?: string;
  /** Groups and "All hosts" only (a least-loaded run picks among a group's hosts). */
  groupsOnly?: boolean;
}

function hostItems(fleet: Fleet): TargetItem[] {
  const health = (a: string) => fleet.health.get(a);
  const sorted = fleet.aliases.slice().sort(compareHostNames);
  const hostItem = (alias: string): TargetItem => {
    const r = fleet.snapshot.resolved.get(alias);
    const h = health(alias);
    return {
      label: `${STATE_ICON[h?.state ?? 'checking']} ${escapeIcons(alias)}`,
      description: [r ? `${r.user}@${r.hostname}:${r.port}` : undefined, escapeIcons(healthText(h))].filter(Boolean).join(' · '),
      alias,
    };
  };
  const reachable = sorted.filter((a) => !unreachable(health(a)));
  const down = sorted.filter((a) => unreachable(health(a)));
  return [
    { label: 'Hosts', kind: vscode.QuickPickItemKind.Separator },
    ...reachable.map(hostItem),
    ...(down.length ? [{ label: 'Unreachable now', kind: vscode.QuickPickItemKind.Separator } as TargetItem, ...down.map(hostItem)] : []),
  ];
}

function buildItems(fleet: Fleet, groupsOnly: boolean): TargetItem[] {
  const inv = fleet.snapshot.inventory!;
  const health = (a: string) => fleet.health.get(a);
  const membersText = (members: readonly string[]) => {
    const down = members.filter((a) => unreachable(health(a))).length;
    return `${plural(members.length)}${down ? ` · ${down} unreachable` : ''}`;
  };
  const items: TargetItem[] = [{ label: 'Groups', kind: vscode.QuickPickItemKind.Separator }];
  for (const [name, members] of inv.groups) {
    items.push({ label: `$(folder-library) ${escapeIcons(name)}`, description: membersText(members), targets: { hosts: [...members], key: `group:${name}`, label: name } });
  }
  const all = inv.hosts.map((h) => h.alias);
  items.push({ label: '$(globe) All hosts', description: membersText(all), targets: { hosts: all, key: 'all', label: 'all hosts' } });
  if (groupsOnly) return items;
  items.push({ label: '$(checklist) Several hosts…', description: 'tick any number of hosts', several: true, alwaysShow: true });
  return [...items, ...hostItems(fleet)];
}

/**
 * A QuickPick whose items are rebuilt from the fleet whenever health changes (what is highlighted or
 * ticked stays so); the picker counts as a health consumer while open. Resolves to the accepted items.
 */
async function livePick(fleet: Fleet, opts: { title: string; placeHolder: string; many: boolean; items: () => TargetItem[] }): Promise<readonly TargetItem[] | undefined> {
  const qp = vscode.window.createQuickPick<TargetItem>();
  qp.title = opts.title;
  qp.placeholder = opts.placeHolder;
  qp.matchOnDescription = true;
  qp.canSelectMany = opts.many;
  qp.items = opts.items();
  const unsubscribe = fleet.health.subscribe();
  const key = (i: TargetItem) => i.alias ?? i.targets?.key ?? (i.several ? 'several' : i.label);
  const onHealth = fleet.onDidChangeHealth(() => {
    const active = new Set(qp.activeItems.map(key));
    const selected = new Set(qp.selectedItems.map(key));
    const items = opts.items();
    qp.items = items;
    qp.activeItems = items.filter((i) => active.has(key(i)));
    if (opts.many) qp.selectedItems = items.filter((i) => selected.has(key(i)));
  });
  try {
    return await new Promise<readonly TargetItem[] | undefined>((resolve) => {
      qp.onDidAccept(() => resolve(opts.many ? qp.selectedItems : qp.activeItems));
      qp.onDidHide(() => resolve(undefined));
      qp.show();
    });
  } finally {
    onHealth.dispose();
    unsubscribe();
    qp.dispose();
  }
}

/** The picker. Resolves undefined when dismissed. */
export async function pickTargets(fleet: Fleet, opts: PickOptions): Promise<Targets | undefined> {
  await fleet.ready;
  const inv = fleet.snapshot.inventory;
  if (!inv || !inv.hosts.length) {
    void vscode.window.showWarningMessage('Flotilla: no hosts yet — check the ssh config (Flotilla: Refresh).');
    return undefined;
  }
  const groupsOnly = !!opts.groupsOnly;
  const placeHolder = opts.placeHolder ?? (groupsOnly ? 'Which group?' : 'Which hosts?');
  const picked = await livePick(fleet, { title: opts.title, placeHolder, many: false, items: () => buildItems(fleet, groupsOnly) });
  let chosen: Targets | undefined;
  if (picked?.[0]?.several) {
    const ticked = await livePick(fleet, { title: opts.title, placeHolder: 'Tick the hosts (Space), then Enter', many: true, items: () => hostItems(fleet) });
    const hosts = ticked?.map((i) => i.alias).filter((a): a is string => !!a) ?? [];
    chosen = hosts.length ? hostTargets(hosts) : undefined;
  } else if (picked?.[0]) {
    chosen = picked[0].targets ?? (picked[0].alias ? hostTargets([picked[0].alias]) : undefined);
  }
  if (chosen && chosen.hosts.every((a) => unreachable(fleet.health.get(a)))) {
    const go = await vscode.window.showWarningMessage(
      `Flotilla: ${chosen.label} ${chosen.hosts.length === 1 ? 'is' : 'are'} unreachable now (${healthText(fleet.health.get(chosen.hosts[0]!))}).`,
      'Use Anyway',
    );
    if (go !== 'Use Anyway') return undefined;
  }
  return chosen;
}

/** Targets from a Hosts-tree invocation, else the picker. */
export async function resolveTargets(fleet: Fleet, node: HostsNode | undefined, selection: readonly HostsNode[] | undefined, opts: PickOptions): Promise<Targets | undefined> {
  if (node && typeof node === 'object' && 'kind' in node) {
    const t = targetsFromNodes(fleet, node, selection);
    if (t) return t;
  }
  return pickTargets(fleet, opts);
}
