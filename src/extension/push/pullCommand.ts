// "Pull from Host/Group…": a remote file or directory from every chosen host into <dest>/<host>/<name>
// (default: the workspace's pulled/ folder). Existing local copies are only replaced after asking.
import * as vscode from 'vscode';
import { withProgressToast } from '../progress';
import { access } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { sanitizeForView } from '../../core/exec/output';
import { pull, type PullHostResult } from '../../core/push/pull';
import { parseDestination } from '../../core/push/remotePath';
import type { Fleet } from '../fleet';
import type { Pool } from '../../core/ssh/pool';
import type { HostsNode } from '../hosts/hostsTree';
import { resolveTargets } from '../hosts/targets';
import { askRemotePath, readPushSettings, type PathMemory } from './pushPrompts';
import { formatBytes } from './session';
import type { ReportProvider } from './report';

const exists = (p: string) => access(p).then(() => true, () => false);

export function renderPullReport(remote: string, dest: string, results: readonly PullHostResult[]): string {
  const lines = [`Flotilla pull: ${remote} → ${dest}/<host>/`, ''];
  for (const r of results) {
    const ok = r.results.filter((x) => x.ok).length;
    lines.push(`━━━━ ${r.host} · ${r.state} · ${ok} item(s), ${formatBytes(r.bytes)} → ${r.localPath}${r.reason ? ` · ${sanitizeForView(r.reason)}` : ''}`);
    for (const s of r.skipped) lines.push(`  skipped ${sanitizeForView(s.path)}: ${sanitizeForView(s.reason)}`);
    for (const x of r.results) if (!x.ok) lines.push(`  failed ${sanitizeForView(x.path)}: ${sanitizeForView(x.error ?? '')}`);
    lines.push('');
  }
  return lines.join('\n');
}

export async function pullCommand(fleet: Fleet, pool: Pool, memory: PathMemory, reports: ReportProvider, node?: HostsNode, selection?: readonly HostsNode[]): Promise<void> {
  const targets = await resolveTargets(fleet, node, selection, { title: 'Pull from…', placeHolder: 'Pull from which hosts?' });
  if (!targets?.hosts.length) return;
  const settings = readPushSettings();
  const ws = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const remote = await askRemotePath({
    title: `Pull from ${targets.label}`,
    prompt: 'Remote file or directory to copy back: absolute, or ~/ for the home directory',
    settings,
    suggestions: ws ? memory.recall(targets.key, ws).map((path) => ({ path, why: 'last pushed here' })) : [],
    initial: '~/',
  });
  if (!remote) return;
  const name = parseDestination(remote, { root: settings.root }).parts.at(-1)!;
  const base = ws ?? join(homedir(), 'flotilla-pulled');
  const destInput = await vscode.window.showInputBox({
    title: `Pull ${remote} from ${targets.label}`,
    prompt: `Local folder; each host's copy goes to <folder>/<host>/${name}${ws ? ' (relative paths are inside the workspace)' : ''}`,
    value: ws ? 'pulled' : base,
    ignoreFocusOut: true,
    validateInput: (v) => (v.trim() ? undefined : 'name a local folder'),
  });
  if (!destInput) return;
  const dest = isAbsolute(destInput.trim()) ? destInput.trim() : resolve(base, destInput.trim());
  const existing = (await Promise.all(targets.hosts.map(async (h) => ((await exists(join(dest, h, name))) ? h : undefined)))).filter((h): h is string => !!h);
  if (existing.length) {
    const go = await vscode.window.showWarningMessage(
      `Replace the local copies from ${existing.length} host(s)?`,
      { modal: true, detail: `${existing.map((h) => join(dest, h, name)).join('\n')}\n\nalready exist; files with the same names are overwritten (others are kept).` },
      'Overwrite',
    );
    if (go !== 'Overwrite') return;
  }
  const controller = new AbortController();
  const results = await withProgressToast(`Flotilla: pulling ${remote} from ${targets.label}`, (_p, token) => {
    token.onCancellationRequested(() => controller.abort());
    return pull(pool, targets.hosts, remote, dest, { signal: controller.signal, root: settings.root });
  });
  const uri = reports.putPullReport(renderPullReport(remote, dest, results));
  const bad = results.filter((r) => r.state !== 'ok');
  const text = `Flotilla: pulled ${remote} from ${results.length - bad.length}/${results.length} host(s) into ${dest}.`;
  const actions = ['Reveal in Explorer', 'Show Report'];
  const act = await (bad.length
    ? vscode.window.showErrorMessage(`${text} ${bad.map((r) => `${r.host}: ${r.state}${r.reason ? ` (${sanitizeForView(r.reason)})` : ''}`).join('; ')}`, ...actions)
    : vscode.window.showInformationMessage(text, ...actions));
  if (act === 'Reveal in Explorer') await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(dest));
  if (act === 'Show Report') await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri), { preview: true });
}
