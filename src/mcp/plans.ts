// Push plans an agent made and may apply: a plan id names exactly one core push session (one scan, one plan
// per host). The core's applySession re-checks the local tree and re-plans each host under its lock, so what
// is written is what the agent was shown, or nothing.
import { randomBytes } from 'node:crypto';
import type { PlannedSession } from '../core/push/push';

export interface StoredPlan {
  id: string;
  target: string;
  hosts: string[];
  session: PlannedSession;
  createdAt: number;
}

/** Plans expire: a plan applied an hour later describes a world that has moved on. */
export const PLAN_TTL_MS = 60 * 60 * 1000;

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
