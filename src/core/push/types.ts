// Shared vocabulary of scan → plan → apply (and pull).
import type { ConnectError } from '../ssh/connect';

export type EntryType = 'file' | 'dir' | 'symlink';

export interface LocalEntry {
  type: EntryType;
  size: number;
  mtimeMs: number;
  /** Nanoseconds within the second, when the scan read them exactly (mtimeMs is a double). */
  mtimeNsec?: number;
  mode: number;
  /** For symlinks: the link text, kept as written (always relative and inside the root). */
  linkTarget?: string;
}

export interface SkippedPath {
  path: string;
  reason: string;
}

export interface PathError {
  path: string;
  message: string;
}

export interface ScanResult {
  root: string;
  /** posix relative path → entry; parents always precede children in iteration order. */
  entries: Map<string, LocalEntry>;
  skipped: SkippedPath[];
  errors: PathError[];
  /** Entries whose local file is not `root/<rel>` (a single file pushed under another name). */
  sources?: ReadonlyMap<string, string>;
  /** The local clock when the scan began (see changeableInSameSecond). */
  startedMs?: number;
}

/**
 * True when a same-size edit could still give this entry a new mtime in the same whole second: it was
 * modified in the second before the scan began, or later (a second of slack for the kernel's coarse file
 * clock). Every other file is read after its mtime's second has ended, so any later edit lands in a later
 * second and whole seconds on the remote tell it apart. The writers keep exact mtimes for these entries
 * (a pax record in the tar stream, a `touch` after SFTP); the planner can then trust whole seconds.
 */
export function changeableInSameSecond(scan: ScanResult, entry: LocalEntry): boolean {
  if (scan.startedMs === undefined) return true;
  return Math.floor(entry.mtimeMs / 1000) >= Math.floor(scan.startedMs / 1000) - 1;
}

/** One entry of a remote listing (`find -printf` or an SFTP walk). */
export interface RemoteEntry {
  /** find's %y letter: f d l p s c b (D door on Solaris). */
  kind: string;
  size: number;
  /** Whole seconds. */
  mtime: number;
  /** Nanoseconds within the second as the remote reported them (0 or absent: it keeps whole seconds). */
  mtimeNsec?: number;
  mode: number;
  linkTarget?: string;
}

export type ItemAction = 'create' | 'update' | 'delete';

/** What changed, rsync `-i` style: content, time, perms, link text, type. */
export interface ItemChanges {
  content?: boolean;
  size?: boolean;
  time?: boolean;
  perms?: boolean;
  link?: boolean;
  type?: boolean;
}

export interface PlanItem {
  path: string;
  action: ItemAction;
  /** Local type for create/update; remote type for delete. */
  type: EntryType | 'other';
  size: number;
  changes: ItemChanges;
}

export interface HostPlan {
  host: string;
  dest: string;
  create: PlanItem[];
  update: PlanItem[];
  delete: PlanItem[];
  unchanged: number;
  skipped: SkippedPath[];
  errors: PathError[];
  /** Set when deletions are listed but will not be executed. */
  deleteBlocked?: string;
  /** Number of entries found at the destination (before the push). */
  remoteEntries: number;
  /** The listing command could not run at all (host unreachable, bad destination...). */
  fatal?: string;
  /** Transport-level failure (connect refused, auth...) rather than a path problem. */
  unreachable?: boolean;
  /** The failed connect behind `unreachable`, when the listing never reached the host (the run records it as health). */
  connectError?: ConnectError;
  /** Missing parent directories of the destination that the apply creates (absolute remote paths). */
  parents: string[];
  /** Temp files / staging directories of interrupted pushes (relative to the destination); a real push removes them. */
  leftovers: string[];
  /** Bytes the apply will send (contents of new and changed files). */
  bytesToSend: number;
  /** Free bytes on the destination's filesystem, as df reported them. */
  freeBytes?: number;
  /** How same-size files with different times were compared (e.g. "sha256sum -z", "shasum -a 256", "size+mtime"). */
  contentCheck?: string;
  /** Remote files/links under the destination that are not in the local tree (counted even when deletion is off). */
  extraneous: number;
}

/** Modes we ever set remotely: never setuid/setgid/sticky, never group/other-writable. */
export function remoteModeFor(localMode: number): number {
  return localMode & 0o755;
}

/** The temp-name pattern of in-flight uploads; anything matching it is ours to clean up. */
export const TEMP_MARKER = '.flotilla-tmp-';
