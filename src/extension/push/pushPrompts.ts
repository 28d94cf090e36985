// The questions a push or pull asks after the targets (hosts/targets.ts): which remote path (remembered per target, offered
// first, validated as it is typed) and, for pull, where to put the copies.
import * as vscode from 'vscode';
import { DestinationError, parseDestination } from '../../core/push/remotePath';
import { escapeIcons } from '../../core/text';
import type { Targets } from '../hosts/targets';

const MEMORY_KEY = 'flotilla.push.remotePathByTarget';

export interface PushSettings {
  exclude: string[];
  delete: boolean;
  maxDelete: number;
  remotePaths: Record<string, string>;
  root?: string;
}

export function readPushSettings(): PushSettings {
  const c = vscode.workspace.getConfiguration('flotilla.push');
  const root = c.get<string>('root', '').trim();
  const remotePaths = c.get<Record<string, unknown>>('remotePaths', {}) ?? {};
  return {
    exclude: (c.get<unknown[]>('exclude', []) ?? []).filter((p): p is string => typeof p === 'string' && p.trim() !== ''),
    delete: c.get<boolean>('delete', false) === true,
    maxDelete: Math.max(0, Math.floor(c.get<number>('maxDelete', 100))),
    remotePaths: Object.fromEntries(Object.entries(remotePaths).filter((e): e is [string, string] => typeof e[1] === 'string')),
    root: root || undefined,
  };
}

/** Validation message for a remote path, or undefined when it is acceptable. */
/** Why a typed remote path is refused (files may go straight into ~ or /, a folder never mirrors onto them). */
export function remotePathProblem(value: string, root: string | undefined, allowHome = false): string | undefined {
  try {
    parseDestination(value.trim(), { root, allowTop: allowHome });
    return undefined;
  } catch (err) {
    return err instanceof DestinationError ? err.message : String(err);
  }
}

/** Where remote paths are remembered: per target and local folder, and per target alone as a fallback. */
export class PathMemory {
  constructor(private readonly state: vscode.Memento) {}

  private all(): Record<string, string> {
    return this.state.get<Record<string, string>>(MEMORY_KEY, {});
  }

  recall(targetKey: string, localRoot: string): string[] {
    const all = this.all();
    return [all[`t:${targetKey}\0${localRoot}`], all[`t:${targetKey}`]].filter((p): p is string => !!p);
  }

  async remember(targetKey: string, localRoot: string, path: string): Promise<void> {
    const all = { ...this.all(), [`t:${targetKey}\0${localRoot}`]: path, [`t:${targetKey}`]: path };
    const keys = Object.keys(all);
    for (const k of keys.slice(0, Math.max(0, keys.length - 200))) delete all[k];
    await this.state.update(MEMORY_KEY, all);
  }
}

/** The settings' entry for a target: `group:web` → remotePaths.web, a single host → its alias, `all`. */
export function configuredPath(settings: PushSettings, targets: Targets): string | undefined {
  const key = targets.key.startsWith('group:') ? targets.key.slice(6) : targets.key === 'ungrouped' ? 'Ungrouped' : targets.key;
  return Object.prototype.hasOwnProperty.call(settings.remotePaths, key) ? settings.remotePaths[key] : undefined;
}

type PathItem = vscode.QuickPickItem & { path?: string };

/**
 * The remote path: remembered and configured paths are offered first (Enter takes the top one); "Other
 * path…" (or no remembered path at all) asks in an input box that validates as you type.
 */
export async function askRemotePath(opts: {
  title: string; prompt: string; settings: PushSettings; suggestions: Array<{ path: string; why: string }>; initial: string;
  /** Pushing files: `~/` and `/` themselves are fine destinations. */
  allowHome?: boolean;
}): Promise<string | undefined> {
  const seen = new Set<string>();
  const offered = opts.suggestions.filter((s) => {
    if (seen.has(s.path) || remotePathProblem(s.path, opts.settings.root, opts.allowHome)) return false;
    seen.add(s.path);
    return true;
  });
  let initial = opts.initial;
  if (offered.length) {
    const items: PathItem[] = [
      ...offered.map((s) => ({ label: `$(folder) ${escapeIcons(s.path)}`, description: s.why, path: s.path })),
      { label: '$(edit) Other path…', alwaysShow: true },
    ];
    const choice = await vscode.window.showQuickPick(items, { title: opts.title, placeHolder: 'Remote directory (remembered ones first)' });
    if (!choice) return undefined;
    if (choice.path) return choice.path;
    initial = offered[0]!.path;
  }
  const value = await vscode.window.showInputBox({
    title: opts.title,
    prompt: opts.prompt + (opts.settings.root ? ` (inside ${opts.settings.root})` : ''),
    placeHolder: '~/project or /srv/app',
    value: initial,
    ignoreFocusOut: true,
    validateInput: (v) => remotePathProblem(v, opts.settings.root, opts.allowHome),
  });
  return value === undefined ? undefined : value.trim();
}
