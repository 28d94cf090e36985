// The plan of a workflow run: variables settled, targets expanded to hosts, stages cut into batches, and
// every step rendered per host into exactly what will run (a /bin/sh script, a push, a pull). Pure: the
// dry run prints it, the runner carries it out.
import { isAbsolute, resolve } from 'node:path';
import { DEFAULT_TIMEOUT_MS } from '../exec/run';
import { shQuote } from '../ssh/quote';
import type { GateStep, Stage, Step, StepKind, Workflow } from './model';
import { render, VarError } from './vars';

export class PlanError extends Error {}

export type HostAction =
  | { kind: 'run'; script: string; cwd?: string; timeoutMs: number; files?: string[] }
  | { kind: 'gate'; check: string; script: string; retries: number; intervalMs: number; timeoutMs: number }
  | { kind: 'push'; from: string; to: string; delete: boolean; exclude: string[] }
  | { kind: 'pull'; from: string; to: string }
  | { kind: 'place' };

export interface StepPlan {
  /** 0-based within its list (steps or on_failure). */
  index: number;
  kind: StepKind;
  label: string;
  step: Step;
  /** What the step does on each host of the stage. */
  actions: Record<string, HostAction>;
}

export interface StagePlan {
  index: number;
  name: string;
  hosts: string[];
  /** Hosts in the order the batches run. */
  batches: string[][];
  maxFail: number;
  confirm: boolean;
  /** The stage starts by picking its least-loaded host; the steps after run there only. */
  place: boolean;
  steps: StepPlan[];
  onFailure: StepPlan[];
}

export interface Plan {
  workflow: Workflow;
  runId: string;
  startedAt: string;
  /** Declared vars and params with their final values (builtins excluded). */
  vars: Record<string, string>;
  /** Local relative paths are taken from here. */
  baseDir: string;
  stages: StagePlan[];
}

export interface PlanInput {
  workflow: Workflow;
  /** `--var name=value`: each must name a declared var or param. */
  overrides?: Readonly<Record<string, string>>;
  /** A stage's target (host, group, all, comma list) → host aliases; throws on what it cannot resolve. */
  resolveHosts: (target: string) => string[];
  baseDir: string;
  runId: string;
  now?: Date;
}

/** `name=value` (the value may contain `=`). */
export function parseVarAssignment(text: string): [string, string] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new VarError(`--var ${JSON.stringify(text)}: write NAME=VALUE`);
  return [text.slice(0, eq).trim(), text.slice(eq + 1)];
}

export function settleVars(workflow: Workflow, overrides: Readonly<Record<string, string>> = {}): Record<string, string> {
  const declared = new Set([...Object.keys(workflow.vars), ...Object.keys(workflow.params)]);
  const unknown = Object.keys(overrides).filter((k) => !declared.has(k));
  if (unknown.length) {
    throw new VarError(`workflow ${workflow.name} has no var or param ${unknown.map((k) => JSON.stringify(k)).join(', ')}` +
      (declared.size ? ` (it has: ${[...declared].join(', ')})` : ' (it declares none)'));
  }
  const values: Record<string, string> = {};
  for (const [k, p] of Object.entries(workflow.params)) if (p.default !== undefined) values[k] = p.default;
  Object.assign(values, workflow.vars, overrides);
  const missing = Object.keys(workflow.params).filter((k) => values[k] === undefined);
  if (missing.length) {
    throw new VarError(`workflow ${workflow.name} needs ${missing.map((k) => `--var ${k}=…${workflow.params[k]!.description ? ` (${workflow.params[k]!.description})` : ''}`).join(', ')}`);
  }
  return values;
}

export function batchesOf(hosts: readonly string[], serial: Stage['serial']): string[][] {
  if (!hosts.length) return [];
  const size = !serial ? hosts.length : 'count' in serial ? serial.count : Math.max(1, Math.floor((hosts.length * serial.percent) / 100));
  const out: string[][] = [];
  for (let i = 0; i < hosts.length; i += size) out.push(hosts.slice(i, i + size));
  return out;
}

/** The step as written, for lists that also show its kind (`push: ./dist → ~/app`). */
export function stepLabel(step: Step): string {
  if (step.name) return step.name;
  switch (step.kind) {
    case 'run': return step.command.split('\n')[0]!;
    case 'push':
    case 'pull': return `${step.from} → ${step.to}`;
    case 'gate': return `${'run' in step.check ? step.check.run.split('\n')[0] : step.check.http}${step.retries ? ` (up to ${step.retries + 1} tries)` : ''}`;
    case 'place': return `the ${step.strategy} host`;
  }
}

/** An HTTP GET from the host itself: curl, else wget; any 2xx/3xx passes. */
export function httpCheck(url: string, timeoutMs: number): string {
  const secs = Math.max(1, Math.min(10, Math.ceil(timeoutMs / 1000)));
  const u = shQuote(url);
  return `if command -v curl >/dev/null 2>&1; then curl -fsS -o /dev/null --max-time ${secs} ${u}; else wget -q -O /dev/null -T ${secs} ${u}; fi`;
}

