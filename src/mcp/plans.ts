// Push plans an agent made and may apply: a plan id names exactly one scan and one plan per host. Applying
// re-reads the local tree first and refuses if anything in it changed, so what is written is what was shown.
import { randomBytes } from 'node:crypto';
import type { PlannedHost } from '../core/push/plan';
import { scanLocal, type ScanOutput } from '../core/push/scan';
import type { LocalEntry } from '../core/push/types';

export interface StoredPlan {
  id: string;
  target: string;
  hosts: string[];
  local: string;
  remote: string;
  delete: boolean;
  scan: ScanOutput;
  plans: PlannedHost[];
  createdAt: number;
}

/** Plans expire: a plan applied an hour later describes a world that has moved on. */
export const PLAN_TTL_MS = 60 * 60 * 1000;

const entryKey = (e: LocalEntry) => `${e.type}:${e.size}:${Math.floor(e.mtimeMs)}:${e.mode}:${e.linkTarget ?? ''}`;

/** Paths created, removed or changed (type, size, mtime, mode, link text) between two scans of a tree. */
export function changedPaths(before: ScanOutput, after: ScanOutput): string[] {
  const changed: string[] = [];
  for (const [path, e] of before.entries) {
    const now = after.entries.get(path);
    if (!now || entryKey(now) !== entryKey(e)) changed.push(path);
  }
  for (const path of after.entries.keys()) if (!before.entries.has(path)) changed.push(path);
  return changed.sort();
}

export class PlanBook {
  private readonly plans = new Map<string, StoredPlan>();

  constructor(private readonly now: () => number = Date.now) {}

  add(plan: Omit<StoredPlan, 'id' | 'createdAt'>): StoredPlan {
    this.expire();
    const stored = { ...plan, id: `plan-${randomBytes(6).toString('hex')}`, createdAt: this.now() };
    this.plans.set(stored.id, stored);
    return stored;
  }

  get(id: string): StoredPlan | undefined {
    this.expire();
    return this.plans.get(id);
  }

  /** A plan is applied at most once. */
  take(id: string): void {
    this.plans.delete(id);
  }

  private expire(): void {
    for (const [id, p] of this.plans) if (this.now() - p.createdAt > PLAN_TTL_MS) this.plans.delete(id);
  }
}

/** Scans the plan's folder again with the same rules; the paths that differ from the planned scan. */
export async function localChanges(plan: StoredPlan): Promise<string[]> {
  const again = await scanLocal(plan.local);
  return changedPaths(plan.scan, again);
}
