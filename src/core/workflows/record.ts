// The record of a workflow run, beside the run store: ROOT/workflows/<id>/workflow.json, written only by
// the owner and always by atomic rename, with its steps as children (each names the run ids of the
// recorded runs it made). Cancel requests from any process are files dropped in the same directory.
import { randomBytes } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunOrigin } from '../exec/run';
import type { LiveState } from '../jobs/outcome';
import { ownerAlive, startedByHere, type RunOwner } from '../jobs/store';
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

export class WorkflowNotFoundError extends Error {}

const FILE = 'workflow.json';
const CANCEL_PREFIX = 'cancel-';
const ID_SHAPE = /^\d{8}T\d{6}-[0-9a-f]{6,}$/;


export class WorkflowStore {
  readonly dir: string;

  constructor(readonly root: string) {
    this.dir = join(root, 'workflows');
  }

  dirOf(id: string): string {
    if (!ID_SHAPE.test(id)) throw new WorkflowNotFoundError(`${JSON.stringify(id)} is not a workflow run id`);
    return join(this.dir, id);
  }

  async create(doc: WorkflowDoc): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await mkdir(this.dirOf(doc.id), { mode: 0o700 });
    await this.write(doc);
  }

  async write(doc: WorkflowDoc): Promise<void> {
    const dir = this.dirOf(doc.id);
    const tmp = join(dir, `.${FILE}.${process.pid}.${randomBytes(3).toString('hex')}`);
    await writeFile(tmp, JSON.stringify(doc), { mode: 0o600 });
    await rename(tmp, join(dir, FILE));
  }

  /** As it stands; a run whose owner died is reported (and written back) as stopped. */
  async read(id: string): Promise<WorkflowDoc | undefined> {
    let doc: WorkflowDoc;
    try {
      doc = JSON.parse(await readFile(join(this.dirOf(id), FILE), 'utf8')) as WorkflowDoc;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      if (err instanceof SyntaxError) throw new Error(`workflow run ${id}: ${FILE} is damaged (${err.message})`);
      throw err;
    }
    if (doc.state === 'running' && !ownerAlive(doc.owner)) {
      doc = {
        ...doc, state: 'done', result: 'stopped', ownerDied: true, finishedAt: new Date().toISOString(),
        reason: `the process running this workflow (pid ${doc.owner.pid} on ${doc.owner.machine}) ended before it finished`,
      };
      await this.write(doc).catch(() => {});
    }
    return doc;
  }

  async ids(): Promise<string[]> {
    const names = await readdir(this.dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[];
      throw err;
    });
    return names.filter((n) => ID_SHAPE.test(n)).sort().reverse();
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
  async find(idOrPrefix: string): Promise<WorkflowDoc> {
    const ids = (await this.ids()).filter((id) => id.startsWith(idOrPrefix));
    const exact = ids.find((id) => id === idOrPrefix);
    if (!exact && ids.length > 1) throw new WorkflowNotFoundError(`workflow run id ${JSON.stringify(idOrPrefix)} is ambiguous (${ids.length} runs); give more characters`);
    const doc = ids.length ? await this.read(exact ?? ids[0]!) : undefined;
    if (!doc) throw new WorkflowNotFoundError(`no workflow run ${JSON.stringify(idOrPrefix)} in ${this.dir}; list them with: flotilla workflow status`);
    return doc;
  }

  async requestCancel(id: string): Promise<void> {
    const name = `${CANCEL_PREFIX}${Date.now()}-${randomBytes(3).toString('hex')}`;
    const tmp = join(this.dirOf(id), `.${name}`);
    await writeFile(tmp, JSON.stringify({ by: startedByHere(), pid: process.pid }), { mode: 0o600 });
    await rename(tmp, join(this.dirOf(id), name));
  }

  /** The owner's side: `onCancel` once a request is (or already was) in the directory. */
  watchCancels(id: string, onCancel: () => void): () => void {
    const dir = this.dirOf(id);
    let watcher: FSWatcher | undefined;
    const take = async () => {
      const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith(CANCEL_PREFIX));
      if (!names.length) return;
      onCancel();
      await Promise.all(names.map((n) => unlink(join(dir, n)).catch(() => {})));
    };
    try {
      watcher = watch(dir, (_e, name) => { if (!name || String(name).startsWith(CANCEL_PREFIX)) void take(); });
      watcher.on('error', () => {});
    } catch { /* the re-check below still sees requests */ }
    void take();
    const recheck = setInterval(() => void take(), 2000);
    recheck.unref();
    return () => { clearInterval(recheck); watcher?.close(); };
  }

  /** `onChange` when the record changes. */
  watchRun(id: string, onChange: () => void): () => void {
    let watcher: FSWatcher | undefined;
    try {
      watcher = watch(this.dirOf(id), (_e, name) => { if (!name || String(name) === FILE) onChange(); });
      watcher.on('error', () => {});
    } catch { /* gone */ }
    return () => watcher?.close();
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
