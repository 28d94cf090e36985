// The same core health monitor the extension's views read, asked once (nothing is scheduled).
import { checkFleet } from '../../core/health/monitor';
import { summarizeHealth, type HostHealth } from '../../core/health/probe';
import { MetricsCache } from '../../core/health/metrics';
import { HealthHistory } from '../../core/health/history';
import { sanitizeForView } from '../../core/exec/output';
import { resolvedHostnames } from '../../core/config/inventory';
import { readTailnet, tailnetPinger } from '../../core/config/tailscale';
import { tailnetReport } from '../../core/report/build';
import { tailnetLine } from '../../core/report/text';
import { EXIT, type CliContext } from '../context';
import type { Verb } from '../verbs';

function describe(h: HostHealth): string {
  const m = h.metrics;
  const load = m ? ` load ${m.load1.toFixed(2)}/${m.cores} cores, mem ${(m.memAvailableKb / 1048576).toFixed(1)} GiB free, disk ${m.diskUsedPct}%` : '';
  const ping = h.layers.tailscale;
  const tailnet = ping?.ok ? `, tailscale ping ${ping.ms} ms ${ping.detail ?? ''}`.trimEnd() : '';
  return `${h.state}${h.reason ? ` (${sanitizeForView(h.reason)})` : ''}${load}${sanitizeForView(tailnet)}`;
}

export async function hostsCommand(ctx: CliContext, target: string | undefined, withStatus: boolean, withTailnet = false): Promise<number> {
  const inv = ctx.inventory;
  let connectTimeoutMs = ctx.connectTimeoutMs;
  const only = target === undefined ? undefined : new Set(ctx.targets(target));
  const listed = inv.hosts.filter((h) => !only || only.has(h.alias));
  const rows = await Promise.all(listed.map(async (h) => {
    const r = await inv.resolve(h.alias);
    return { alias: h.alias, user: r.user, hostname: r.hostname, port: r.port, groups: h.groups, proxyJump: r.proxyJump ?? null, connectTimeout: r.connectTimeout };
  }));
  // Without --connect-timeout the config's ConnectTimeout governs (the TCP probe too), as it does for ssh.
  if (ctx.flags.connectTimeoutMs === undefined) {
    const configured = rows.map((r) => r.connectTimeout).filter((t): t is number => t !== undefined && t > 0);
    if (configured.length) connectTimeoutMs = Math.max(...configured) * 1000;
  }
  let health: HostHealth[] | undefined;
  const tailnet = withTailnet ? await readTailnet(() => resolvedHostnames(inv)) : undefined;
  if (withStatus) {
    const history = { store: new HealthHistory(ctx.store.root), source: 'cli' as const };
    // With --tailscale, tailnet hosts get the extra `tailscale ping` layer.
    const tailscalePing = tailnet && tailnetPinger(tailnet);
    health = await checkFleet(ctx.pool, listed.map((h) => h.alias), { connectTimeoutMs, metrics: new MetricsCache(), history, tailscalePing });
  }
  const peers = tailnet && tailnetReport(tailnet);
  if (ctx.flags.json) {
    const hosts = rows.map(({ connectTimeout: _t, ...r }, i) => ({
      ...r,
      ...(health ? { state: health[i]!.state, reason: health[i]!.reason ?? null, metrics: health[i]!.metrics ?? null, layers: health[i]!.layers } : {}),
      ...(tailnet ? { tailscale: tailnet.byAlias.get(r.alias)?.name ?? null } : {}),
    }));
    await ctx.io.json({ hosts, groups: Object.fromEntries(inv.groups), unknownMembers: inv.unknownMembers, warnings: [...inv.warnings, ...(tailnet?.warnings ?? [])], ...(peers ? { tailnet: peers } : {}) });
  } else {
    const width = Math.max(5, ...rows.map((r) => r.alias.length));
    for (const [i, r] of rows.entries()) {
      const status = health ? `  ${describe(health[i]!)}` : '';
      await ctx.io.out(`${r.alias.padEnd(width)}  ${r.user}@${r.hostname}:${r.port}${r.groups.length ? `  [${r.groups.join(',')}]` : ''}${status}\n`);
    }
    for (const u of inv.unknownMembers) await ctx.io.out(`! group ${u.group} names ${u.alias}, which is not a Host in the ssh config\n`);
    for (const w of inv.warnings) ctx.io.err(`warning: ${w}\n`);
    if (health) {
      const s = summarizeHealth(health);
      await ctx.io.out(`${s.up} up · ${s.degraded} degraded · ${s.unusable} unusable · ${s.down} down\n`);
    }
    if (peers) {
      await ctx.io.out(`tailnet: ${peers.peers.length} peer${peers.peers.length === 1 ? '' : 's'}${peers.reason ? ` (${sanitizeForView(peers.reason)})` : ''}\n`);
      for (const p of peers.peers) await ctx.io.out(`  ${tailnetLine(p)}\n`);
      for (const w of tailnet!.warnings) ctx.io.err(`warning: ${sanitizeForView(w)}\n`);
    }
  }
  return health && health.some((h) => h.state !== 'online') ? EXIT.unreachable : EXIT.ok;
}

export const hostsVerb: Verb = (program, act) => {
  program
    .command('hosts')
    .summary('hosts of the ssh config with their groups (and health with --status)')
    .argument('[target]', 'only these hosts (alias, group, "all" or comma list)')
    .option('--status', 'probe each host: TCP, ssh, login, load')
    .option('--tailscale', 'also list the tailnet\'s peers (tailscale status --json): online, last seen, OS, direct or relayed, the alias that points at each')
    .action(act((ctx, target: string | undefined, o: { status?: boolean; tailscale?: boolean }) => hostsCommand(ctx, target, !!o.status, !!o.tailscale)));
};