/** The gate as one remote script: the check retried on the host, so an attempt costs no new connection. */
export function gateScript(check: string, g: Pick<GateStep, 'retries' | 'intervalMs'>): string {
  const secs = (g.intervalMs / 1000).toFixed(3).replace(/\.?0+$/, '') || '0';
  return [
    // First, so the Runs view (which shows a run's first line) names the check, not the loop.
    `# gate, up to ${g.retries + 1} attempt(s): ${check.split('\n')[0]}`,
    'flotilla_try=0',
    'while :; do',
    '  flotilla_try=$((flotilla_try + 1))',
    '  if (',
    check,
    '  ); then echo "gate passed on attempt $flotilla_try" >&2; exit 0; fi',
    `  if [ "$flotilla_try" -gt ${g.retries} ]; then echo "gate failed after $flotilla_try attempt(s)" >&2; exit 1; fi`,
    `  sleep ${secs}`,
    'done',
  ].join('\n');
}

function local(baseDir: string, path: string): string {
  return isAbsolute(path) ? path : resolve(baseDir, path);
}

function action(step: Step, values: Record<string, string>, baseDir: string): HostAction {
  const plain = (t: string) => render(t, values, 'plain');
  switch (step.kind) {
    case 'run':
      return {
        kind: 'run', script: render(step.command, values, 'shell'), timeoutMs: step.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        ...(step.cwd !== undefined ? { cwd: plain(step.cwd) } : {}),
        ...(step.files?.length ? { files: step.files.map((f) => local(baseDir, plain(f))) } : {}),
      };
    case 'gate': {
      const url = 'http' in step.check ? plain(step.check.http) : undefined;
      if (url !== undefined && !/^https?:\/\/[^\s]+$/.test(url)) throw new PlanError(`gate http ${JSON.stringify(url)} is not an http:// or https:// URL`);
      const check = 'run' in step.check ? render(step.check.run, values, 'shell') : httpCheck(url!, step.timeoutMs);
      return { kind: 'gate', check, script: gateScript(check, step), retries: step.retries, intervalMs: step.intervalMs, timeoutMs: step.timeoutMs };
    }
    case 'push':
      return { kind: 'push', from: local(baseDir, plain(step.from)), to: plain(step.to), delete: !!step.delete, exclude: step.exclude ?? [] };
    case 'pull':
      return { kind: 'pull', from: plain(step.from), to: local(baseDir, plain(step.to)) };
    case 'place':
      return { kind: 'place' };
  }
}

function stepPlans(steps: readonly Step[], hosts: readonly string[], values: (host: string) => Record<string, string>, baseDir: string, where: string): StepPlan[] {
  return steps.map((step, index) => {
    const actions: Record<string, HostAction> = {};
    for (const h of hosts) actions[h] = action(step, values(h), baseDir);
    if (step.kind === 'pull') {
      const seen = new Map<string, string>();
      for (const h of hosts) {
        const to = (actions[h] as { to: string }).to;
        if (seen.has(to)) throw new PlanError(`${where}: pull would write the copies of ${seen.get(to)} and ${h} to the same ${to}: put {{ host }} in "to"`);
        seen.set(to, h);
      }
    }
    return { index, kind: step.kind, label: stepLabel(step), step, actions };
  });
}

export function planWorkflow(input: PlanInput): Plan {
  const { workflow } = input;
  const now = input.now ?? new Date();
  const iso = now.toISOString();
  const vars = settleVars(workflow, input.overrides);
  const builtins = { date: iso.slice(0, 10), time: iso.slice(11, 19).replace(/:/g, ''), run: input.runId, workflow: workflow.name };
  const stages = workflow.stages.map((stage, index): StagePlan => {
    const where = `stage ${JSON.stringify(stage.name)}`;
    const stageValues = { ...vars, ...builtins, stage: stage.name };
    const hosts: string[] = [];
    for (const target of stage.hosts) {
      const rendered = render(target, stageValues, 'plain');
      for (const h of input.resolveHosts(rendered)) if (!hosts.includes(h)) hosts.push(h);
    }
    if (!hosts.length) throw new PlanError(`${where}: its hosts (${stage.hosts.join(', ')}) are no host at all`);
    const values = (host: string) => ({ ...stageValues, host });
    return {
      index,
      name: stage.name,
      hosts,
      batches: batchesOf(hosts, stage.serial),
      maxFail: 'count' in stage.maxFail ? stage.maxFail.count : Math.floor((hosts.length * stage.maxFail.percent) / 100),
      confirm: stage.confirm,
      place: stage.steps[0]?.kind === 'place',
      steps: stepPlans(stage.steps, hosts, values, input.baseDir, where),
      onFailure: stepPlans(stage.onFailure, hosts, values, input.baseDir, `${where} on_failure`),
    };
  });
  return { workflow, runId: input.runId, startedAt: iso, vars, baseDir: input.baseDir, stages };
}
