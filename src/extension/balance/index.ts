// "Run on Least-Loaded Host…" and the `flotilla` task type. main.ts calls registerBalance once.
import * as vscode from 'vscode';
import { inStatusBar } from '../progress';
import { registerCommand } from '../commands/register';
import type { Decision, PlaceOptions, ScoredCandidate } from '../../core/balance/place';
import { decidePlacement } from '../../core/jobs/placement';
import type { RunStore } from '../../core/jobs/store';
import { sanitizeForView } from '../../core/exec/output';
import { defaultTimeoutMs } from '../runs/executeRun';
import { RunMemory } from '../runs/runMemory';
import { escapeIcons } from '../../core/text';
import { groupMembers, pickTargets, type Targets } from '../hosts/targets';
import { askCommand } from '../runs/runPrompts';
import type { Fleet } from '../fleet';
import type { Pool } from '../../core/ssh/pool';
import type { HostsNode } from '../hosts/hostsTree';
import { RunTerminal, type BalanceDeps } from '../tasks/runTerminal';
import { FlotillaTaskProvider, TASK_TYPE } from '../tasks/taskProvider';

/** flotilla.balance.* settings as place options. */
export function readPlaceOptions(): Omit<PlaceOptions, 'herd' | 'now'> {
  const c = vscode.workspace.getConfiguration('flotilla.balance');
  const w = c.get<{ cpu?: number; mem?: number; disk?: number }>('weights', {});
  const memMb = c.get<number>('minMemAvailableMb', 0);
  return {
    weights: { cpu: w.cpu, mem: w.mem, disk: w.disk },
    hardLimits: {
      maxLoadPerCore: c.get<number>('maxLoadPerCore', 4) || undefined,
      minMemAvailableKb: memMb > 0 ? memMb * 1024 : undefined,
      maxDiskUsedPct: c.get<number>('maxDiskUsedPercent', 98) || undefined,
    },
  };
}

function herdDecayMs(): number {
  return Math.max(0, vscode.workspace.getConfiguration('flotilla.balance').get<number>('herdDecaySeconds', 20)) * 1000;
}

function pct(n: number | null): string {
  return n === null ? '-' : `${Math.round(n * 100)}%`;
}

type HostItem = vscode.QuickPickItem & { host?: string };

const EXPLAIN_SCHEME = 'flotilla-placement';

/** "Explain Least-Loaded Choice…" documents: read-only, kept while the window lives (a few KB each). */
class ExplanationDocs implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly texts = new Map<string, string>();
  private next = 1;

  add(label: string, text: string): vscode.Uri {
    const uri = vscode.Uri.from({ scheme: EXPLAIN_SCHEME, path: `/${this.next++}/least-loaded ${label.replace(/[/\\]/g, '_')}.txt` });
    this.texts.set(uri.path, text);
    return uri;
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.path) ?? '(this explanation is no longer available: run Explain Least-Loaded Choice… again)\n';
  }

  dispose(): void {
    this.texts.clear();
  }
}

/** The decision as a QuickPick: the choice first (Enter runs there), other eligible hosts, then the excluded ones. */
async function confirmDecision(decision: Decision, targets: Targets, command: string): Promise<string | undefined> {
  const row = (c: ScoredCandidate): HostItem => ({
    host: c.excluded ? undefined : c.host,
    label: `${c.host === decision.chosen ? '$(star-full)' : c.excluded ? '$(circle-slash)' : '$(server)'} ${escapeIcons(c.host)}`,
    description: c.excluded
      ? 'excluded'
      : `score ${c.score!.toFixed(3)} · cpu ${pct(c.cpu)} (load ${c.detail!.loadPerCore.toFixed(2)}/core) · mem ${pct(c.mem)} · disk ${pct(c.disk)}`,
    detail: c.excluded ? escapeIcons(c.excluded) : c.host === decision.chosen ? `${escapeIcons(why)} — Enter runs here` : undefined,
  });
  const why = decision.explanation.split('\n').pop() ?? '';
  const eligible = decision.candidates.filter((c) => !c.excluded).sort((a, b) => a.score! - b.score!);
  const excluded = decision.candidates.filter((c) => c.excluded);
  const items: HostItem[] = [
    ...eligible.map(row),
    ...(excluded.length ? [{ label: 'Excluded', kind: vscode.QuickPickItemKind.Separator } as HostItem, ...excluded.map(row)] : []),
  ];
  for (;;) {
    const pick = await vscode.window.showQuickPick(items, {
      title: `Run "${command.length > 40 ? `${command.slice(0, 40)}…` : command}" on the least-loaded host of ${targets.label}`,
      placeHolder: 'Enter runs on the highlighted host; the first is the least loaded',
      matchOnDescription: true,
      ignoreFocusOut: true,
    });
    if (!pick) return undefined;
    if (pick.host) return pick.host;
    void vscode.window.showWarningMessage(`Flotilla: ${pick.label.replace(/^\$\([^)]*\) /, '')} is excluded: ${pick.detail ?? ''}`);
  }
}

