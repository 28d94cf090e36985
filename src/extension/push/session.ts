// One push, from plan to result: what is pushed where, every host's plan as it arrives, progress and
// per-item results once applied. The Push Plan view and the report render this; nothing here draws UI.
import * as vscode from 'vscode';
import type { HostPushResult, ProgressEvent } from '../../core/push/apply';
import { formatSize, type PlannedHost } from '../../core/push/plan';
import type { PlannedSession } from '../../core/push/push';
import type { ScanOutput } from '../../core/push/scan';

export type SessionState = 'planning' | 'planned' | 'applying' | 'applied';

export interface PushSource {
  /** The local directory the scan starts at. */
  root: string;
  /** Shown in titles: the folder (or file) name as the user picked it. */
  label: string;
  /** Pushing single files: only these paths (relative to root); never deletes. */
  files?: string[];
}

export interface PushSession {
  id: number;
  source: PushSource;
  targetLabel: string;
  targetKey: string;
  hosts: string[];
  remote: string;
  delete: boolean;
  maxDelete: number;
  state: SessionState;
  scan?: ScanOutput;
  plans: Map<string, PlannedHost>;
  results: Map<string, HostPushResult>;
  progress: Map<string, ProgressEvent>;
  controller?: AbortController;
  plannedAt?: number;
  /** The core's dry-run session, applied as it is after confirmation. */
  planned?: PlannedSession;
  /** Set when planning or applying was cancelled or stopped by an error. */
  note?: string;
}

/** Holds the current session (at most one) and says when it changed. */
export class SessionStore implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<PushSession | undefined>();
  readonly onDidChange = this.changed.event;
  current: PushSession | undefined;
  private nextId = 1;

  start(init: Omit<PushSession, 'id' | 'state' | 'plans' | 'results' | 'progress'>): PushSession {
    this.current?.controller?.abort();
    this.current = { ...init, id: this.nextId++, state: 'planning', plans: new Map(), results: new Map(), progress: new Map() };
    this.fire();
    return this.current;
  }

  clear(): void {
    this.current?.controller?.abort();
    this.current = undefined;
    this.fire();
  }

  isCurrent(s: PushSession): boolean {
    return this.current === s;
  }

  fire(): void {
    this.changed.fire(this.current);
  }

  dispose(): void {
    this.current?.controller?.abort();
    this.changed.dispose();
  }
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** `3 new · 1 changed · 2 to delete · 40 unchanged` (zero counts left out, except when nothing changes). */
export function planCounts(plan: PlannedHost): string {
  if (plan.fatal) return plan.unreachable ? 'unreachable' : 'cannot plan';
  const parts: string[] = [];
  if (plan.create.length) parts.push(`${plan.create.length} new`);
  if (plan.update.length) parts.push(`${plan.update.length} changed`);
  if (plan.delete.length) parts.push(`${plan.delete.length} to delete${plan.deleteBlocked ? ' (blocked)' : ''}`);
  if (!parts.length) parts.push('up to date');
  parts.push(`${plan.unchanged} unchanged`);
  if (plan.errors.length) parts.push(plural(plan.errors.length, 'error'));
  return parts.join(' · ');
}

/** Work the plan would do on a host (deletions only when they will run). */
export function planWork(plan: PlannedHost): number {
  if (plan.fatal) return 0;
  return plan.create.length + plan.update.length + (plan.deleteBlocked ? 0 : plan.delete.length);
}

export function resultCounts(result: HostPushResult): string {
  const ok = (a: string) => result.results.filter((r) => r.ok && r.action === a).length;
  const failed = result.results.filter((r) => !r.ok).length;
  const parts: string[] = [result.state];
  if (ok('create')) parts.push(`${ok('create')} created`);
  if (ok('update')) parts.push(`${ok('update')} updated`);
  if (ok('delete')) parts.push(`${ok('delete')} deleted`);
  if (failed) parts.push(`${failed} failed`);
  if (parts.length === 1 && result.state === 'ok') parts.push('nothing to do');
  return parts.join(' · ');
}

/** Sizes as the core words them (`1.2 MiB`). */
export const formatBytes = formatSize;
