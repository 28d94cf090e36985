// The one way to decide where a least-loaded run goes: measure the candidates, weigh the recent choices
// of every process sharing the run store (the herd), decide. A run records its choice; a preview
// (`flotilla place`, the editor's confirm step and explanation) does not.
import { measureCandidates, placeHost, type Decision, type HerdOptions, type PlaceOptions } from '../balance/place';
import { MetricsCache } from '../health/metrics';
import type { HostHealth } from '../health/probe';
import type { Pool } from '../ssh/pool';
import { loadHerd, saveHerd, withHerdLock } from './herd';

export interface PlacementDeps {
  pool: Pool;
  /** The run store's root, where the herd of recent choices is kept. */
  storeRoot: string;
  connectTimeoutMs: number;
  metrics?: MetricsCache;
  /** The extension's health check (also updates the Hosts view). */
  check?: (alias: string) => Promise<HostHealth>;
}

export interface PlacementRequest {
  options?: Omit<PlaceOptions, 'herd' | 'now' | 'record'>;
  herd?: HerdOptions;
  /** Disk whose use counts (the run's cwd; default the remote home). */
  diskPath?: string;
  /** true: the choice weighs on the next decisions (a run is placed); false: a preview. */
  record: boolean;
}

export async function decidePlacement(deps: PlacementDeps, hosts: readonly string[], req: PlacementRequest): Promise<Decision> {
  const candidates = await measureCandidates(deps.pool, hosts, {
    metrics: deps.metrics ?? new MetricsCache(),
    connectTimeoutMs: deps.connectTimeoutMs,
    diskPath: req.diskPath,
    check: deps.check,
  });
  if (!req.record) return placeHost(candidates, { ...req.options, herd: await loadHerd(deps.storeRoot, req.herd), record: false });
  // Read just before deciding: another launch may have placed while we were measuring.
  return withHerdLock(deps.storeRoot, async () => {
    const herd = await loadHerd(deps.storeRoot, req.herd);
    const decision = placeHost(candidates, { ...req.options, herd });
    if (decision.chosen) await saveHerd(deps.storeRoot, herd);
    return decision;
  });
}

/** A choice made from a decision the user saw (and maybe overrode): recorded like a placed run. */
export async function recordPlacement(storeRoot: string, host: string, herdOptions?: HerdOptions): Promise<void> {
  await withHerdLock(storeRoot, async () => {
    const herd = await loadHerd(storeRoot, herdOptions);
    herd.record(host);
    await saveHerd(storeRoot, herd);
  });
}

/** The `--json` shape promised to scripts and agents. */
export function decisionToJson(d: Decision) {
  return {
    chosen: d.chosen ?? null,
    candidates: d.candidates.map((c) => ({ host: c.host, score: c.score, cpu: c.cpu, mem: c.mem, disk: c.disk, excluded: c.excluded })),
    explanation: d.explanation,
  };
}
