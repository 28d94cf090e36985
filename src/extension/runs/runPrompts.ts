// The questions Run Command… asks after the targets (hosts/targets.ts): which command (recent ones
// offered, or the text typed), and the options step (working directory remembered per target,
// timeout). Each returns undefined when dismissed.
import * as vscode from 'vscode';
import { escapeIcons, oneLine } from '../../core/text';
import { plural, type Targets } from '../hosts/targets';
import type { RunMemory } from './runMemory';

type CommandItem = vscode.QuickPickItem & { command?: string; typeNew?: boolean };

/**
 * Recent commands first, filtered by what is typed; Enter on a recent one takes it, Enter on "Type a
 * new command…" (or with text matching nothing) takes the typed text. Either way the command is then
 * shown in an input box to edit before it runs.
 */
export async function askCommand(memory: RunMemory, targets: Targets, titlePrefix = 'Run on'): Promise<string | undefined> {
  const title = `${titlePrefix} ${targets.label} (${plural(targets.hosts.length)})`;
  const recent = memory.recentCommands();
  let initial = '';
  if (recent.length) {
    const qp = vscode.window.createQuickPick<CommandItem>();
    qp.title = title;
    qp.placeholder = 'A recent command, or type a new one';
    qp.items = [
      { label: '$(edit) Type a new command…', alwaysShow: true, typeNew: true },
      { label: 'Recent', kind: vscode.QuickPickItemKind.Separator },
      ...recent.map((command) => ({ label: escapeIcons(oneLine(command, 200)), command })),
    ];
    const choice = await new Promise<string | undefined>((resolve) => {
      qp.onDidAccept(() => {
        const item = qp.activeItems[0];
        resolve(item?.command ?? qp.value);
      });
      qp.onDidHide(() => resolve(undefined));
      qp.show();
    });
    qp.dispose();
    if (choice === undefined) return undefined;
    initial = choice;
  }
  const command = await vscode.window.showInputBox({
    title,
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
