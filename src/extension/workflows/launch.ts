// Running a workflow from the editor: read and plan it in the core, ask for missing params and before
// every `confirm: true` stage (a modal naming the stage's hosts and steps), show progress per stage and
// host in a cancellable notification and in the Workflows view, then the outcome. Export to Ansible reads
// and asks the same way.
import { dirname } from 'node:path';
import * as vscode from 'vscode';
import { withProgressToast } from '../progress';
import { exportWorkflowToAnsible } from '../../core/ansible/playbook';
import { expandTargets } from '../../core/config/inventory';
import { sanitizeForView } from '../../core/exec/output';
import { newRunId } from '../../core/exec/run';
import type { RunStore } from '../../core/jobs/store';
import type { Workflow } from '../../core/workflows/model';
import { WorkflowFileError } from '../../core/workflows/parse';
import { PlanError, planWorkflow, type Plan, type StagePlan } from '../../core/workflows/plan';
import type { WorkflowDoc } from '../../core/workflows/record';
import { hostCounts, planText, scanPushSources, workflowText } from '../../core/workflows/report';
import { startWorkflow, type WorkflowRun } from '../../core/workflows/runner';
import { loadWorkflow } from '../../core/workflows/templates';
import { VarError } from '../../core/workflows/vars';
import type { Fleet } from '../fleet';
import type { Pool } from '../../core/ssh/pool';
import { saveAnsibleExport } from './ansibleExport';
import type { WorkflowsTree } from './workflowsTree';

const one = (s: string) => sanitizeForView(s).replace(/\s*\n\s*/g, ' ');

async function showFileError(err: WorkflowFileError): Promise<void> {
  const first = err.problems[0]!;
  const more = err.problems.length > 1 ? ` (and ${err.problems.length - 1} more)` : '';
  const pick = await vscode.window.showErrorMessage(`Flotilla: ${err.file}:${first.line}:${first.col}: ${first.message}${more}`, 'Open');
  if (pick !== 'Open' || err.file.startsWith('builtin:')) return;
  const pos = new vscode.Position(first.line - 1, first.col - 1);
  await vscode.window.showTextDocument(vscode.Uri.file(err.file), { selection: new vscode.Range(pos, pos) });
}

function stageDetail(stage: StagePlan): string {
  const batches = stage.batches.length > 1 ? `${stage.batches.length} batches: ${stage.batches.map((b) => b.join(', ')).join(' → ')}` : `all at once: ${stage.hosts.join(', ')}`;
  const steps = stage.steps.map((s) => `${s.index + 1}. ${s.kind}: ${one(s.label)}`).join('\n');
  const rollback = stage.onFailure.length ? `\non failure: ${stage.onFailure.map((s) => one(s.label)).join('; ')}` : '';
  return `${stage.hosts.length} host(s), ${batches}; stops when more than ${stage.maxFail} fail.\n${steps}${rollback}`;
}

export class WorkflowLauncher {
  private readonly running = new Map<string, WorkflowRun>();

