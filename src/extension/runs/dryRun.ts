// "Dry Run: Show Targets": who a run would reach — resolved user@host:port and the last health verdict —
// without running anything.
import * as vscode from 'vscode';
import { compareHostNames, sanitizeForView } from '../../core/exec/output';
import type { Fleet } from '../fleet';
import { escapeIcons } from '../../core/text';
import type { Targets } from '../hosts/targets';

export interface DryRunLine {
  host: string;
  address: string;
  reachable: 'yes' | 'degraded' | 'no' | 'unknown';
  detail: string;
}

export function dryRunLines(fleet: Fleet, hosts: readonly string[]): DryRunLine[] {
  return [...hosts].sort(compareHostNames).map((host) => {
    const r = fleet.snapshot.resolved.get(host);
    const h = fleet.health.get(host);
    const address = r ? `${r.user}@${r.hostname}:${r.port}${r.proxyJump ? ` via ${r.proxyJump}` : ''}` : 'not in the ssh config';
    const reason = h?.reason ? sanitizeForView(h.reason).split('\n')[0]! : '';
    if (!h || h.state === 'checking') return { host, address, reachable: 'unknown', detail: 'not checked yet' };
    if (h.state === 'online') return { host, address, reachable: 'yes', detail: 'reachable' };
    if (h.state === 'degraded') return { host, address, reachable: 'degraded', detail: `reachable, but ${reason || 'degraded'}` };
    if (h.state === 'unusable') return { host, address, reachable: 'no', detail: `answers, but cannot be used: ${reason || 'login refused'}` };
    return { host, address, reachable: 'no', detail: `not reachable: ${reason || 'offline'}` };
  });
}

const ICON: Record<DryRunLine['reachable'], string> = { yes: '$(pass-filled)', degraded: '$(warning)', no: '$(debug-disconnect)', unknown: '$(question)' };

type Item = vscode.QuickPickItem & { runNow?: boolean };

/** Shows the targets; resolves true when the user asks to go on and run a command on them. */
export async function showDryRun(fleet: Fleet, targets: Targets): Promise<boolean> {
  const lines = dryRunLines(fleet, targets.hosts);
  const reachable = lines.filter((l) => l.reachable === 'yes' || l.reachable === 'degraded').length;
  const items: Item[] = [
    { label: `$(play) Run a command on these ${lines.length} hosts…`, runNow: true, alwaysShow: true },
    { label: 'Targets', kind: vscode.QuickPickItemKind.Separator },
    ...lines.map((l) => ({ label: `${ICON[l.reachable]} ${escapeIcons(l.host)}`, description: escapeIcons(l.address), detail: escapeIcons(l.detail) })),
  ];
  const choice = await vscode.window.showQuickPick(items, {
    title: `Dry run on ${targets.label}: ${lines.length} host${lines.length === 1 ? '' : 's'}, ${reachable} reachable — nothing was run`,
    matchOnDescription: true,
    matchOnDetail: true,
  });
  return !!choice?.runNow;
}
