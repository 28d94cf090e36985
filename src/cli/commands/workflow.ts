// `flotilla workflow run FILE|builtin:NAME [--dry-run] [--yes] [--var k=v]`, `workflow list`, `workflow status [ID]`,
// `workflow cancel ID`, `workflow new NAME [FILE]` and `workflow export FILE --ansible [-o OUT]`: thin over
// src/core/workflows and src/core/ansible/playbook.ts.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { exportWorkflowToAnsible, inventoryBeside, PlaybookExportError } from '../../core/ansible/playbook';
import { newRunId } from '../../core/exec/run';
import { EXIT } from '../../core/jobs/outcome';
import { WorkflowFileError } from '../../core/workflows/parse';
import { parseVarAssignment, PlanError, planWorkflow, type Plan, type StagePlan } from '../../core/workflows/plan';
import { WorkflowNotFoundError, WorkflowStore, type WorkflowDoc } from '../../core/workflows/record';
import { hostCounts, planJson, planText, scanPushSources, workflowExitCode, workflowText } from '../../core/workflows/report';
import { startWorkflow, type WorkflowEvent } from '../../core/workflows/runner';
import { BUILTIN_PREFIX, findWorkflowFiles, loadWorkflow, TEMPLATES, templateWorkflow, WORKFLOWS_DIR } from '../../core/workflows/templates';
import { VarError } from '../../core/workflows/vars';
import type { CliContext } from '../context';
import { UsageError } from '../io';
import { oneLine } from '../render';
import { collect, type Verb } from '../verbs';
import { writeExport } from './inventory';

interface RunFlags {
  dryRun?: boolean;
  yes?: boolean;
  var: string[];
}

interface ExportFlags {
  ansible?: boolean;
  output?: string;
  inventory?: string;
  force?: boolean;
  var: string[];
}

/** `workflow export FILE --ansible`: the playbook (and the inventory beside it) from the core's translation. */
async function exportCommand(ctx: CliContext, spec: string, o: ExportFlags): Promise<number> {
  if (!o.ansible) throw new UsageError('name what to export to: --ansible (an Ansible playbook)', 'flotilla workflow export FILE --ansible -o PLAYBOOK.yml');
  let exported;
  try {
    const workflow = await loadWorkflow(spec);
    exported = exportWorkflowToAnsible({
      workflow, overrides: Object.fromEntries(o.var.map(parseVarAssignment)), inventory: ctx.inventory,
      resolveHosts: (t) => ctx.targets(t), baseDir: process.cwd(),
    });
  } catch (err) {
    if (err instanceof PlaybookExportError) throw new UsageError(err.message, 'nothing was written: change these steps, or leave them out of the workflow you export', 'workflow-export');
    return rethrowPlanError(err);
  }
  const playbook = o.output ? resolve(o.output) : undefined;
  const inventory = o.inventory ? resolve(o.inventory) : playbook && inventoryBeside(playbook);
  // Both files or neither: nothing is replaced without --force.
  for (const f of [playbook, inventory]) if (f && !o.force && existsSync(f)) throw new UsageError(`${f} exists; nothing was written`, 'pass --force to replace it, or choose another file');
  if (playbook) await writeExport(playbook, exported.playbook.text, o.force);
  if (inventory) await writeExport(inventory, exported.inventory, o.force);
  const warnings = exported.leftOut.map((l) => `group ${l.group} names ${l.alias}, which is not a Host; left out of the inventory`);
  if (ctx.flags.json) {
    await ctx.io.json({
      format: 'ansible', playbook: playbook ?? null, inventory: inventory ?? null, hosts: exported.playbook.hosts, warnings,
      ...(playbook ? {} : { text: exported.playbook.text }), ...(inventory ? {} : { inventoryText: exported.inventory }),
    });
    return EXIT.ok;
  }
  if (!playbook) await ctx.io.out(exported.playbook.text);
  for (const w of warnings) ctx.io.err(`warning: ${w}\n`);
  if (playbook && inventory) ctx.io.err(`wrote ${playbook} and ${inventory}; run it with: ansible-playbook -i ${inventory} ${playbook}\n`);
  else if (inventory) ctx.io.err(`wrote ${inventory}\n`);
  return EXIT.ok;
}

function rethrowPlanError(err: unknown): never {
  if (err instanceof WorkflowFileError) throw new UsageError(err.message, 'fix the file at the place named; nothing was run', 'workflow-file');
  if (err instanceof VarError || err instanceof PlanError) throw new UsageError(err.message, 'nothing was run', 'workflow-plan');
  if (err instanceof Error && err.message.startsWith('no built-in workflow')) throw new UsageError(err.message, 'see: flotilla workflow list', 'workflow-file');
  throw err;
}

async function planFrom(ctx: CliContext, spec: string, vars: readonly string[]): Promise<Plan> {
  try {
    const workflow = await loadWorkflow(spec);
    const overrides = Object.fromEntries(vars.map(parseVarAssignment));
    return planWorkflow({ workflow, overrides, resolveHosts: (t) => ctx.targets(t), baseDir: process.cwd(), runId: newRunId() });
  } catch (err) {
    return rethrowPlanError(err);
  }
}

