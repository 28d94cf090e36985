// The record of a workflow run, beside the run store: ROOT/workflows/<id>/workflow.json, written only by
// the owner and always by atomic rename, with its steps as children (each names the run ids of the
// recorded runs it made). Cancel requests from any process are files dropped in the same directory.
import { watch, type FSWatcher } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunOrigin } from '../exec/run';
import type { LiveState } from '../jobs/outcome';
import { RecordFolder, RecordNotFoundError, type RunOwner } from '../jobs/records';
import type { StepKind } from './model';

/** Where a host stands in a stage. */
export type WorkflowHostState =
  | 'pending' | 'running'
  /** Every step passed. */
  | 'done'
  | 'failed'
  /** Failed, or in the failed batch, and on_failure then passed on it. */
  | 'rolled-back'
  | 'rollback-failed'
  | 'cancelled'
  /** Never touched by this stage (a batch after the stop, a later stage, not chosen by place). */
  | 'skipped';

export interface StageHost {
  host: string;
  state: WorkflowHostState;
  /** The step running now, or the one that failed. */
  step?: string;
  reason?: string;
}

export type StageState = 'pending' | 'waiting-confirm' | 'running' | 'ok' | 'failed' | 'cancelled' | 'declined' | 'skipped';

export interface StageRecord {
  name: string;
  state: StageState;
  batches: string[][];
  maxFail: number;
  confirm: boolean;
  /** The host place chose. */
  placed?: string;
  failed: number;
  hosts: StageHost[];
}

export interface StepHost {
  state: LiveState | 'skipped';
  reason?: string;
  runId?: string;
}

export interface StepRecord {
  stage: number;
  batch: number;
  phase: 'steps' | 'on_failure';
  index: number;
  kind: StepKind;
  label: string;
  state: 'running' | 'ok' | 'failed' | 'cancelled';
  startedAt: string;
  finishedAt?: string;
  /** Recorded runs of this step (run, gate, place steps): one per distinct command. */
  runIds: string[];
  hosts: Record<string, StepHost>;
}

/** completed: every stage ran; stopped: a stage went over max_fail; declined: a confirm was answered no. */
export type WorkflowResult = 'completed' | 'stopped' | 'cancelled' | 'declined';

export interface WorkflowDoc {
  version: 1;
  id: string;
  name: string;
  file?: string;
  state: 'running' | 'done';
  result?: WorkflowResult;
  reason?: string;
  origin: RunOrigin;
  startedBy: string;
  owner: RunOwner;
  startedAt: string;
  finishedAt?: string;
  vars: Record<string, string>;
  stages: StageRecord[];
  steps: StepRecord[];
  ownerDied?: boolean;
}

/** A workflow run id that names no workflow run (or names several). */
export const WorkflowNotFoundError = RecordNotFoundError;

const FILE = 'workflow.json';

/** Workflow runs beside the run store, in the same owned-record folder shape as runs. */
export class WorkflowStore {
  readonly dir: string;
  private readonly records: RecordFolder<WorkflowDoc>;

  constructor(readonly root: string) {
    this.dir = join(root, 'workflows');
    this.records = new RecordFolder<WorkflowDoc>(this.dir, {
      file: FILE,
      what: 'workflow run',
      listHint: 'flotilla workflow status',
      onOwnerDied: (doc) => ({
        ...doc, state: 'done', result: 'stopped', ownerDied: true, finishedAt: new Date().toISOString(),
        reason: `the process running this workflow (pid ${doc.owner.pid} on ${doc.owner.machine}) ended before it finished`,
      }),
    });
  }

  dirOf(id: string): string {
    return this.records.dirOf(id);
  }

  async create(doc: WorkflowDoc): Promise<void> {
    await this.records.create(doc);
  }

  write(doc: WorkflowDoc): Promise<void> {
    return this.records.write(doc);
  }

  /** As it stands; a run whose owner died is reported (and written back) as stopped. */
  read(id: string): Promise<WorkflowDoc | undefined> {
    return this.records.read(id);
  }

  ids(): Promise<string[]> {
    return this.records.ids();
  }

  async list(limit = 50): Promise<WorkflowDoc[]> {
    const out: WorkflowDoc[] = [];
    for (const id of await this.ids()) {
      if (out.length >= limit) break;
      const doc = await this.read(id).catch(() => undefined);
      if (doc) out.push(doc);
    }
    return out;
  }

  /** By id or unambiguous prefix. */
  find(idOrPrefix: string): Promise<WorkflowDoc> {
    return this.records.find(idOrPrefix);
  }

  requestCancel(id: string): Promise<void> {
    return this.records.requestCancel(id);
  }

  /** The owner's side: `onCancel` once a request is (or already was) in the directory. */
  watchCancels(id: string, onCancel: () => void): () => void {
    return this.records.watchCancels(id, () => onCancel());
  }

  /** `onChange` when the record changes. */
  watchRun(id: string, onChange: () => void): () => void {
    return this.records.watchRecord(id, onChange);
  }
}
/** `onChange` when workflow runs are created, change or end (any process); the folder is made if missing. */
export function watchWorkflows(store: WorkflowStore, onChange: () => void): () => void {
  let watcher: FSWatcher | undefined;
  let closed = false;
  void mkdir(store.dir, { recursive: true, mode: 0o700 }).catch(() => {}).then(() => {
    if (closed) return;
    try {
      watcher = watch(store.dir, { recursive: true }, () => onChange());
      watcher.on('error', () => {});
    } catch { /* the re-check below still runs */ }
  });
  const recheck = setInterval(onChange, 3000);
  recheck.unref();
  return () => { closed = true; clearInterval(recheck); watcher?.close(); };
}