  constructor(
    private readonly fleet: Fleet,
    private readonly pool: Pool,
    private readonly store: RunStore,
    private readonly tree: WorkflowsTree,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  cancel(id: string): boolean {
    const run = this.running.get(id);
    run?.cancel();
    return !!run;
  }

  cancelAll(): void {
    for (const r of this.running.values()) r.cancel();
  }

  private resolveHosts = (target: string): string[] => {
    const inventory = this.fleet.snapshot.inventory;
    if (!inventory) throw new PlanError('the ssh config has not been read yet; try again in a moment');
    const hosts = expandTargets(target, inventory);
    const known = new Set(inventory.hosts.map((h) => h.alias));
    const unknown = hosts.filter((h) => !known.has(h));
    if (unknown.length) throw new PlanError(`target ${JSON.stringify(target)} names ${unknown.join(', ')}, not Host aliases of the ssh config`);
    return hosts;
  };

  /** Values for params without a default, asked one by one; undefined when the user gives up. */
  private async askParams(workflow: Workflow): Promise<Record<string, string> | undefined> {
    const values: Record<string, string> = {};
    for (const [name, p] of Object.entries(workflow.params)) {
      if (p.default !== undefined) continue;
      const v = await vscode.window.showInputBox({ title: `Workflow ${workflow.name}: ${name}`, prompt: p.description ?? name, ignoreFocusOut: true });
      if (v === undefined) return undefined;
      values[name] = v;
    }
    return values;
  }

  /**
   * Reads the workflow, asks for its params and hands it on with the folder its local paths are taken
   * from; problems are shown (with a way to the line) and `what` did not happen.
   */
  private async prepared<T>(file: string, what: string, use: (input: { workflow: Workflow; overrides: Record<string, string>; baseDir: string }) => T): Promise<T | undefined> {
    try {
      const workflow = await loadWorkflow(file);
      const overrides = await this.askParams(workflow);
      if (!overrides) return undefined;
      const folder = file.startsWith('builtin:') ? vscode.workspace.workspaceFolders?.[0] : vscode.workspace.getWorkspaceFolder(vscode.Uri.file(file));
      const baseDir = folder?.uri.fsPath ?? (file.startsWith('builtin:') ? process.cwd() : dirname(file));
      return use({ workflow, overrides, baseDir });
    } catch (err) {
      if (err instanceof WorkflowFileError) await showFileError(err);
      else if (err instanceof VarError || err instanceof PlanError || err instanceof Error) void vscode.window.showErrorMessage(`Flotilla: ${err.message} — ${what}.`);
      return undefined;
    }
  }

  /** Reads and plans; nothing runs when the file has a problem. */
  plan(file: string): Promise<Plan | undefined> {
    return this.prepared(file, 'nothing was run', (input) => planWorkflow({ ...input, resolveHosts: this.resolveHosts, runId: newRunId() }));
  }

  /** "Export to Ansible…": the core's playbook and inventory, saved where the user chooses. */
  async exportAnsible(file: string): Promise<void> {
    const inventory = this.fleet.snapshot.inventory;
    const exported = await this.prepared(file, 'nothing was exported', (input) => {
      if (!inventory) throw new PlanError('the ssh config has not been read yet; try again in a moment');
      return { name: input.workflow.name, ...exportWorkflowToAnsible({ ...input, inventory, resolveHosts: this.resolveHosts }) };
    });
    if (exported) await saveAnsibleExport(exported);
  }

  async dryRun(file: string): Promise<void> {
    const plan = await this.plan(file);
    if (!plan) return;
    const content = planText(plan, await scanPushSources(plan));
    const doc = await vscode.workspace.openTextDocument({ content, language: 'plaintext' });
    await vscode.window.showTextDocument(doc, { preview: true });
  }

  async run(file: string): Promise<WorkflowDoc | undefined> {
    const plan = await this.plan(file);
    if (!plan) return undefined;
    const name = plan.workflow.name;
    const confirm = async (stage: StagePlan) => {
      const answer = await vscode.window.showWarningMessage(
        `Start stage "${stage.name}" of workflow ${name}?`,
        { modal: true, detail: stageDetail(stage) },
        'Start Stage',
      );
      return answer === 'Start Stage';
    };
    const ended = await withProgressToast(
      `Flotilla workflow ${one(name)}`,
      async (progress, token) => {
        const total = plan.stages.length;
        const run = await startWorkflow(
          { store: this.store, pool: this.pool, connectTimeoutMs: this.fleet.settings.connectTimeoutSeconds * 1000, metrics: this.fleet.health.metrics },
          plan,
          {
            origin: 'extension',
            confirm,
            on: (e) => {
              const doc = run?.doc();
              if (doc) this.tree.update(doc);
              if (e.type === 'stage' && (e.record.state === 'running' || e.record.state === 'waiting-confirm')) {
                progress.report({ message: `stage ${e.stage + 1}/${total} ${one(e.record.name)}${e.record.state === 'waiting-confirm' ? ': waiting for confirmation' : `: ${hostCounts(e.record)}`}` });
              }
              if (e.type === 'host' && doc) {
                const s = doc.stages[e.stage]!;
                progress.report({ message: `stage ${e.stage + 1}/${total} ${one(s.name)}: ${hostCounts(s)}` });
              }
            },
          },
        );
        this.running.set(run.id, run);
        this.tree.update(run.doc());
        token.onCancellationRequested(() => run.cancel());
        this.log.info(`workflow ${run.id} (${name}) started`);
        const doc = await run.done;
        this.running.delete(run.id);
        this.tree.update(doc);
        this.log.info(`workflow ${run.id} ended: ${doc.result}${doc.reason ? ` (${doc.reason})` : ''}`);
        return doc;
      },
    );
    void this.announce(ended);
    return ended;
  }

  private async announce(doc: WorkflowDoc): Promise<void> {
    const summary = doc.stages.map((s) => `${one(s.name)}: ${hostCounts(s)}`).join(' · ');
    const message = `Flotilla: workflow ${one(doc.name)} ${doc.result}${doc.reason ? ` — ${one(doc.reason)}` : ''}. ${summary}`;
    const show = doc.result === 'completed' ? vscode.window.showInformationMessage : vscode.window.showWarningMessage;
    if ((await show(message, 'Show Details')) === 'Show Details') await showRecord(doc);
  }
}

export async function showRecord(doc: WorkflowDoc): Promise<void> {
  const text = await vscode.workspace.openTextDocument({ content: workflowText(doc), language: 'plaintext' });
  await vscode.window.showTextDocument(text, { preview: true });
}
