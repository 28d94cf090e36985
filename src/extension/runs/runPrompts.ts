// The questions Run Command… asks: which hosts, which command (recent ones offered), and the options
// step (working directory remembered per target, timeout). Each returns undefined when dismissed.
import * as vscode from 'vscode';
import { compareHostNames } from '../../core/exec/output';
import type { Fleet } from '../fleet';
import type { HostsNode } from '../hosts/hostsTree';
import { selectedAliases } from '../hosts/hostCommands';
import { targetKeyFor } from './runModel';
import type { RunMemory } from './runMemory';

export interface Targets {
  hosts: string[];
  /** `group:web`, `all` or the host list: names the target in titles and keys remembered options. */
  key: string;
  label: string;
}

/** QuickPick labels render `$(name)` as an icon; user text must show literally. */
export function escapeIcons(text: string): string {
  return text.replace(/\$\(/g, '\\$(');
}

function plural(n: number, what = 'host'): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

/** Members of a Hosts-tree group node ("Ungrouped" = hosts in no group). */
export function groupMembers(fleet: Fleet, node: Extract<HostsNode, { kind: 'group' }>): string[] {
  const inv = fleet.inventory;
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
  return { hosts: list, key: targetKeyFor(list), label: list.length <= 3 ? list.join(', ') : plural(list.length) };
}

type TargetItem = vscode.QuickPickItem & { targets?: Targets };

/** Palette: groups (with member counts), "All hosts", then single hosts. */
export async function pickTargets(fleet: Fleet, title: string, groupsOnly = false): Promise<Targets | undefined> {
  const inv = fleet.inventory;
  if (!inv || !inv.hosts.length) {
    void vscode.window.showWarningMessage('Flotilla: no hosts yet — check the ssh config (Flotilla: Refresh).');
    return undefined;
  }
  const items: TargetItem[] = [{ label: 'Groups', kind: vscode.QuickPickItemKind.Separator }];
  for (const [name, members] of inv.groups) {
    items.push({ label: `$(folder-library) ${escapeIcons(name)}`, description: plural(members.length), targets: { hosts: [...members], key: `group:${name}`, label: name } });
  }
  const all = inv.hosts.map((h) => h.alias);
  items.push({ label: '$(globe) All hosts', description: plural(all.length), targets: { hosts: all, key: 'all', label: 'all hosts' } });
  if (!groupsOnly) {
    items.push({ label: 'Hosts', kind: vscode.QuickPickItemKind.Separator });
    for (const alias of [...all].sort(compareHostNames)) {
      const r = fleet.resolved.get(alias);
      items.push({ label: `$(server) ${escapeIcons(alias)}`, description: r ? `${r.user}@${r.hostname}:${r.port}` : undefined, targets: { hosts: [alias], key: alias, label: alias } });
    }
  }
  const choice = await vscode.window.showQuickPick(items, { title, placeHolder: 'Run on which hosts?', matchOnDescription: true });
  return choice?.targets;
}

type CommandItem = vscode.QuickPickItem & { command?: string };

/** Recent commands first ("type a new one" on top); the choice is then editable in an input box. */
export async function askCommand(memory: RunMemory, targets: Targets): Promise<string | undefined> {
  const recent = memory.recentCommands();
  let initial = '';
  if (recent.length) {
    const items: CommandItem[] = [
      { label: '$(edit) Type a new command…', alwaysShow: true },
      { label: 'Recent', kind: vscode.QuickPickItemKind.Separator },
      ...recent.map((command) => ({ label: escapeIcons(command.replace(/\n/g, ' ⏎ ')), command })),
    ];
    const choice = await vscode.window.showQuickPick(items, { title: `Run on ${targets.label} (${plural(targets.hosts.length)})`, placeHolder: 'A recent command, or type a new one' });
    if (!choice) return undefined;
    initial = choice.command ?? '';
  }
  const command = await vscode.window.showInputBox({
    title: `Run on ${targets.label} (${plural(targets.hosts.length)})`,
    prompt: 'Shell command line, run by /bin/sh on every host',
    placeHolder: 'e.g. uptime; df -h /',
    value: initial,
    ignoreFocusOut: true,
    validateInput: (v) => (v.trim() ? (v.includes('\0') ? 'the command cannot contain NUL' : undefined) : 'type a command'),
  });
  return command?.trim() ? command : undefined;
}

export interface RunOptions {
  cwd?: string;
  timeoutMs: number;
}

type OptionItem = vscode.QuickPickItem & { action: 'run' | 'cwd' | 'timeout' };

/** Last step: Enter runs; picking an option changes it and comes back here. */
export async function confirmOptions(memory: RunMemory, targets: Targets, command: string, defaultTimeoutMs: number): Promise<RunOptions | undefined> {
  const opts: RunOptions = { cwd: memory.cwdFor(targets.key), timeoutMs: defaultTimeoutMs };
  for (;;) {
    const items: OptionItem[] = [
      { action: 'run', label: `$(play) Run on ${plural(targets.hosts.length)}`, description: escapeIcons(targets.label) },
      { action: 'cwd', label: '$(folder) Working directory', description: opts.cwd ? escapeIcons(opts.cwd) : 'home directory' },
      { action: 'timeout', label: '$(watch) Timeout', description: `${Math.round(opts.timeoutMs / 1000)} s` },
    ];
    const choice = await vscode.window.showQuickPick(items, { title: `Run: ${command.replace(/\s+/g, ' ').slice(0, 80)}`, placeHolder: 'Enter to run, or change an option' });
    if (!choice) return undefined;
    if (choice.action === 'run') {
      await memory.rememberCwd(targets.key, opts.cwd);
      return opts;
    }
    if (choice.action === 'cwd') {
      const cwd = await vscode.window.showInputBox({
        title: 'Working directory on each host',
        prompt: 'Absolute, ~/relative or relative to the home directory; empty for the home directory',
        value: opts.cwd ?? '',
        validateInput: (v) => (/^~[^/]/.test(v.trim()) ? '~user paths are not supported' : v.includes('\0') ? 'no NUL bytes' : undefined),
      });
      if (cwd !== undefined) opts.cwd = cwd.trim() || undefined;
    } else {
      const secs = await vscode.window.showInputBox({
        title: 'Timeout in seconds',
        value: String(Math.round(opts.timeoutMs / 1000)),
        validateInput: (v) => (/^\d+$/.test(v.trim()) && +v > 0 ? undefined : 'a whole number of seconds, at least 1'),
      });
      if (secs !== undefined) opts.timeoutMs = Number(secs.trim()) * 1000;
    }
  }
}
