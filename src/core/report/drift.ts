// Drift of a pushed folder: per host, which files differ from the local copy, which are missing there
// and which are extra, from the push planner in dry-run mode (nothing is written anywhere).
import type { Pool } from '../ssh/pool';
import { isMetadataOnly, planPush, type PlannedHost } from '../push/plan';
import { scanLocal, type ScanOptions } from '../push/scan';

/** Paths listed per kind at most; the counts are always complete. */
export const DRIFT_PATHS_SHOWN = 50;

export interface HostDrift {
  host: string;
  state: 'in_sync' | 'out_of_sync' | 'unreachable' | 'error';
  reason?: string;
  /** Entries whose content, type or link target differs (same content with another mtime or mode is in sync). */
  different: number;
  /** Present locally, absent on the host. */
  missing: number;
  /** Present on the host, absent locally (excluded paths never count). */
  extra: number;
  inSync: number;
  /** inSync ÷ all compared entries × 100, one decimal; 100 for an empty folder on both sides. */
  syncPercent: number;
  paths: { different: string[]; missing: string[]; extra: string[] };
}

export interface DriftReport {
  local: string;
  remote: string;
  hosts: HostDrift[];
}

/** Pure: one host's drift from its dry-run plan. */
export function driftOf(plan: PlannedHost): HostDrift {
  const empty = { different: 0, missing: 0, extra: 0, inSync: 0, syncPercent: 0, paths: { different: [], missing: [], extra: [] } };
  if (plan.fatal) return { host: plan.host, state: plan.unreachable ? 'unreachable' : 'error', reason: plan.fatal, ...empty };
  const different = plan.update.filter((i) => !isMetadataOnly(i));
  const inSync = plan.unchanged + plan.update.length - different.length;
  const total = inSync + different.length + plan.create.length + plan.delete.length;
  const out = different.length + plan.create.length + plan.delete.length;
  const shown = (items: readonly { path: string }[]) => items.slice(0, DRIFT_PATHS_SHOWN).map((i) => i.path);
  return {
    host: plan.host,
    state: out === 0 && !plan.errors.length ? 'in_sync' : out === 0 ? 'error' : 'out_of_sync',
    ...(plan.errors.length ? { reason: `${plan.errors.length} path(s) could not be compared, e.g. ${plan.errors[0]!.path}: ${plan.errors[0]!.message}` } : {}),
    different: different.length,
    missing: plan.create.length,
    extra: plan.delete.length,
    inSync,
    syncPercent: total === 0 ? 100 : Math.round((inSync / total) * 1000) / 10,
    paths: { different: shown(different), missing: shown(plan.create), extra: shown(plan.delete) },
  };
}

/** Compares LOCAL with REMOTE on every host (a dry-run plan with deletions listed, so extra files show). */
export async function analyzeDrift(
  pool: Pool, hosts: readonly string[], local: string, remote: string, opts: ScanOptions & { signal?: AbortSignal; root?: string } = {},
): Promise<DriftReport> {
  const scan = await scanLocal(local, opts);
  const plans = await planPush(pool, hosts, scan, remote, {
    dryRun: true, delete: true, maxDelete: Number.MAX_SAFE_INTEGER, allowMassDelete: true, signal: opts.signal, root: opts.root,
  });
  return { local: scan.root, remote, hosts: plans.map(driftOf) };
}
