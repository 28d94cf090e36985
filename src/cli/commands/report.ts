// `flotilla report [TARGET] [--json|--markdown] [--drift LOCAL REMOTE]` and `flotilla drift TARGET LOCAL REMOTE`:
// probe the hosts (recorded in the health history beside the run store), then availability, latency,
// load, alerts and recommendations from that history; drift from a dry-run push plan (nothing written).
import { resolvedHostnames } from '../../core/config/inventory';
import { readTailnet, tailnetPinger } from '../../core/config/tailscale';
import { HealthHistory } from '../../core/health/history';
import { collectReport } from '../../core/report/collect';
import { analyzeDrift, type DriftReport } from '../../core/report/drift';
import { renderMarkdown, renderText } from '../../core/report/text';
import { DestinationError } from '../../core/push/remotePath';
import { sanitizeForView } from '../../core/exec/output';
import { collect, type Verb } from '../verbs';
import { EXIT, UsageError, type CliContext } from '../context';

interface ReportFlags {
  markdown?: boolean;
  tailscale?: boolean;
  drift?: string[];
  exclude?: string[];
}

/** A bad destination or a missing local folder is the caller's to fix: a usage error, before any host is changed (none is). */
async function usageErrors<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof DestinationError) throw new UsageError(err.message);
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || /is not a directory/.test((err as Error).message)) {
      throw new UsageError(`local folder: ${(err as Error).message}`);
    }
    throw err;
  }
}

export async function reportCommand(ctx: CliContext, target: string | undefined, flags: ReportFlags): Promise<number> {
  if (flags.markdown && ctx.flags.json) throw new UsageError('choose one of --json and --markdown');
  if (flags.drift && flags.drift.length !== 2) throw new UsageError('--drift takes LOCAL and REMOTE: --drift ./app --drift "~/app"');
  const only = target === undefined ? undefined : new Set(ctx.targets(target));
  const hosts = ctx.inventory.hosts.filter((h) => !only || only.has(h.alias)).map((h) => ({ alias: h.alias, groups: h.groups }));
  const tailnet = flags.tailscale ? await readTailnet(() => resolvedHostnames(ctx.inventory)) : undefined;
  const report = await usageErrors(() => collectReport({
    tailnet,
    tailscalePing: tailnet && tailnetPinger(tailnet),
    pool: ctx.pool,
    hosts,
    groups: ctx.inventory.groups,
    history: new HealthHistory(ctx.store.root),
    source: 'cli',
    connectTimeoutMs: ctx.connectTimeoutMs,
    drift: flags.drift ? { local: flags.drift[0]!, remote: flags.drift[1]!, exclude: flags.exclude } : undefined,
  }));
  if (ctx.flags.json) await ctx.io.json(report);
  else await ctx.io.out(flags.markdown ? renderMarkdown(report) : renderText(report));
  return report.summary.down ? EXIT.unreachable : EXIT.ok;
}

function driftExit(drift: DriftReport): number {
  if (drift.hosts.some((h) => h.state === 'unreachable')) return EXIT.unreachable;
  return drift.hosts.every((h) => h.state === 'in_sync') ? EXIT.ok : EXIT.commandFailed;
}

export async function driftCommand(ctx: CliContext, target: string, local: string, remote: string, flags: { exclude?: string[] }): Promise<number> {
  const drift = await usageErrors(() => analyzeDrift(ctx.pool, ctx.targets(target), local, remote, { exclude: flags.exclude, signal: ctx.io.signal }));
  if (ctx.flags.json) {
    await ctx.io.json(drift);
    return driftExit(drift);
  }
  const width = Math.max(4, ...drift.hosts.map((h) => h.host.length));
  for (const d of drift.hosts) {
    await ctx.io.out(`${d.host.padEnd(width)}  ${d.state.padEnd(11)}  ${d.different} different, ${d.missing} missing, ${d.extra} extra · ${d.syncPercent}% in sync${d.reason ? ` (${sanitizeForView(d.reason)})` : ''}\n`);
    for (const [kind, paths] of Object.entries(d.paths)) for (const p of paths) await ctx.io.out(`  ${kind.padEnd(9)} ${sanitizeForView(p)}\n`);
  }
  return driftExit(drift);
}

export const reportVerbs: Verb = (program, act) => {
  program
    .command('report')
    .summary('fleet report: availability over time, latency, load, alerts, recommendations')
    .argument('[target]', 'only these hosts (alias, group, "all" or comma list)')
    .option('--markdown', 'Markdown instead of text (for issues and chats)')
    .option('--tailscale', 'also list the tailnet\'s peers (tailscale status --json) and ping the hosts that are peers (tailscale ping)')
    .option('--drift <path>', 'also compare a local folder with the hosts: --drift LOCAL --drift REMOTE', (v: string, prev: string[] = []) => [...prev, v])
    .option('--exclude <glob>', 'with --drift: gitignore-style pattern left out of the comparison (repeatable)', collect, [])
    .action(act((ctx, target: string | undefined, o: ReportFlags) => reportCommand(ctx, target, o)));

  program
    .command('drift')
    .summary('compare a local folder with a remote one on each host (dry run: nothing is written)')
    .argument('<target>', 'host alias, group, "all" or comma list')
    .argument('<local>', 'local folder')
    .argument('<remote>', 'remote folder (~/… is the remote home)')
    .option('--exclude <glob>', 'gitignore-style pattern left out of the comparison (repeatable)', collect, [])
    .action(act((ctx, target: string, local: string, remote: string, o: { exclude?: string[] }) => driftCommand(ctx, target, local, remote, o)));
};
