// How a workflow plan (the dry run) and a workflow run's record read as text: one place for the CLI, the
// editor's dry-run document and the MCP tool. Nothing here contacts a host; the dry run's only I/O is a
// read-only scan of the local folders a push would send.
import { sanitizeForView } from '../exec/output';
import { EXIT, isFinal, runExitCode, type HostState } from '../jobs/outcome';
import { scanLocal } from '../push/scan';
import type { HostAction, Plan, StagePlan, StepPlan } from './plan';
import type { StageRecord, WorkflowDoc, WorkflowHostState } from './record';

export interface LocalFolder {
  files: number;
  bytes: number;
  error?: string;
}

/** What each push of the plan would send, from a scan of the local folder (nothing is written). */
export async function scanPushSources(plan: Plan): Promise<Map<string, LocalFolder>> {
  const out = new Map<string, LocalFolder>();
  for (const stage of plan.stages) {
    for (const sp of [...stage.steps, ...stage.onFailure]) {
      for (const a of Object.values(sp.actions)) {
        if (a.kind !== 'push' || out.has(a.from)) continue;
        try {
          const scan = await scanLocal(a.from, { exclude: a.exclude });
          let files = 0;
          let bytes = 0;
          for (const e of scan.entries.values()) if (e.type === 'file') { files++; bytes += e.size; }
          out.set(a.from, { files, bytes, ...(scan.errors.length ? { error: `${scan.errors.length} unreadable path(s)` } : {}) });
        } catch (err) {
          out.set(a.from, { files: 0, bytes: 0, error: (err as Error).message });
        }
      }
    }
  }
  return out;
}

const one = (s: string) => sanitizeForView(s);
const indent = (text: string, by: string) => text.split('\n').map((l) => `${by}${l}`).join('\n');

function actionText(a: HostAction, folders?: Map<string, LocalFolder>): string {
  switch (a.kind) {
    case 'run':
      return `${a.cwd ? `in ${a.cwd}: ` : ''}${a.script}${a.files?.length ? `\n(files in a private temp dir: ${a.files.join(', ')})` : ''}`;
    case 'gate':
      return `${a.check}\n(up to ${a.retries + 1} attempt(s), ${a.intervalMs / 1000}s apart, within ${a.timeoutMs / 1000}s)`;
    case 'push': {
      const f = folders?.get(a.from);
      const what = f ? (f.error ? ` (${f.error})` : ` (${f.files} file(s), ${f.bytes} bytes; each host's diff is planned when the step runs)`) : '';
      return `${a.from} → ${a.to}${a.delete ? ' (deleting remote files not in the folder)' : ''}${what}`;
    }
    case 'pull':
      return `${a.from} → ${a.to}`;
    case 'place':
      return 'measure the hosts and pick the least-loaded one';
  }
}

function stepText(sp: StepPlan, hosts: readonly string[], folders?: Map<string, LocalFolder>): string {
  const texts = hosts.map((h) => actionText(sp.actions[h]!, folders));
  const head = `${sp.index + 1}. ${sp.kind}: ${one(sp.label)}`;
  if (texts.every((t) => t === texts[0])) return `${head}\n${indent(one(texts[0] ?? ''), '     ')}`;
  return `${head}\n${hosts.map((h, i) => `     ${one(h)}:\n${indent(one(texts[i]!), '       ')}`).join('\n')}`;
}

function stageHead(stage: StagePlan, total: number): string {
  const how = stage.place ? 'on the least-loaded host'
    : stage.batches.length > 1 ? `${stage.batches.length} batches of up to ${stage.batches[0]!.length}` : 'all at once';
  return `stage ${stage.index + 1}/${total} ${one(stage.name)}: ${stage.hosts.length} host(s), ${how}, stops when more than ${stage.maxFail} fail${stage.confirm ? ', asks for confirmation first' : ''}`;
}

/** The whole dry run: stages, batches in order, and every step's exact command or push per host. */
export function planText(plan: Plan, folders?: Map<string, LocalFolder>): string {
  const lines: string[] = [];
  const w = plan.workflow;
  lines.push(`dry run of workflow ${one(w.name)}${w.file ? ` (${one(w.file)})` : ''}: nothing was contacted and nothing written.`);
  const vars = Object.entries(plan.vars);
  if (vars.length) lines.push(`vars: ${vars.map(([k, v]) => `${k}=${one(v)}`).join(', ')}`);
  for (const stage of plan.stages) {
    lines.push('', stageHead(stage, plan.stages.length));
    stage.batches.forEach((b, i) => lines.push(`  batch ${i + 1}: ${b.map(one).join(', ')}`));
    lines.push(`  steps${stage.batches.length > 1 ? ' (each batch, in order; a host that fails a step does no more)' : ''}:`);
    for (const sp of stage.steps) lines.push(indent(stepText(sp, stage.hosts, folders), '    '));
    if (stage.onFailure.length) {
      lines.push('  on failure (on the hosts of the batch that made the stage stop):');
      for (const sp of stage.onFailure) lines.push(indent(stepText(sp, stage.hosts, folders), '    '));
    }
  }
  return lines.join('\n') + '\n';
}

