// Carries out a workflow plan: stages in order, batches in order, steps in order on the hosts still
// standing. Every run, gate and place step is a recorded run (startJob); push and pull steps use the push
// engine. A stage stops at the first batch where more than max_fail of its hosts have failed: on_failure
// runs on that batch, later batches and stages never start. Cancel (the signal, `cancel()`, a request
// from another process, or cancelling a step's run anywhere) stops the running step on every host and
// starts nothing else. The record says which hosts were done, failed, rolled back and never touched.
import { lstat, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { RunOrigin } from '../exec/run';
import { startJob, type Job, type JobDeps, type JobRequest } from '../jobs/job';
import { outcomeDetail, type HostOutcome, type HostState } from '../jobs/outcome';
import type { PushState } from '../push/apply';
import { pullHost } from '../push/pull';
import { push } from '../push/push';
import type { HostAction, Plan, StagePlan, StepPlan } from './plan';
import {
  WorkflowStore, type StageHost, type StageRecord, type StepHost, type StepRecord,
  type WorkflowDoc, type WorkflowHostState, type WorkflowResult,
} from './record';
import { ownerHere, startedByHere } from '../jobs/store';

export type WorkflowDeps = JobDeps;

export type WorkflowEvent =
  | { type: 'stage'; stage: number; record: StageRecord }
  | { type: 'batch'; stage: number; batch: number; hosts: string[] }
  | { type: 'step'; step: StepRecord }
  | { type: 'host'; stage: number; host: StageHost }
  | { type: 'done'; doc: WorkflowDoc };

export interface WorkflowOptions {
  /** The front end that started it (its steps' runs are recorded with origin `workflow`). */
  origin: RunOrigin;
  signal?: AbortSignal;
  /** Asked before a `confirm: true` stage; without it such a stage is declined. */
  confirm?: (stage: StagePlan) => Promise<boolean>;
  on?: (e: WorkflowEvent) => void;
}

export interface WorkflowRun {
  readonly id: string;
  doc(): WorkflowDoc;
  readonly done: Promise<WorkflowDoc>;
  cancel(): void;
}

interface HostEnd {
  state: HostState | 'skipped';
  reason?: string;
  runId?: string;
}

const pushToHost: Record<PushState, HostState> = { ok: 'ok', partial: 'failed', failed: 'failed', cancelled: 'cancelled', unreachable: 'unreachable' };

/** Copies FROM of `host` to the local path TO (which must not exist): pulled beside it, then renamed. */
async function pullInto(deps: WorkflowDeps, host: string, from: string, to: string, signal: AbortSignal): Promise<HostEnd> {
  const exists = await lstat(to).then(() => true, () => false);
  if (exists) return { state: 'failed', reason: `${to} already exists; nothing was overwritten (put {{ date }}, {{ time }} or {{ run }} in "to")` };
  await mkdir(dirname(to), { recursive: true });
  const staging = await mkdtemp(join(dirname(to), `.${basename(to)}.flotilla-pull-`));
  try {
    const r = await pullHost(deps.pool, host, from, staging, { signal });
    if (r.state === 'ok' || r.state === 'partial') await rename(r.localPath, to);
    return { state: pushToHost[r.state], reason: r.reason };
  } catch (err) {
    return { state: 'failed', reason: (err as Error).message };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Hosts whose actions are identical share one recorded run. */
function groupByAction(hosts: readonly string[], actions: Record<string, HostAction>): string[][] {
  const groups = new Map<string, string[]>();
  for (const h of hosts) {
    const key = JSON.stringify(actions[h]);
    groups.set(key, [...(groups.get(key) ?? []), h]);
  }
  return [...groups.values()];
}

export async function startWorkflow(deps: WorkflowDeps, plan: Plan, opts: WorkflowOptions): Promise<WorkflowRun> {
  const wstore = new WorkflowStore(deps.store.root);
  const id = plan.runId;
  const abort = new AbortController();
  const emit = (e: WorkflowEvent) => { try { opts.on?.(e); } catch { /* the listener's problem */ } };
  let doc: WorkflowDoc = {
    version: 1,
    id,
    name: plan.workflow.name,
    file: plan.workflow.file,
    state: 'running',
    origin: opts.origin,
    startedBy: startedByHere(),
    owner: ownerHere(),
    startedAt: plan.startedAt,
    vars: plan.vars,
    stages: plan.stages.map((s) => ({
      name: s.name, state: 'pending', batches: s.batches, maxFail: s.maxFail, confirm: s.confirm, failed: 0,
      hosts: s.hosts.map((host) => ({ host, state: 'pending' })),
    })),
    steps: [],
  };
  await wstore.create(doc);

  let writing: Promise<void> = Promise.resolve();
  let dirty = false;
  const save = () => {
    if (dirty) return;
    dirty = true;
    writing = writing.then(async () => { dirty = false; await wstore.write(doc); }).catch(() => {});
  };
  const setStage = (i: number, change: Partial<StageRecord>) => {
    doc = { ...doc, stages: doc.stages.map((s, j) => (j === i ? { ...s, ...change } : s)) };
    save();
    emit({ type: 'stage', stage: i, record: doc.stages[i]! });
  };
  const setHost = (i: number, host: string, change: Omit<StageHost, 'host'>) => {
    const entry: StageHost = { host, ...change };
    doc = { ...doc, stages: doc.stages.map((s, j) => (j === i ? { ...s, hosts: s.hosts.map((h) => (h.host === host ? entry : h)) } : s)) };
    save();
    emit({ type: 'host', stage: i, host: entry });
  };
  const putStep = (step: StepRecord) => {
    const at = doc.steps.findIndex((s) => s.stage === step.stage && s.batch === step.batch && s.phase === step.phase && s.index === step.index);
    doc = { ...doc, steps: at < 0 ? [...doc.steps, step] : doc.steps.map((s, j) => (j === at ? step : s)) };
    save();
    emit({ type: 'step', step });
  };

  const jobs = new Set<Job>();
  const cancel = () => {
    abort.abort();
    for (const j of jobs) j.cancel();
  };
  const onSignal = () => cancel();
  opts.signal?.addEventListener('abort', onSignal, { once: true });
  if (opts.signal?.aborted) abort.abort();
  const unwatch = wstore.watchCancels(id, cancel);
  const target = (stage: StagePlan) => `workflow ${plan.workflow.name} › ${stage.name}`;

  const job = async (req: JobRequest, record: StepRecord): Promise<Job> => {
    const j = await startJob(deps, req);
    jobs.add(j);
    record.runIds.push(j.id);
    for (const h of req.hosts) record.hosts[h] = { state: 'running', runId: j.id };
    putStep({ ...record });
    if (abort.signal.aborted) j.cancel();
    return j;
  };
  const outcomes = async (j: Job): Promise<Map<string, HostEnd>> => {
    const { doc: run } = await j.done;
    jobs.delete(j);
    return new Map(run.hosts.map((h) => [h.host, { state: h.state as HostState, reason: outcomeDetail(h as HostOutcome) || undefined, runId: run.id }]));
  };

  /** One step on some hosts of a stage; every host gets an end. */
  const runStep = async (stage: StagePlan, sp: StepPlan, hosts: readonly string[], record: StepRecord): Promise<Map<string, HostEnd>> => {
    const ends = new Map<string, HostEnd>();
    const groups = groupByAction(hosts, sp.actions);
    await Promise.all(groups.map(async (group) => {
      const a = sp.actions[group[0]!]!;
      try {
        if (a.kind === 'run' || a.kind === 'gate') {
          const j = await job({
            target: target(stage), hosts: group, command: a.script, origin: 'workflow', timeoutMs: a.timeoutMs,
            ...(a.kind === 'run' ? { cwd: a.cwd, files: a.files } : {}),
          }, record);
          for (const [h, end] of await outcomes(j)) {
            ends.set(h, a.kind === 'gate' && end.state === 'timeout' ? { ...end, reason: `the gate did not pass within ${a.timeoutMs / 1000}s` } : end);
          }
        } else if (a.kind === 'place') {
          const j = await job({ target: target(stage), hosts: group, command: 'true', origin: 'workflow', leastLoaded: {} }, record);
          const result = await j.done;
          jobs.delete(j);
          const chosen = result.doc.placement?.chosen;
          for (const h of group) {
            if (h === chosen) ends.set(h, { state: (result.doc.hosts[0]?.state as HostState | undefined) ?? 'lost', runId: j.id, reason: result.doc.placement?.explanation });
            else ends.set(h, { state: 'skipped', runId: j.id, reason: chosen ? `place chose ${chosen}` : result.doc.placement?.explanation ?? 'no host could be chosen' });
          }
          if (!chosen) for (const h of group) ends.set(h, { state: abort.signal.aborted ? 'cancelled' : 'unreachable', runId: j.id, reason: result.doc.placement?.explanation ?? 'no host could be chosen' });
        } else if (a.kind === 'push') {
          const pushed = await push(deps.pool, group, a.from, a.to, { signal: abort.signal, delete: a.delete, exclude: a.exclude });
          pushed.plans.forEach((p, i) => {
            const r = pushed.results?.[i];
            const state: HostState = r ? pushToHost[r.state] : p.fatal ? (p.unreachable ? 'unreachable' : 'failed') : 'ok';
            ends.set(p.host, { state, reason: r?.reason ?? p.fatal });
          });
        } else {
          await Promise.all(group.map(async (h) => {
            const to = (sp.actions[h] as Extract<HostAction, { kind: 'pull' }>).to;
            ends.set(h, await pullInto(deps, h, a.from, to, abort.signal));
          }));
        }
      } catch (err) {
        for (const h of group) if (!ends.has(h)) ends.set(h, { state: 'failed', reason: (err as Error).message });
      }
    }));
    return ends;
  };

  /** Runs steps in order on `hosts`; a host that fails a step does no further steps. */
  const runSteps = async (
    stage: StagePlan, batch: number, phase: StepRecord['phase'], steps: readonly StepPlan[], hosts: readonly string[],
    onHost: (host: string, step: StepPlan, end?: HostEnd) => void,
  ): Promise<{ failed: Map<string, { step: StepPlan; end: HostEnd }>; cancelled: boolean; standing: string[] }> => {
    let standing = [...hosts];
    const failed = new Map<string, { step: StepPlan; end: HostEnd }>();
    for (const sp of steps) {
      if (!standing.length || abort.signal.aborted) break;
      const record: StepRecord = {
        stage: stage.index, batch, phase, index: sp.index, kind: sp.kind, label: sp.label, state: 'running',
        startedAt: new Date().toISOString(), runIds: [], hosts: Object.fromEntries(standing.map((h): [string, StepHost] => [h, { state: 'pending' }])),
      };
      putStep(record);
      for (const h of standing) onHost(h, sp);
      const ends = await runStep(stage, sp, standing, record);
      for (const h of standing) {
        const end = ends.get(h) ?? { state: 'lost', reason: 'the step gave no outcome for this host' };
        record.hosts[h] = { state: end.state, ...(end.reason ? { reason: end.reason } : {}), ...(end.runId ? { runId: end.runId } : {}) };
        onHost(h, sp, end);
        if (end.state !== 'ok' && end.state !== 'skipped') failed.set(h, { step: sp, end });
      }
      const states = Object.values(record.hosts).map((x) => x.state);
      const cancelled = abort.signal.aborted || states.includes('cancelled');
      putStep({ ...record, state: cancelled ? 'cancelled' : states.every((s) => s === 'ok' || s === 'skipped') ? 'ok' : 'failed', finishedAt: new Date().toISOString() });
      standing = standing.filter((h) => ends.get(h)?.state === 'ok');
      if (cancelled) return { failed, cancelled: true, standing };
    }
    return { failed, cancelled: abort.signal.aborted, standing };
  };

  const confirmStage = async (stage: StagePlan): Promise<boolean | 'cancelled'> => {
    if (!opts.confirm) return false;
    if (abort.signal.aborted) return 'cancelled';
    return Promise.race([
      opts.confirm(stage).catch(() => false),
      new Promise<'cancelled'>((resolve) => abort.signal.addEventListener('abort', () => resolve('cancelled'), { once: true })),
    ]);
  };

  const run = async (): Promise<{ result: WorkflowResult; reason?: string }> => {
    const failedBefore = new Map<string, string>();
    let stop: { result: WorkflowResult; reason?: string } | undefined;
    for (const stage of plan.stages) {
      const i = stage.index;
      const skipAll = (reason: string) => {
        for (const h of doc.stages[i]!.hosts) if (h.state === 'pending') setHost(i, h.host, { state: 'skipped', reason });
      };
      if (stop) {
        setStage(i, { state: 'skipped' });
        skipAll(`the workflow ${stop.result === 'stopped' ? 'stopped' : stop.result} before this stage`);
        continue;
      }
      if (abort.signal.aborted) {
        stop = { result: 'cancelled' };
        setStage(i, { state: 'cancelled' });
        skipAll('cancelled before this stage started');
        continue;
      }
      if (stage.confirm) {
        setStage(i, { state: 'waiting-confirm' });
        const answer = await confirmStage(stage);
        if (answer !== true) {
          stop = answer === 'cancelled' ? { result: 'cancelled' } : { result: 'declined', reason: `stage ${stage.name} was not confirmed` };
          setStage(i, { state: answer === 'cancelled' ? 'cancelled' : 'declined' });
          skipAll(answer === 'cancelled' ? 'cancelled before this stage started' : 'not confirmed');
          continue;
        }
      }
      setStage(i, { state: 'running' });
      for (const h of stage.hosts) if (failedBefore.has(h)) setHost(i, h, { state: 'skipped', reason: `failed in stage ${failedBefore.get(h)}` });
      let batches = stage.batches.map((b) => b.filter((h) => !failedBefore.has(h))).filter((b) => b.length);
      let steps = stage.steps;
      const onHost = (host: string, step: StepPlan, end?: HostEnd) => {
        if (!end) return setHost(i, host, { state: 'running', step: step.label });
        if (end.state === 'skipped') return setHost(i, host, { state: 'skipped', reason: end.reason });
        if (end.state !== 'ok') setHost(i, host, { state: end.state === 'cancelled' ? 'cancelled' : 'failed', step: step.label, reason: end.reason ?? end.state });
      };

      if (stage.place && batches.length) {
        const all = batches.flat();
        const placed = await runSteps(stage, 0, 'steps', [stage.steps[0]!], all, onHost);
        const chosen = placed.standing[0];
        if (chosen) setStage(i, { placed: chosen });
        batches = chosen ? [[chosen]] : [];
        steps = stage.steps.slice(1);
        if (placed.cancelled) {
          stop = { result: 'cancelled' };
          setStage(i, { state: 'cancelled' });
          continue;
        }
        if (!chosen) {
          stop = { result: 'stopped', reason: `stage ${stage.name}: no host could be placed` };
          setStage(i, { state: 'failed', failed: all.length });
          continue;
        }
      }

      let failedCount = 0;
      for (const [b, hosts] of batches.entries()) {
        if (abort.signal.aborted) {
          stop = { result: 'cancelled' };
          break;
        }
        emit({ type: 'batch', stage: i, batch: b, hosts });
        const r = await runSteps(stage, b, 'steps', steps, hosts, onHost);
        for (const h of r.standing) setHost(i, h, { state: 'done' });
        failedCount += [...r.failed.values()].filter((f) => f.end.state !== 'cancelled').length;
        setStage(i, { failed: failedCount });
        if (r.cancelled) {
          stop = { result: 'cancelled' };
          break;
        }
        if (failedCount > stage.maxFail) {
          const names = [...r.failed.keys()];
          stop = { result: 'stopped', reason: `stage ${stage.name}: ${failedCount} host(s) failed (max_fail ${stage.maxFail}); ${names.join(', ')} in batch ${b + 1}` };
          if (stage.onFailure.length) {
            const rollback = await runSteps(stage, b, 'on_failure', stage.onFailure, hosts, (host, step, end) => {
              if (!end) return;
              if (end.state !== 'ok') setHost(i, host, { state: 'rollback-failed', step: step.label, reason: `on_failure: ${end.reason ?? end.state}` });
            });
            for (const h of rollback.standing) {
              const was = doc.stages[i]!.hosts.find((x) => x.host === h)!;
              setHost(i, h, { state: 'rolled-back', step: was.step, reason: was.state === 'failed' ? was.reason : 'rolled back with its batch' });
            }
            if (rollback.cancelled) stop = { result: 'cancelled' };
          }
          break;
        }
      }
      for (const h of doc.stages[i]!.hosts) {
        if (h.state === 'failed' || h.state === 'rolled-back' || h.state === 'rollback-failed') failedBefore.set(h.host, stage.name);
      }
      const cancelled = stop?.result === 'cancelled';
      skipAll(cancelled ? 'cancelled before its batch started' : 'the stage stopped before its batch');
      setStage(i, { state: cancelled ? 'cancelled' : stop ? 'failed' : 'ok' });
    }
    return stop ?? { result: 'completed' };
  };

  const done = run()
    .catch((err: unknown) => ({ result: 'stopped' as const, reason: `internal error: ${err instanceof Error ? err.message : String(err)}` }))
    .then(async ({ result, reason }) => {
      unwatch();
      opts.signal?.removeEventListener('abort', onSignal);
      const settle = (s: WorkflowHostState): WorkflowHostState => (s === 'pending' ? 'skipped' : s === 'running' ? 'cancelled' : s);
      doc = {
        ...doc, state: 'done', result, ...(reason ? { reason } : {}), finishedAt: new Date().toISOString(),
        stages: doc.stages.map((s) => ({ ...s, hosts: s.hosts.map((h) => ({ ...h, state: settle(h.state) })) })),
      };
      save();
      await writing;
      emit({ type: 'done', doc });
      return doc;
    });

  return { id, doc: () => structuredClone(doc), done, cancel };
}
