// Task type `flotilla`: run a command on the least-loaded host of a target (or on all of it) from
// tasks.json, with the decision printed first and the remote output streamed into the task terminal.
import * as vscode from 'vscode';
import { expandTargets } from '../../core/config/inventory';
import { RunTerminal, type BalanceDeps, type Placement } from './runTerminal';

export const TASK_TYPE = 'flotilla';
/** Tasks may build for long; the user ends them with Terminate. (setTimeout caps at 2^31-1 ms.) */
export const TASK_TIMEOUT_MS = 24 * 3600 * 1000;

export interface FlotillaTaskDefinition extends vscode.TaskDefinition {
  type: 'flotilla';
  target: string;
  placement?: Placement;
  command: string;
  cwd?: string;
  push?: boolean;
}

/** What is wrong with a definition, or undefined when it is usable. */
export function definitionProblem(d: vscode.TaskDefinition): string | undefined {
  if (typeof d.target !== 'string' || !d.target.trim()) return '"target" must name a group ("group:build"), a host alias or "all"';
  if (typeof d.command !== 'string' || !d.command.trim()) return '"command" must be a non-empty shell command line';
  if (d.placement !== undefined && d.placement !== 'least-loaded' && d.placement !== 'all') return '"placement" must be "least-loaded" or "all"';
  if (d.cwd !== undefined && typeof d.cwd !== 'string') return '"cwd" must be a string';
  if (d.push !== undefined && typeof d.push !== 'boolean') return '"push" must be true or false';
  return undefined;
}

function folderOf(scope: vscode.Task['scope']): vscode.WorkspaceFolder | undefined {
  return scope && typeof scope === 'object' && 'uri' in scope ? scope : vscode.workspace.workspaceFolders?.[0];
}

/** A terminal that only reports a problem and closes with exit code 1. */
class ProblemTerminal implements vscode.Pseudoterminal {
  private readonly write = new vscode.EventEmitter<string>();
  private readonly closeEmitter = new vscode.EventEmitter<number>();
  readonly onDidWrite = this.write.event;
  readonly onDidClose = this.closeEmitter.event;
  constructor(private readonly text: string) {}
  open(): void {
    this.write.fire(`\x1b[31mFlotilla: ${this.text.replace(/\r?\n/g, '\r\n')}\x1b[0m\r\n`);
    this.closeEmitter.fire(1);
  }
  close(): void {}
}

export class FlotillaTaskProvider implements vscode.TaskProvider {
  constructor(private readonly deps: BalanceDeps) {}

  /** One task per group: the least-loaded host of the group shows its load (edit the command in tasks.json). */
  provideTasks(): vscode.Task[] {
    const inv = this.deps.fleet.snapshot.inventory;
    if (!inv) return [];
    return [...inv.groups.keys()].map((group) => {
      const definition: FlotillaTaskDefinition = { type: TASK_TYPE, target: `group:${group}`, placement: 'least-loaded', command: 'uptime' };
      return this.build(definition, vscode.TaskScope.Workspace, `least-loaded host of ${group}`);
    });
  }

  resolveTask(task: vscode.Task): vscode.Task | undefined {
    if (task.definition.type !== TASK_TYPE) return undefined;
    // The definition object must be the one passed in, or VS Code does not match it to tasks.json.
    return this.build(task.definition, task.scope ?? vscode.TaskScope.Workspace, task.name);
  }

  private build(definition: vscode.TaskDefinition, scope: vscode.WorkspaceFolder | vscode.TaskScope, name: string): vscode.Task {
    const task = new vscode.Task(
      definition,
      scope,
      name,
      TASK_TYPE,
      new vscode.CustomExecution(async (resolved) => this.terminalFor(resolved, scope)),
      // Given (even empty), VS Code does not ask on every run which problem matcher to scan the output with.
      [],
    );
    task.presentationOptions = { reveal: vscode.TaskRevealKind.Always, panel: vscode.TaskPanelKind.Dedicated, clear: true };
    return task;
  }

  private async terminalFor(d: vscode.TaskDefinition, scope: vscode.WorkspaceFolder | vscode.TaskScope): Promise<vscode.Pseudoterminal> {
    const problem = definitionProblem(d);
    if (problem) return new ProblemTerminal(`task definition: ${problem}`);
    const def = d as FlotillaTaskDefinition;
    const fleet = this.deps.fleet;
    await fleet.ready;
    if (!fleet.snapshot.inventory) return new ProblemTerminal(fleet.snapshot.problem?.message ?? 'the fleet could not be read');
    let hosts: string[];
    try {
      hosts = expandTargets(def.target.trim(), fleet.snapshot.inventory);
    } catch (err) {
      return new ProblemTerminal(err instanceof Error ? err.message : String(err));
    }
    let pushFrom: string | undefined;
    if (def.push) {
      const folder = folderOf(scope);
      if (!folder || folder.uri.scheme !== 'file') return new ProblemTerminal('"push": true needs a local workspace folder to push');
      pushFrom = folder.uri.fsPath;
    }
    return new RunTerminal(this.deps, {
      target: def.target.trim(),
      hosts,
      placement: def.placement ?? 'least-loaded',
      command: def.command,
      cwd: def.cwd?.trim() || undefined,
      pushFrom,
      timeoutMs: TASK_TIMEOUT_MS,
      origin: 'task',
    });
  }
}
