// The run store shared by every front end: ROOT/runs/<id>/ holds run.json (written only by the run's
// owner, always by atomic rename), the hosts' output files, and cancel requests that any process drops
// in. Nothing is appended to a shared file, so any number of processes can record runs at once.
import { readdir, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { outputFileName, type RunOrigin } from '../exec/run';
import { RecordFolder, RecordNotFoundError, type RunOwner } from './records';
import { isFinal, type HostOutcome, type HostProgress } from './outcome';

/** What the Runs view, `flotilla status` and MCP know about a host of a run. */
export type HostEntry = { host: string } & (HostProgress | HostOutcome) & {
  stdoutBytes?: number;
  stderrBytes?: number;
  truncated?: boolean;
  stdoutFile?: string;
  stderrFile?: string;
};


export interface Placement {
  candidates: string[];
  chosen?: string;
  explanation: string;
}

export type RunPhase = 'measuring' | 'pushing' | 'placing-files' | 'running';

export interface RunDoc {
  version: 1;
  id: string;
  kind: 'run' | 'least-loaded';
  state: 'running' | 'done';
  phase?: RunPhase;
  origin: RunOrigin;
  /** user@machine of whoever started it. */
  startedBy: string;
  owner: RunOwner;
  startedAt: string;
  finishedAt?: string;
  /** The target as the user wrote it (`web`, `lab-1,lab-2`, `all`). */
  target?: string;
  command: string;
  argv?: string[];
  cwd?: string;
  timeoutMs: number;
  /** Local paths placed in the run's private temp directory on each host. */
  files?: string[];
  keepFiles?: boolean;
  placement?: Placement;
  hosts: HostEntry[];
  /** Set by a reader that found the owner gone while the run was unfinished. */
  ownerDied?: boolean;
}

/** A run id that names no run (or names several). */
export const RunNotFoundError = RecordNotFoundError;
export type { RunOwner };
export { ownerAlive, ownerHere, startedByHere, processStartTicks } from './records';

export const RUN_FILE = 'run.json';

/** The store every front end uses unless told otherwise: `$XDG_DATA_HOME/flotilla` or `~/.local/share/flotilla`. */
export function defaultStoreRoot(env: Record<string, string | undefined> = process.env): string {
  return env.FLOTILLA_STORE || join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'flotilla');
}

/** An unfinished run whose owner is gone: every host without an outcome is lost. */
export function markOwnerDied(doc: RunDoc, now = new Date()): RunDoc {
  const reason = `the process running this run (pid ${doc.owner.pid} on ${doc.owner.machine}) ended before the host finished; the remote command may still run`;
  return {
    ...doc,
    state: 'done',
    phase: undefined,
    finishedAt: now.toISOString(),
    ownerDied: true,
    hosts: doc.hosts.map((h): HostEntry => {
      if (h.state !== 'pending' && h.state !== 'running') return h;
      const startedAt = h.state === 'running' ? Date.parse(h.startedAt) : now.getTime();
      const { host, stdoutBytes, stderrBytes, truncated, stdoutFile, stderrFile } = h;
      return {
        host, stdoutBytes, stderrBytes, truncated, stdoutFile, stderrFile,
        state: 'lost', remoteStopped: false, reason, durationMs: Math.max(0, now.getTime() - startedAt),
      };
    }),
  };
}

export interface ListOptions {
  limit?: number;
  /** Only runs that involve one of these hosts. */
  hosts?: readonly string[];
}

export interface PruneOptions {
  /** Finished runs older than this are deleted (default 30 days). */
  maxAgeMs?: number;
  /** At most this many runs are kept, newest first (default 1000). */
  maxRuns?: number;
  /** Runs beyond this much disk (records and output, newest kept first) are deleted (default 1 GiB). */
  maxBytes?: number;
}

export const DEFAULT_PRUNE: Required<PruneOptions> = { maxAgeMs: 30 * 86_400_000, maxRuns: 1000, maxBytes: 1024 ** 3 };

export class RunStore {
  readonly runsDir: string;
  private readonly records: RecordFolder<RunDoc>;

  constructor(readonly root: string) {
    this.runsDir = join(root, 'runs');
    this.records = new RecordFolder<RunDoc>(this.runsDir, { file: RUN_FILE, what: 'run', listHint: 'flotilla history', onOwnerDied: (d) => markOwnerDied(d) });
  }

  dirOf(id: string): string {
    return this.records.dirOf(id);
  }

