// "Flotilla: Fleet Report" and "Compare with Hosts…" (drift of a folder, shown in the report).
import * as vscode from 'vscode';
import { withProgressToast } from '../progress';
import { analyzeDrift } from '../../core/report/drift';
import { registerCommand } from '../commands/register';
import type { Fleet } from '../fleet';
import type { Pool } from '../../core/ssh/pool';
import { pickTargets } from '../hosts/targets';
import { askRemotePath, configuredPath, PathMemory, readPushSettings } from '../push/pushPrompts';
import { ReportPanel } from './reportPanel';

export function registerReport(context: vscode.ExtensionContext, fleet: Fleet, pool: Pool): { panel(): ReportPanel | undefined } {
  let panel: ReportPanel | undefined;
  const open = () => {
    panel ??= new ReportPanel(fleet, pool, () => { panel = undefined; });
    panel.reveal();
    return panel;
  };
  const memory = new PathMemory(context.globalState);
  context.subscriptions.push(
    registerCommand('flotilla.fleetReport', () => { open(); }),
    registerCommand('flotilla.compareWithHosts', async (uri?: vscode.Uri) => {
      const folder = uri?.scheme === 'file' ? uri : vscode.workspace.workspaceFolders?.[0]?.uri;
      if (!folder) throw new Error('open a folder first (or use Compare with Hosts… on a folder in the Explorer)');
      const targets = await pickTargets(fleet, { title: `Compare ${folder.fsPath} with…`, placeHolder: 'Group or host' });
      if (!targets) return;
      const settings = readPushSettings();
      const suggestions = [
        ...memory.recall(targets.key, folder.fsPath).map((path) => ({ path, why: 'last push' })),
        ...[configuredPath(settings, targets)].filter((p): p is string => !!p).map((path) => ({ path, why: 'flotilla.push.remotePaths' })),
      ];
      const remote = await askRemotePath({ title: 'Compare with which remote folder?', prompt: 'Remote folder to compare (nothing is written)', settings, suggestions, initial: '~/' });
      if (!remote) return;
      const drift = await withProgressToast(
        `Comparing with ${targets.label} (dry run)…`,
        (_p, token) => {
          const abort = new AbortController();
          token.onCancellationRequested(() => abort.abort());
          return analyzeDrift(pool, targets.hosts, folder.fsPath, remote, { exclude: settings.exclude, root: settings.root, signal: abort.signal });
        },
      );
      const p = open();
      p.drift = drift;
      await p.redraw();
    }),
    { dispose: () => panel?.close() },
  );
  return { panel: () => panel };
}
