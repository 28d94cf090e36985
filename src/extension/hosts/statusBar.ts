// `$(server) 12 up · 1 degraded · 1 unusable · 2 down`; warning/error background when hosts are in trouble; a click
// lists the problem hosts with their reason and a next step.
import * as vscode from 'vscode';
import { summarizeHealth, type HealthSummary } from '../../core/health/probe';
import { fleetLevel } from '../../core/health/fleetLevel';
import { escapeIcons, oneLine } from '../../core/text';
import type { Fleet } from '../fleet';

export function statusText(s: HealthSummary, keysToReview = 0): string {
  const parts = [`${s.up} up`];
  if (s.degraded) parts.push(`${s.degraded} degraded`);
  if (s.unusable) parts.push(`${s.unusable} unusable`);
  if (s.down) parts.push(`${s.down} down`);
  if (s.checking) parts.push(`${s.checking} checking`);
  // The host-key toast goes away by itself; this stays until the keys are reviewed.
  if (keysToReview) parts.push(`$(key) ${keysToReview} key${keysToReview === 1 ? '' : 's'} to review`);
  return `$(server) ${parts.join(' · ')}`;
}

function unknownKeys(fleet: Fleet): number {
  return fleet.health.snapshot().filter((h) => h.hostKey?.verdict.kind === 'unknown').length;
}

const STARTING_TEXT = '$(sync~spin) Flotilla';

/**
 * The status-bar item, created and shown with its starting text: the first thing Flotilla puts on screen
 * (the `activation` benchmark times it). Every property is set before show(), which sends it once.
 */
export function showStatusItem(): vscode.StatusBarItem {
  const item = vscode.window.createStatusBarItem('flotilla.health', vscode.StatusBarAlignment.Left, 50);
  item.name = 'Flotilla fleet health';
  item.command = 'flotilla.showProblemHosts';
  item.text = STARTING_TEXT;
  item.tooltip = 'Flotilla: reading the ssh config…';
  item.show();
  return item;
}

/** Keeps the item (from showStatusItem; the caller disposes it) in step with the fleet's health. */
export function createStatusBar(fleet: Fleet, item: vscode.StatusBarItem): vscode.Disposable {
  const update = () => {
    // Until the ssh config has been read the item keeps its starting text.
    if (!fleet.snapshot.inventory && !fleet.snapshot.problem) return;
    const hosts = fleet.aliases.map((a) => fleet.health.get(a)).filter((h) => !!h);
    const s = summarizeHealth(fleet.health.snapshot());
    const keys = unknownKeys(fleet);
    item.text = statusText(s, keys);
    const c = vscode.workspace.getConfiguration('flotilla.health');
    const level = fleetLevel(hosts, { errorShare: c.get<number>('errorShare', 0.5), important: c.get<string[]>('importantHosts', []) });
    item.tooltip = `Flotilla: ${s.up} up, ${s.degraded} degraded, ${s.unusable} unusable (auth failed or host key), ${s.down} down${keys ? `, ${keys} unknown host key${keys === 1 ? '' : 's'} to review` : ''} (${level.rule}) — click for the problem hosts`;
    item.backgroundColor = level.level === 'ok' ? undefined : new vscode.ThemeColor(`statusBarItem.${level.level}Background`);
    if (fleet.aliases.length) item.show();
    else item.hide();
  };
  const subs = [fleet.onDidChange(update), fleet.onDidChangeHealth(update), showHealthWhileWindowFocused(fleet)];
  update();
  return vscode.Disposable.from(...subs);
}

/** How long an unfocused window keeps probing: someone may still be looking at its status bar. */
const UNFOCUSED_GRACE_MS = 60_000;

/**
 * The status bar is a health consumer while its window is in use: subscribed from the start and while
 * focused, released once the window has been unfocused for a while.
 */
function showHealthWhileWindowFocused(fleet: Fleet): vscode.Disposable {
  let unsubscribe: (() => void) | undefined = fleet.health.subscribe();
  let timer: NodeJS.Timeout | undefined;
  const sub = vscode.window.onDidChangeWindowState((state) => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (state.focused) unsubscribe ??= fleet.health.subscribe();
    else {
      timer = setTimeout(() => {
        unsubscribe?.();
        unsubscribe = undefined;
      }, Math.max(UNFOCUSED_GRACE_MS, fleet.settings.intervalSeconds * 1000));
    }
  });
  return { dispose: () => { if (timer) clearTimeout(timer); sub.dispose(); unsubscribe?.(); } };
}

export async function showProblemHosts(fleet: Fleet): Promise<void> {
  type Pick = vscode.QuickPickItem & { alias: string; action: string };
  const items: Pick[] = [];
  for (const alias of fleet.aliases) {
    const h = fleet.health.get(alias);
    if (!h || h.state === 'online' || h.state === 'checking') continue;
    const unknownKey = h.hostKey?.verdict.kind === 'unknown';
    const action = unknownKey ? 'Review Host Keys' : h.state === 'offline' ? 'Check Now' : h.hostKey ? 'Open ssh Config' : 'Check Now';
    // The action comes first: a long reason is cut at the end of the line, never the next step.
    items.push({
      label: `$(${h.state === 'degraded' ? 'warning' : 'error'}) ${escapeIcons(alias)}`,
      description: `${h.state} → ${action}`,
      detail: escapeIcons(oneLine(h.reason ?? '', 300)),
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
  else await checkAndReport(fleet, [pick.alias]);
}

/** Probes hosts now and says what was found: a check never ends in silence. */
export async function checkAndReport(fleet: Fleet, aliases: readonly string[]): Promise<void> {
  const results = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: `Flotilla: checking ${aliases.length === 1 ? aliases[0] : `${aliases.length} hosts`}` },
    () => fleet.health.check(aliases),
  );
  if (results.length === 1) {
    const h = results[0]!;
    const text = `Flotilla: ${h.alias} is ${h.state}${h.reason && h.state !== 'online' ? ` — ${oneLine(h.reason, 200)}` : ''}`;
    // Like the tree: degraded is a warning; offline and unusable (nothing can be done on it) are errors.
    if (h.state === 'online') void vscode.window.showInformationMessage(text);
    else if (h.state === 'degraded') void vscode.window.showWarningMessage(text);
    else void vscode.window.showErrorMessage(text);
    return;
  }
  const s = summarizeHealth(results);
  void vscode.window.showInformationMessage(`Flotilla: checked ${results.length} hosts — ${statusText(s).replace('$(server) ', '')}`);
}