function askYesNo(question: string, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    const end = (yes: boolean) => { signal.removeEventListener('abort', onAbort); rl.close(); resolve(yes); };
    const onAbort = () => end(false);
    signal.addEventListener('abort', onAbort, { once: true });
    rl.question(question, (a) => end(/^y(es)?$/i.test(a.trim())));
  });
}

function progress(ctx: CliContext, plan: Plan) {
  const total = plan.stages.length;
  return (e: WorkflowEvent) => {
    if (ctx.flags.json) return;
    if (e.type === 'stage' && e.record.state === 'running' && !e.record.failed && e.record.hosts.every((h) => h.state === 'pending' || h.state === 'skipped')) {
      ctx.io.err(`stage ${e.stage + 1}/${total} ${oneLine(e.record.name)}: ${e.record.hosts.length} host(s)\n`);
    }
    if (e.type === 'stage' && ['ok', 'failed', 'cancelled', 'declined'].includes(e.record.state)) {
      ctx.io.err(`stage ${e.stage + 1}/${total} ${oneLine(e.record.name)}: ${e.record.state} · ${hostCounts(e.record)}\n`);
    }
    if (e.type === 'batch' && plan.stages[e.stage]!.batches.length > 1) ctx.io.err(`  batch ${e.batch + 1}: ${e.hosts.map(oneLine).join(', ')}\n`);
    if (e.type === 'step' && e.step.state === 'running' && !e.step.runIds.length) {
      ctx.io.err(`  ${e.step.phase === 'on_failure' ? 'on_failure ' : ''}step ${e.step.index + 1} ${e.step.kind}: ${oneLine(e.step.label)}\n`);
    }
    if (e.type === 'host' && (e.host.state === 'failed' || e.host.state === 'rollback-failed')) {
      ctx.io.err(`    ${oneLine(e.host.host)}: ${e.host.state}${e.host.reason ? ` (${oneLine(e.host.reason)})` : ''}\n`);
    }
  };
}

async function runCommand(ctx: CliContext, spec: string, o: RunFlags): Promise<number> {
  const plan = await planFrom(ctx, spec, o.var);
  if (o.dryRun) {
    const folders = await scanPushSources(plan);
    if (ctx.flags.json) await ctx.io.json(planJson(plan, folders));
    else await ctx.io.out(planText(plan, folders));
    return EXIT.ok;
  }
  const confirmStages = plan.stages.filter((s) => s.confirm);
  const canAsk = !o.yes && !ctx.flags.json && process.stdin.isTTY && process.stderr.isTTY;
  if (confirmStages.length && !o.yes && !canAsk) {
    throw new UsageError(
      `stage ${confirmStages.map((s) => JSON.stringify(s.name)).join(', ')} of workflow ${plan.workflow.name} asks for confirmation`,
      'pass --yes to confirm (see the plan first with --dry-run); nothing was run', 'confirm-needed',
    );
  }
  const confirm = async (stage: StagePlan) =>
    o.yes || (canAsk && askYesNo(`Start stage ${stage.name} on ${stage.hosts.length} host(s) (${stage.hosts.join(', ')})? [y/N] `, ctx.io.signal));
  const run = await startWorkflow({ store: ctx.store, pool: ctx.pool, connectTimeoutMs: ctx.connectTimeoutMs }, plan, {
    origin: 'cli', signal: ctx.io.signal, confirm, on: progress(ctx, plan),
  });
  ctx.io.err(`workflow ${run.id} started (status: flotilla workflow status ${run.id})\n`);
  const doc = await run.done;
  if (ctx.flags.json) await ctx.io.json(doc);
  else await ctx.io.out(workflowText(doc));
  return workflowExitCode(doc);
}

async function findRecord(ctx: CliContext, id: string): Promise<WorkflowDoc> {
  try {
    return await new WorkflowStore(ctx.store.root).find(id);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new UsageError(err.message, 'list them with: flotilla workflow status', 'workflow-not-found');
    throw err;
  }
}

function historyLine(d: WorkflowDoc): string {
  const result = d.state === 'running' ? 'running' : d.result ?? 'done';
  return `${d.id}  ${d.startedAt.replace(/\.\d+Z$/, 'Z')}  ${result.padEnd(9)}  [${d.origin}]  ${oneLine(d.name)}  ${d.stages.map((s) => `${oneLine(s.name)}:${s.state}`).join(' ')}\n`;
}