  /** Where a host's output of a run is (or will be) written. */
  outputFiles(id: string, host: string): { stdout: string; stderr: string } {
    const dir = this.dirOf(id);
    return { stdout: join(dir, outputFileName(host, 'stdout')), stderr: join(dir, outputFileName(host, 'stderr')) };
  }

  /** Makes the run's directory (it must not exist) and writes its first run.json. */
  create(doc: RunDoc): Promise<string> {
    return this.records.create(doc);
  }

  /** Atomic: readers see the old or the new document, never half of one. */
  write(doc: RunDoc): Promise<void> {
    return this.records.write(doc);
  }

  /** The run as it stands, with a dead owner's unfinished hosts reported as lost (and that written back). */
  read(id: string): Promise<RunDoc | undefined> {
    return this.records.read(id);
  }

  /** Run ids, newest first (ids start with their UTC start time). */
  ids(): Promise<string[]> {
    return this.records.ids();
  }

  /** Newest first. Damaged records are named, not silently dropped; a run still being created is skipped. */
  async list(opts: ListOptions = {}): Promise<{ runs: RunDoc[]; damaged: string[] }> {
    const limit = opts.limit ?? 100;
    const runs: RunDoc[] = [];
    const damaged: string[] = [];
    for (const id of await this.ids()) {
      if (runs.length >= limit) break;
      try {
        const doc = await this.read(id);
        if (!doc) continue;
        if (opts.hosts && !doc.hosts.some((h) => opts.hosts!.includes(h.host)) && !doc.placement?.candidates.some((c) => opts.hosts!.includes(c))) continue;
        runs.push(doc);
      } catch {
        damaged.push(id);
      }
    }
    return { runs, damaged };
  }

  /** A run by id or unambiguous id prefix. */
  find(idOrPrefix: string): Promise<RunDoc> {
    return this.records.find(idOrPrefix);
  }

  /** Asks the run's owner, wherever it runs, to cancel one host or all. */
  requestCancel(id: string, host?: string): Promise<void> {
    return this.records.requestCancel(id, { host: host ?? null });
  }

  /** The owner's side of cancel: `onCancel` for every request dropped in the run's directory (and those already there). */
  watchCancels(id: string, onCancel: (host: string | undefined) => void): () => void {
    return this.records.watchCancels(id, (body) => onCancel(typeof body.host === 'string' ? body.host : undefined));
  }

  /** Calls `onChange` when the run's record changes (debounced by the caller if it cares). */
  watchRun(id: string, onChange: () => void): () => void {
    return this.records.watchRecord(id, onChange);
  }

  /** Calls `onChange` when runs are created or deleted. */
  watchRuns(onChange: () => void): () => void {
    return this.records.watchAll(onChange);
  }

  /** Deletes finished runs beyond the age, count and size limits (the newest are kept); unfinished runs are kept. */
  async prune(opts: PruneOptions = {}, now = Date.now()): Promise<string[]> {
    const { maxAgeMs, maxRuns, maxBytes } = { ...DEFAULT_PRUNE, ...opts };
    const removed: string[] = [];
    let bytes = 0;
    for (const [i, id] of (await this.ids()).entries()) {
      bytes += await this.runBytes(id);
      if (i < maxRuns && now - idTime(id) <= maxAgeMs && bytes <= maxBytes) continue;
      const doc = await this.read(id).catch(() => undefined);
      if (doc?.state === 'running') continue;
      await rm(this.dirOf(id), { recursive: true, force: true });
      removed.push(id);
    }
    return removed;
  }

  private async runBytes(id: string): Promise<number> {
    let total = 0;
    for (const name of await readdir(this.dirOf(id)).catch(() => [] as string[])) {
      total += (await stat(join(this.dirOf(id), name)).catch(() => ({ size: 0 }))).size;
    }
    return total;
  }

  /** Deletes every finished run. */
  async clear(): Promise<void> {
    for (const id of await this.ids()) {
      const doc = await this.read(id).catch(() => undefined);
      if (doc?.state !== 'running') await rm(this.dirOf(id), { recursive: true, force: true });
    }
  }
}

/** Milliseconds since the epoch of a run id's start time. */
export function idTime(id: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})/.exec(id);
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) : 0;
}

/** The run (or one host of it) has nothing left to do. */
export function isSettled(doc: RunDoc, host?: string): boolean {
  return doc.state === 'done' || doc.hosts.filter((h) => host === undefined || h.host === host).every((h) => isFinal(h.state));
}