async function targetsFromArg(fleet: Fleet, node: HostsNode | undefined): Promise<Targets | undefined> {
  if (node?.kind === 'group') {
    return { hosts: groupMembers(fleet, node), key: node.ungrouped ? 'ungrouped' : `group:${node.name}`, label: node.ungrouped ? 'Ungrouped' : node.name };
  }
  return pickTargets(fleet, { title: 'Run on the least-loaded host of…', groupsOnly: true });
}

export function registerBalance(context: vscode.ExtensionContext, fleet: Fleet, pool: Pool, store: RunStore, log?: vscode.LogOutputChannel): void {
  const deps: BalanceDeps = { fleet, pool, store, herdDecayMs, placeOptions: readPlaceOptions, log };
  // Recent choices of every process using the store (the CLI, agents, other windows) weigh on the decision;
  // a preview records nothing, the run records the host the user confirms.
  const preview = (hosts: readonly string[], diskPath?: string) => decidePlacement(
    { pool, storeRoot: store.root, connectTimeoutMs: fleet.settings.connectTimeoutSeconds * 1000, metrics: fleet.health.metrics, check: (alias) => fleet.checkHost(alias) },
    hosts,
    { options: readPlaceOptions(), herd: { decayMs: herdDecayMs() }, diskPath, record: false },
  );
  const memory = new RunMemory(context.globalState);
  const explanations = new ExplanationDocs();

  const runOnLeastLoaded = async (node?: HostsNode) => {
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage('Flotilla: runs are disabled in Restricted Mode. Trust the workspace to run commands.');
      return;
    }
    const targets = await targetsFromArg(fleet, node);
    if (!targets) return;
    if (!targets.hosts.length) {
      void vscode.window.showWarningMessage(`Flotilla: ${targets.label} has no hosts.`);
      return;
    }
    const command = await askCommand(memory, targets, 'Run on the least-loaded host of');
    if (!command) return;
    await memory.rememberCommand(command);
    const cwd = memory.cwdFor(targets.key);
    // In the status bar: a warm measurement is done long before a toast may close, and its result is the next step.
    const decision = await inStatusBar(`Flotilla: measuring ${targets.hosts.length} hosts of ${targets.label}…`, () => preview(targets.hosts, cwd));
    if (!decision) return;
    if (!decision.chosen) {
      void vscode.window.showErrorMessage(`Flotilla: no host of ${targets.label} can take this run. ${decision.explanation.split('\n').pop() ?? ''}`);
      return;
    }
    const host = await confirmDecision(decision, targets, command);
    if (!host) return;
    const terminal = vscode.window.createTerminal({
      name: `Flotilla: ${host}`,
      iconPath: new vscode.ThemeIcon('rocket'),
      pty: new RunTerminal(deps, {
        target: targets.label,
        hosts: targets.hosts,
        placement: 'least-loaded',
        command,
        cwd,
        timeoutMs: defaultTimeoutMs(),
        origin: 'extension',
        decision,
        chosen: host,
      }),
    });
    terminal.show();
  };

  /** The decision for a group without running anything: the table and the why, in a plain-text editor. */
  const explainPlacement = async (node?: HostsNode) => {
    const targets = await targetsFromArg(fleet, node);
    if (!targets?.hosts.length) return;
    const decision = await inStatusBar(`Flotilla: measuring ${targets.hosts.length} hosts of ${targets.label}…`, () => preview(targets.hosts));
    const header = `Least-loaded choice for ${targets.label} at ${new Date(decision.decidedAt).toLocaleTimeString()}\n\n`;
    // A read-only document of its own scheme: nothing to save when it is closed.
    const uri = explanations.add(targets.label, header + sanitizeForView(decision.explanation) + '\n');
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc, { preview: true });
  };

  context.subscriptions.push(
    explanations,
    vscode.workspace.registerTextDocumentContentProvider(EXPLAIN_SCHEME, explanations),
    registerCommand('flotilla.explainPlacement', (node?: HostsNode) => explainPlacement(node)),
    registerCommand('flotilla.runOnLeastLoaded', (node?: HostsNode) => runOnLeastLoaded(node)),
    vscode.tasks.registerTaskProvider(TASK_TYPE, new FlotillaTaskProvider(deps)),
  );
}
