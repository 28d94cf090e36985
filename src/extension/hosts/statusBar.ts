// `$(server) 12 up · 1 degraded · 2 down`; warning/error background when hosts are in trouble; a click
// lists the problem hosts with their reason and a next step.
import * as vscode from 'vscode';
import { summarizeHealth } from '../../core/health/probe';
import { fleetLevel } from '../../core/health/fleetLevel';
import { sanitizeForView } from '../../core/exec/output';
import type { Fleet } from '../fleet';

export function statusText(s: { up: number; degraded: number; down: number; checking: number }): string {
  const parts = [`${s.up} up`];
  if (s.degraded) parts.push(`${s.degraded} degraded`);
  if (s.down) parts.push(`${s.down} down`);
  if (s.checking) parts.push(`${s.checking} checking`);
  return `$(server) ${parts.join(' · ')}`;
}

export function createStatusBar(fleet: Fleet): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('flotilla.health', vscode.StatusBarAlignment.Left, 50);
  item.name = 'Flotilla fleet health';
  item.command = 'flotilla.showProblemHosts';
  const update = () => {
    if (!fleet.inventory && !fleet.loadError) {
      // Shown at once while the ssh config is read: the user sees Flotilla is there (the `activation` benchmark).
      item.text = '$(sync~spin) Flotilla';
      item.tooltip = 'Flotilla: reading the ssh config…';
      item.show();
      return;
    }
    const hosts = fleet.aliases.map((a) => fleet.health.get(a)).filter((h) => !!h);
    const s = summarizeHealth(hosts);
    item.text = statusText(s);
    const c = vscode.workspace.getConfiguration('flotilla.health');
    const level = fleetLevel(hosts, { errorShare: c.get<number>('errorShare', 0.5), important: c.get<string[]>('importantHosts', []) });
    item.tooltip = `Flotilla: ${s.up} up, ${s.degraded} degraded, ${s.down} down (${level.rule}) — click for the problem hosts`;
    item.backgroundColor = level.level === 'ok' ? undefined : new vscode.ThemeColor(`statusBarItem.${level.level}Background`);
    if (fleet.aliases.length) item.show();
    else item.hide();
  };
  const sub = fleet.onDidChange(update);
  update();
  return vscode.Disposable.from(item, sub);
}

export async function showProblemHosts(fleet: Fleet): Promise<void> {
  type Pick = vscode.QuickPickItem & { alias: string; action: string };
  const items: Pick[] = [];
  for (const alias of fleet.aliases) {
    const h = fleet.health.get(alias);
    if (!h || h.state === 'online' || h.state === 'checking') continue;
    const unknownKey = h.hostKey?.verdict.kind === 'unknown';
    const action = unknownKey ? 'Review Host Keys' : h.state === 'offline' ? 'Check Now' : h.hostKey ? 'Open ssh Config' : 'Check Now';
    items.push({
      label: `$(${h.state === 'offline' ? 'error' : 'warning'}) ${alias}`,
      description: h.state,
      detail: `${sanitizeForView(h.reason ?? '')} — ${action}`,
      alias,
      action,
    });
  }
  if (!items.length) {
    void vscode.window.showInformationMessage('Flotilla: every host is online.');
    return;
  }
  const pick = await vscode.window.showQuickPick(items, { title: 'Flotilla: hosts that need attention', matchOnDetail: true });
  if (!pick) return;
  if (pick.action === 'Review Host Keys') await vscode.commands.executeCommand('flotilla.reviewHostKeys');
  else if (pick.action === 'Open ssh Config') await vscode.commands.executeCommand('flotilla.openSshConfig', { kind: 'host', alias: pick.alias });
  else await fleet.checkHost(pick.alias);
}
