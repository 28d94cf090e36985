// A folder of owned records, one directory per id (`<dir>/<id>/<file>`): the owner rewrites its record
// by atomic rename, any process reads it (a record whose owner died is settled by `onOwnerDied` and
// written back), finds it by id prefix, and drops cancel requests that the owner watches for.
// The run store and the workflow store are both one of these.
import { randomBytes } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';

export interface RunOwner {
  pid: number;
  machine: string;
  /** The process's start time in clock ticks since boot (Linux), so a reused pid is not taken for the owner. */
  startTicks?: string;
}

export interface OwnedRecord {
  id: string;
  state: 'running' | 'done';
  owner: RunOwner;
}

export class RecordNotFoundError extends Error {}

export const ID_SHAPE = /^\d{8}T\d{6}-[0-9a-f]{6,}$/;
const CANCEL_PREFIX = 'cancel-';

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

export interface RecordFolderOptions<T> {
  /** The record's file name in its directory (`run.json`). */
  file: string;
  /** What one record is called in messages (`run`, `workflow run`). */
  what: string;
  /** The command that lists records, for the not-found hint. */
  listHint: string;
  /** A running record whose owner is gone, settled. */
  onOwnerDied: (doc: T) => T;
}

export class RecordFolder<T extends OwnedRecord> {
  constructor(readonly dir: string, private readonly opts: RecordFolderOptions<T>) {}

  dirOf(id: string): string {
    if (!ID_SHAPE.test(id)) throw new RecordNotFoundError(`${JSON.stringify(id)} is not a ${this.opts.what} id`);
    return join(this.dir, id);
  }

  /** Makes the record's directory (it must not exist) and writes the first version. */
  async create(doc: T): Promise<string> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const dir = this.dirOf(doc.id);
    await mkdir(dir, { mode: 0o700 });
    await this.write(doc);
    return dir;
  }

  /** Atomic: readers see the old or the new document, never half of one. */
  async write(doc: T): Promise<void> {
    const dir = this.dirOf(doc.id);
    const tmp = join(dir, `.${this.opts.file}.${process.pid}.${randomBytes(3).toString('hex')}`);
    await writeFile(tmp, JSON.stringify(doc), { mode: 0o600 });
    await rename(tmp, join(dir, this.opts.file));
  }

  /** The record as it stands; one whose owner died is settled and written back. */
  async read(id: string): Promise<T | undefined> {
    let doc: T;
    try {
      doc = JSON.parse(await readFile(join(this.dirOf(id), this.opts.file), 'utf8')) as T;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      if (err instanceof SyntaxError) throw new Error(`${this.opts.what} ${id}: ${this.opts.file} is damaged (${err.message})`);
      throw err;
    }
    if (doc.state === 'running' && !ownerAlive(doc.owner)) {
      doc = this.opts.onOwnerDied(doc);
      await this.write(doc).catch(() => {});
    }
    return doc;
  }

  /** Ids, newest first (ids start with their UTC start time). */
  async ids(): Promise<string[]> {
    const names = await readdir(this.dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[];
      throw err;
    });
    return names.filter((n) => ID_SHAPE.test(n)).sort().reverse();
  }

  /** By id or unambiguous id prefix. */
  async find(idOrPrefix: string): Promise<T> {
    const ids = (await this.ids()).filter((id) => id.startsWith(idOrPrefix));
    const exact = ids.find((id) => id === idOrPrefix);
    const { what } = this.opts;
    if (!exact && ids.length > 1) {
      throw new RecordNotFoundError(`${what} id ${JSON.stringify(idOrPrefix)} is ambiguous (${ids.length} matches); give more characters`);
    }
    const doc = ids.length ? await this.read(exact ?? ids[0]!) : undefined;
    if (!doc) throw new RecordNotFoundError(`no ${what} ${JSON.stringify(idOrPrefix)} in ${this.dir}; list them with: ${this.opts.listHint}`);
    return doc;
  }

  /** Asks the owner, wherever it runs, to cancel (the body says what, e.g. one host). */
  async requestCancel(id: string, body: Record<string, unknown> = {}): Promise<void> {
    const name = `${CANCEL_PREFIX}${Date.now()}-${randomBytes(3).toString('hex')}.json`;
    const tmp = join(this.dirOf(id), `.${name}`);
    await writeFile(tmp, JSON.stringify({ ...body, by: startedByHere(), pid: process.pid }), { mode: 0o600 });
    await rename(tmp, join(this.dirOf(id), name));
  }

  /** The owner's side of cancel: `onCancel` for every request dropped in (or already there), then it is deleted. */
  watchCancels(id: string, onCancel: (body: Record<string, unknown>) => void): () => void {
    const dir = this.dirOf(id);
    const seen = new Set<string>();
    const take = async () => {
      const names = await readdir(dir).catch(() => [] as string[]);
      for (const name of names) {
        if (!name.startsWith(CANCEL_PREFIX) || seen.has(name)) continue;
        seen.add(name);
        let body: Record<string, unknown> = {};
        try {
          body = JSON.parse(await readFile(join(dir, name), 'utf8')) as Record<string, unknown>;
        } catch { /* unreadable: cancel everything rather than nothing */ }
        onCancel(body);
        await unlink(join(dir, name)).catch(() => {});
      }
    };
    return watchDir(dir, (name) => name === null || name.startsWith(CANCEL_PREFIX), () => void take());
  }

  /** `onChange` when the record changes (debounced by the caller if it cares). */
  watchRecord(id: string, onChange: () => void): () => void {
    return watchDir(this.dirOf(id), (name) => name === null || name === this.opts.file, onChange);
  }

  /** `onChange` when records are created or deleted. */
  watchAll(onChange: () => void): () => void {
    return watchDir(this.dir, () => true, onChange, { create: true, namesOnly: true });
  }
}

/**
 * fs.watch on a directory (inotify here), plus a slow re-check in case the platform drops events
 * (network file systems) that fires only when the wanted entries (or, unless `namesOnly`, their mtimes)
 * changed. `create` makes the directory first so a watch can start before any record.
 */
export function watchDir(dir: string, wanted: (name: string | null) => boolean, onEvent: () => void, opts: { create?: boolean; namesOnly?: boolean } = {}): () => void {
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