/** The `--json` shape of a dry run. */
export function planJson(plan: Plan, folders?: Map<string, LocalFolder>) {
  const stepJson = (sp: StepPlan) => ({ index: sp.index, kind: sp.kind, label: sp.label, hosts: sp.actions });
  return {
    dryRun: true,
    id: plan.runId,
    workflow: plan.workflow.name,
    file: plan.workflow.file ?? null,
    vars: plan.vars,
    stages: plan.stages.map((s) => ({
      name: s.name, hosts: s.hosts, batches: s.batches, maxFail: s.maxFail, confirm: s.confirm, place: s.place,
      steps: s.steps.map(stepJson), onFailure: s.onFailure.map(stepJson),
    })),
    ...(folders ? { pushSources: Object.fromEntries(folders) } : {}),
  };
}

const HOST_ORDER: readonly WorkflowHostState[] = ['done', 'failed', 'rolled-back', 'rollback-failed', 'cancelled', 'running', 'pending', 'skipped'];

export function hostCounts(stage: StageRecord): string {
  const counts = new Map<WorkflowHostState, number>();
  for (const h of stage.hosts) counts.set(h.state, (counts.get(h.state) ?? 0) + 1);
  return HOST_ORDER.filter((s) => counts.has(s)).map((s) => `${counts.get(s)} ${s === 'skipped' ? 'never touched' : s}`).join(', ');
}

/** Per stage and host: which were done, failed, rolled back and never touched, and why. */
export function workflowText(doc: WorkflowDoc): string {
  const lines: string[] = [];
  const result = doc.state === 'running' ? 'running' : doc.result ?? 'done';
  lines.push(`workflow ${one(doc.name)} ${doc.id}: ${result}${doc.reason ? ` (${one(doc.reason)})` : ''}`);
  for (const [i, s] of doc.stages.entries()) {
    lines.push(`stage ${i + 1} ${one(s.name)}: ${s.state}${s.placed ? ` on ${one(s.placed)}` : ''} · ${hostCounts(s)}`);
    for (const h of s.hosts) {
      const detail = [h.step && h.state !== 'done' && h.state !== 'skipped' ? `at ${one(h.step)}` : '', h.reason ? one(h.reason).replace(/\s*\n\s*/g, ' ') : ''].filter(Boolean).join(': ');
      lines.push(`  ${one(h.host)}: ${h.state === 'skipped' ? 'never touched' : h.state}${detail ? ` (${detail})` : ''}`);
    }
  }
  const runs = doc.steps.flatMap((s) => s.runIds.map((id) => `${id} (stage ${s.stage + 1}, ${s.phase === 'on_failure' ? 'on_failure ' : ''}step ${s.index + 1} ${s.kind}: ${one(s.label)})`));
  if (runs.length) lines.push(`step runs (flotilla status ID / flotilla cat ID HOST):`, ...runs.map((r) => `  ${r}`));
  return lines.join('\n') + '\n';
}

/**
 * The CLI's exit code of a workflow run: 4 cancelled or declined; else 3 if a host failed for a transport
 * reason (unreachable, timeout, …), 2 if one failed otherwise, 0 when no host failed.
 */
export function workflowExitCode(doc: WorkflowDoc): number {
  if (doc.result === 'cancelled' || doc.result === 'declined') return EXIT.cancelled;
  const failedHosts = new Set(doc.stages.flatMap((s) => s.hosts.filter((h) => h.state === 'failed' || h.state === 'rolled-back' || h.state === 'rollback-failed')).map((h) => h.host));
  if (!failedHosts.size && doc.result === 'completed') return EXIT.ok;
  const states = doc.steps.flatMap((s) => Object.values(s.hosts).map((h) => h.state)).filter((s): s is HostState => s !== 'skipped' && isFinal(s) && s !== 'ok');
  const code = runExitCode(states);
  return code === EXIT.ok ? EXIT.commandFailed : code;
}
