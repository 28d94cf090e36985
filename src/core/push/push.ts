// The whole push for one folder and many hosts: scan once, plan every host, apply unless it is a dry run.
import type { Pool } from '../ssh/pool';
import { applyAll, type ApplyOptions, type HostPushResult } from './apply';
import { planPush, type PlanOptions, type PlannedHost } from './plan';
import { scanLocal, type ScanOptions, type ScanOutput } from './scan';

export interface PushOptions extends PlanOptions, ScanOptions, Omit<ApplyOptions, 'signal'> {}

export interface PushRun {
  scan: ScanOutput;
  plans: PlannedHost[];
  /** Absent for a dry run. */
  results?: HostPushResult[];
}

export async function push(pool: Pool, hosts: readonly string[], localDir: string, remotePath: string, opts: PushOptions = {}): Promise<PushRun> {
  const scan = await scanLocal(localDir, opts);
  const plans = await planPush(pool, hosts, scan, remotePath, opts);
  if (opts.dryRun) return { scan, plans };
  const results = await applyAll(pool, scan, plans, { window: opts.window, signal: opts.signal, onProgress: opts.onProgress });
  return { scan, plans, results };
}