export const workflowVerbs: Verb = (program, act) => {
  const wf = program
    .command('workflow')
    .summary('staged runs from a workflow file: stages, serial batches, gates, rollback')
    .description(`Workflow files are YAML (${WORKFLOWS_DIR}/*.yaml, or any path); built-in ones are builtin:NAME.`);

  wf.command('run')
    .summary('run a workflow file (or builtin:NAME)')
    .argument('<file>', `workflow file, or ${BUILTIN_PREFIX}NAME (${Object.keys(TEMPLATES).join(', ')})`)
    .option('--dry-run', 'print the whole plan (stages, batches, each host\'s exact commands); contact nothing')
    .option('--yes', 'confirm every stage that asks for confirmation')
    .option('--var <name=value>', 'set a var or param of the workflow (repeatable)', collect, [])
    .action(act((ctx, file: string, o: RunFlags) => runCommand(ctx, file, o)));

  wf.command('export')
    .summary('write a workflow as an Ansible playbook (and the inventory it needs beside it)')
    .argument('<file>', `workflow file, or ${BUILTIN_PREFIX}NAME`)
    .option('--ansible', 'an Ansible playbook: stages become plays, steps become tasks, with Flotilla\'s failure policy')
    .option('-o, --output <file>', 'write the playbook to FILE (and the inventory to FILE.inventory.yml) instead of standard output')
    .option('--inventory <file>', 'where to write the inventory of the workflow\'s hosts')
    .option('--force', 'replace files that exist')
    .option('--var <name=value>', 'set a var or param of the workflow (repeatable)', collect, [])
    .action(act((ctx, file: string, o: ExportFlags) => exportCommand(ctx, file, o)));

  wf.command('list')
    .summary(`the workflow files in DIR/${WORKFLOWS_DIR} and the built-in workflows`)
    .argument('[dir]', 'workspace folder (default: the current directory)')
    .action(act(async (ctx, dir: string | undefined) => {
      const files = await findWorkflowFiles(dir ?? process.cwd());
      const entries = await Promise.all(files.map(async (file) => {
        try {
          const w = await loadWorkflow(file);
          return { file, name: w.name, description: w.description ?? null, stages: w.stages.map((s) => s.name) };
        } catch (err) {
          return { file, error: (err as Error).message };
        }
      }));
      const builtins = Object.keys(TEMPLATES).map((name) => {
        const w = templateWorkflow(name);
        return { name: `${BUILTIN_PREFIX}${name}`, description: w.description ?? null, params: w.params };
      });
      if (ctx.flags.json) {
        await ctx.io.json({ files: entries, builtins });
        return EXIT.ok;
      }
      let text = entries.length ? '' : `no workflow files in ${join(dir ?? '.', WORKFLOWS_DIR)}\n`;
      for (const e of entries) text += 'error' in e ? `${e.file}: ${oneLine(e.error ?? '')}\n` : `${e.file}: ${oneLine(e.name)} (${e.stages.map(oneLine).join(' → ')})${e.description ? ` — ${oneLine(e.description)}` : ''}\n`;
      text += 'built-in:\n';
      for (const b of builtins) {
        const params = Object.entries(b.params).map(([k, p]) => (p.default === undefined ? `${k}=…` : `[${k}=${p.default}]`)).join(' ');
        text += `  ${b.name} ${params}\n    ${oneLine(b.description ?? '')}\n`;
      }
      await ctx.io.out(text);
      return EXIT.ok;
    }));

  wf.command('status')
    .summary('recent workflow runs, or one run: each stage and host, and its steps\' run ids')
    .argument('[id]', 'workflow run id or prefix')
    .action(act(async (ctx, id: string | undefined) => {
      if (id) {
        const doc = await findRecord(ctx, id);
        if (ctx.flags.json) await ctx.io.json(doc);
        else await ctx.io.out(workflowText(doc));
        return EXIT.ok;
      }
      const docs = await new WorkflowStore(ctx.store.root).list();
      if (ctx.flags.json) await ctx.io.json({ workflows: docs });
      else await ctx.io.out(docs.length ? docs.map(historyLine).join('') : 'no workflow runs recorded\n');
      return EXIT.ok;
    }));

  wf.command('cancel')
    .summary('cancel a running workflow from any process: its running step stops on every host, nothing else starts')
    .argument('<id>', 'workflow run id or prefix')
    .action(act(async (ctx, id: string) => {
      const doc = await findRecord(ctx, id);
      if (doc.state === 'done') {
        await ctx.io.out(`workflow ${doc.id} already ended (${doc.result})\n`);
        return EXIT.ok;
      }
      await new WorkflowStore(ctx.store.root).requestCancel(doc.id);
      await ctx.io.out(`cancel requested for workflow ${doc.id}\n`);
      return EXIT.ok;
    }));

  wf.command('new')
    .summary('write a built-in workflow into a file to edit')
    .argument('<name>', Object.keys(TEMPLATES).join(', '))
    .argument('[file]', `where (default: ${WORKFLOWS_DIR}/NAME.yaml)`)
    .action(act(async (ctx, name: string, file: string | undefined) => {
      const text = TEMPLATES[name.replace(BUILTIN_PREFIX, '')];
      if (text === undefined) throw new UsageError(`no built-in workflow ${JSON.stringify(name)}`, `there are: ${Object.keys(TEMPLATES).join(', ')}`);
      const path = file ?? join(WORKFLOWS_DIR, `${name}.yaml`);
      await mkdir(dirname(path), { recursive: true });
      try {
        await writeFile(path, text, { flag: 'wx' });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new UsageError(`${path} exists; nothing was written`, 'name another file');
        throw err;
      }
      await ctx.io.out(`${path}\n`);
      return EXIT.ok;
    }));
};
