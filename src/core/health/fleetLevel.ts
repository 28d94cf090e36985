// How loudly the fleet's state should be shown (the editor's status bar): neutral when every host is up,
// a warning when some are degraded or down, an error only when a large share of the fleet (default half)
// or a host marked important is down. "Down" includes hosts nothing can be done on (auth failed, host key).
import type { HostHealth } from './probe';
import { conditionOf, sampleOf } from './record';

export interface FleetLevelOptions {
  /** Share of the probed fleet down from which the level is an error (0..1). */
  errorShare: number;
  /** Aliases whose being down alone is an error. */
  important: readonly string[];
}

export const DEFAULT_FLEET_LEVEL: FleetLevelOptions = { errorShare: 0.5, important: [] };

export function fleetLevel(hosts: readonly HostHealth[], opts: FleetLevelOptions = DEFAULT_FLEET_LEVEL): { level: 'ok' | 'warning' | 'error'; rule: string } {
  const probed = hosts.map((h) => ({ h, s: sampleOf(h, 'editor') })).filter((x) => !!x.s);
  const down = probed.filter((x) => conditionOf(x.s!) === 'down').map((x) => x.h.alias);
  const degraded = probed.filter((x) => conditionOf(x.s!) === 'degraded').map((x) => x.h.alias);
  const importantDown = down.filter((a) => opts.important.includes(a));
  if (importantDown.length) return { level: 'error', rule: `important host${importantDown.length === 1 ? '' : 's'} down: ${importantDown.join(', ')}` };
  if (probed.length && down.length / probed.length >= opts.errorShare) {
    return { level: 'error', rule: `${down.length} of ${probed.length} hosts down (at least ${Math.round(opts.errorShare * 100)}%)` };
  }
  if (down.length || degraded.length) {
    const parts = [down.length ? `${down.length} down (${down.slice(0, 3).join(', ')}${down.length > 3 ? ', …' : ''})` : '', degraded.length ? `${degraded.length} degraded` : ''].filter(Boolean);
    return { level: 'warning', rule: parts.join(', ') };
  }
  return { level: 'ok', rule: 'every host up' };
}
