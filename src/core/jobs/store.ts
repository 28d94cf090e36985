// The run store shared by every front end: ROOT/runs/<id>/ holds run.json (written only by the run's
// owner, always by atomic rename), the hosts' output files, and cancel requests that any process drops
// in. Nothing is appended to a shared file, so any number of processes can record runs at once.
import { randomBytes } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { homedir, hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { outputFileName, type RunOrigin } from '../exec/run';
import type { HostOutcome, HostProgress } from './outcome';

/** What the Runs view, `flotilla status` and MCP know about a host of a run. */
export type HostEntry = { host: string } & (HostProgress | HostOutcome) & {
  stdoutBytes?: number;
  stderrBytes?: number;
  truncated?: boolean;
  stdoutFile?: string;
  stderrFile?: string;
};

export interface RunOwner {
  pid: number;
  machine: string;
  /** The process's start time in clock ticks since boot (Linux), so a reused pid is not taken for the owner. */
  startTicks?: string;
}

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

export class RunNotFoundError extends Error {}

export const RUN_FILE = 'run.json';
const CANCEL_PREFIX = 'cancel-';

/** The store every front end uses unless told otherwise: `$XDG_DATA_HOME/flotilla` or `~/.local/share/flotilla`. */
export function defaultStoreRoot(env: Record<string, string | undefined> = process.env): string {
  return env.FLOTILLA_STORE || join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'flotilla');
}

export function startedByHere(): string {
  let user = 'unknown';
  try { user = userInfo().username; } catch { /* no passwd entry */ }
  return `${user}@${hostname()}`;
}

/** Field 22 of /proc/PID/stat; undefined off Linux or when the process is gone. */
export function processStartTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export function ownerHere(pid = process.pid): RunOwner {
  return { pid, machine: hostname(), startTicks: processStartTicks(pid) };
}

