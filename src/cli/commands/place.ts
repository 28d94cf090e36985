// flotilla place TARGET [--json]: which host of TARGET would take work now, and why.
// Also the placement step of `flotilla run TARGET --least-loaded -- CMD` (chooseLeastLoaded).
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expandTargets } from '../../core/config/inventory';
import { sanitizeForView } from '../../core/exec/output';
import { HerdGuard, measureCandidates, placeHost, type Decision, type PlaceOptions } from '../../core/balance/place';
import { MetricsCache } from '../../core/balance/probe';
import { EXIT, type CliContext } from '../context';

/** Recent choices of earlier `flotilla` processes, so quick successive launches spread out. */
export const HERD_FILE = 'placements.json';

export interface ChooseOptions extends Omit<PlaceOptions, 'herd' | 'now'> {
  /** Disk whose use counts (the run's cwd). */
  diskPath?: string;
  /** Herd state shared across processes through the history dir (default true). */
  persistHerd?: boolean;
}

async function loadHerd(dir: string): Promise<HerdGuard> {
  const herd = new HerdGuard();
  try {
    herd.load(JSON.parse(await readFile(join(dir, HERD_FILE), 'utf8')));
  } catch { /* absent or damaged: start empty */ }
  return herd;
}

async function saveHerd(dir: string, herd: HerdGuard): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = join(dir, `${HERD_FILE}.${process.pid}.tmp`);
    await writeFile(tmp, JSON.stringify(herd.toJSON()), { mode: 0o600 });
    await rename(tmp, join(dir, HERD_FILE));
  } catch { /* herd protection is best effort */ }
}

/** Probes TARGET's hosts and places: the decision, with `chosen` unset when every host is excluded. */
export async function chooseLeastLoaded(ctx: CliContext, target: string, opts: ChooseOptions = {}): Promise<Decision> {
  const aliases = expandTargets(target, ctx.inventory);
  const persist = opts.persistHerd ?? true;
  const candidates = await measureCandidates(ctx.pool, aliases, {
    metrics: new MetricsCache(),
    connectTimeoutMs: (ctx.flags.connectTimeout ?? 10) * 1000,
    diskPath: opts.diskPath,
  });
  // Read just before deciding: another process may have placed while we were probing.
  const herd = persist ? await loadHerd(ctx.historyDir) : new HerdGuard();
  const decision = placeHost(candidates, { ...opts, herd });
  if (persist && decision.chosen) await saveHerd(ctx.historyDir, herd);
  return decision;
}

/** The `--json` shape promised to scripts and agents. */
export function decisionToJson(d: Decision) {
  return {
    chosen: d.chosen ?? null,
    candidates: d.candidates.map((c) => ({ host: c.host, score: c.score, cpu: c.cpu, mem: c.mem, disk: c.disk, excluded: c.excluded })),
  };
}

export async function placeCommand(ctx: CliContext, target: string, flags: { json?: boolean } = {}): Promise<number> {
  const decision = await chooseLeastLoaded(ctx, target);
  if (flags.json ?? ctx.flags.json) process.stdout.write(JSON.stringify(decisionToJson(decision)) + '\n');
  else process.stdout.write(`${sanitizeForView(decision.explanation)}\n`);
  return decision.chosen ? EXIT.ok : EXIT.unreachable;
}