/** False only when the owner is known to be gone (same machine, no such process, or its pid was reused). */
export function ownerAlive(owner: RunOwner): boolean {
  if (owner.machine !== hostname()) return true;
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  if (owner.startTicks === undefined) return true;
  const now = processStartTicks(owner.pid);
  return now === undefined || now === owner.startTicks;
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

const ID_SHAPE = /^\d{8}T\d{6}-[0-9a-f]{6,}$/;

export class RunStore {
  readonly runsDir: string;

  constructor(readonly root: string) {
    this.runsDir = join(root, 'runs');
  }

  dirOf(id: string): string {
    if (!ID_SHAPE.test(id)) throw new RunNotFoundError(`${JSON.stringify(id)} is not a run id`);
    return join(this.runsDir, id);
  }

  /** Where a host's output of a run is (or will be) written. */
  outputFiles(id: string, host: string): { stdout: string; stderr: string } {
    const dir = this.dirOf(id);
    return { stdout: join(dir, outputFileName(host, 'stdout')), stderr: join(dir, outputFileName(host, 'stderr')) };
  }

  /** Makes the run's directory (it must not exist) and writes its first run.json. */
  async create(doc: RunDoc): Promise<string> {
    await mkdir(this.runsDir, { recursive: true, mode: 0o700 });
    const dir = this.dirOf(doc.id);
    await mkdir(dir, { mode: 0o700 });
    await this.write(doc);
    return dir;
  }

  /** Atomic: readers see the old or the new document, never half of one. */
  async write(doc: RunDoc): Promise<void> {
    const dir = this.dirOf(doc.id);
    const tmp = join(dir, `.${RUN_FILE}.${process.pid}.${randomBytes(3).toString('hex')}`);
    await writeFile(tmp, JSON.stringify(doc), { mode: 0o600 });
    await rename(tmp, join(dir, RUN_FILE));
  }

  /** The run as it stands, with a dead owner's unfinished hosts reported as lost (and that written back). */
  async read(id: string): Promise<RunDoc | undefined> {
    let doc: RunDoc;
    try {
      doc = JSON.parse(await readFile(join(this.dirOf(id), RUN_FILE), 'utf8')) as RunDoc;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      if (err instanceof SyntaxError) throw new Error(`run ${id}: ${RUN_FILE} is damaged (${err.message})`);
      throw err;
    }
    if (doc.state === 'running' && !ownerAlive(doc.owner)) {
      doc = markOwnerDied(doc);
      await this.write(doc).catch(() => {});
    }
    return doc;
  }

  /** Run ids, newest first (ids start with their UTC start time). */
  async ids(): Promise<string[]> {
    const names = await readdir(this.runsDir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[];
      throw err;
    });
    return names.filter((n) => ID_SHAPE.test(n)).sort().reverse();
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
  async find(idOrPrefix: string): Promise<RunDoc> {
    const ids = (await this.ids()).filter((id) => id.startsWith(idOrPrefix));
    const exact = ids.find((id) => id === idOrPrefix);
    if (!exact && ids.length > 1) {
      throw new RunNotFoundError(`run id ${JSON.stringify(idOrPrefix)} is ambiguous (${ids.length} runs); give more characters`);
    }
    const doc = ids.length ? await this.read(exact ?? ids[0]!) : undefined;
    if (!doc) throw new RunNotFoundError(`no run ${JSON.stringify(idOrPrefix)} in the run store ${this.root}; list runs with: flotilla history`);
    return doc;
  }

  /** Asks the run's owner, wherever it runs, to cancel one host or all. */
  async requestCancel(id: string, host?: string): Promise<void> {
    const name = `${CANCEL_PREFIX}${Date.now()}-${randomBytes(3).toString('hex')}.json`;
    const tmp = join(this.dirOf(id), `.${name}`);
    await writeFile(tmp, JSON.stringify({ host: host ?? null, by: startedByHere(), pid: process.pid }), { mode: 0o600 });
    await rename(tmp, join(this.dirOf(id), name));
  }

  /**
   * The owner's side of cancel: calls `onCancel` for every request dropped in the run's directory
   * (and for those already there), then deletes the request.
   */
  watchCancels(id: string, onCancel: (host: string | undefined) => void): () => void {
    const dir = this.dirOf(id);
    const seen = new Set<string>();
    const take = async () => {
      const names = await readdir(dir).catch(() => [] as string[]);
      for (const name of names) {
        if (!name.startsWith(CANCEL_PREFIX) || seen.has(name)) continue;
        seen.add(name);
        let host: string | undefined;
        try {
          host = (JSON.parse(await readFile(join(dir, name), 'utf8')) as { host?: string | null }).host ?? undefined;
        } catch { /* unreadable: cancel everything rather than nothing */ }
        onCancel(host);
        await unlink(join(dir, name)).catch(() => {});
      }
    };
    return watchDir(dir, (name) => name === null || name.startsWith(CANCEL_PREFIX), () => void take());
  }

  /** Calls `onChange` when the run's record changes (debounced by the caller if it cares). */
  watchRun(id: string, onChange: () => void): () => void {
    return watchDir(this.dirOf(id), (name) => name === null || name === RUN_FILE, onChange);
  }

  /** Calls `onChange` when runs are created or deleted. */
  watchRuns(onChange: () => void): () => void {
    return watchDir(this.runsDir, () => true, onChange, { create: true, namesOnly: true });
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

/**
 * fs.watch on a directory (inotify here), plus a slow re-check in case the platform drops events
 * (network file systems) that fires only when the wanted entries (or, unless `namesOnly`, their mtimes)
 * changed. `create` makes the directory first so a watch can start before any run.
 */
function watchDir(dir: string, wanted: (name: string | null) => boolean, onEvent: () => void, opts: { create?: boolean; namesOnly?: boolean } = {}): () => void {
  let watcher: FSWatcher | undefined;
  let closed = false;
  let signature = '';
  const changed = async () => {
    const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => wanted(n)).sort();
    const stamps = opts.namesOnly ? names : await Promise.all(names.map(async (n) => `${n}:${(await stat(join(dir, n)).catch(() => ({ mtimeMs: 0 }))).mtimeMs}`));
    const next = stamps.join('|');
    const differs = next !== signature;
    signature = next;
    return differs;
  };
  const start = async () => {
    if (opts.create) await mkdir(dir, { recursive: true, mode: 0o700 }).catch(() => {});
    if (closed) return;
    try {
      watcher = watch(dir, (_event, name) => { if (wanted(name ? String(name) : null)) onEvent(); });
      watcher.on('error', () => {});
    } catch { /* gone: the re-check below still runs */ }
    await changed();
    onEvent();
  };
  void start();
  const recheck = setInterval(() => void changed().then((differs) => { if (differs && !closed) onEvent(); }), 2000);
  recheck.unref();
  return () => {
    closed = true;
    clearInterval(recheck);
    watcher?.close();
  };
}
