import { resolveHost } from '../../core/config/sshConfig';
import { checkFleet, summarizeHealth, type HostHealth } from '../../core/health';
import { MetricsCache } from '../../core/balance/probe';
import { sanitizeForView } from '../../core/exec/output';
import { EXIT, type CliContext } from '../context';

function describe(h: HostHealth): string {
  const m = h.metrics;
  const load = m ? ` load ${m.load1.toFixed(2)}/${m.cores} cores, mem ${(m.memAvailableKb / 1048576).toFixed(1)} GiB free, disk ${m.diskUsedPct}%` : '';
  return `${h.state}${h.reason ? ` (${sanitizeForView(h.reason)})` : ''}${load}`;
}

export async function hostsCommand(ctx: CliContext, withStatus: boolean, connectTimeoutMs: number): Promise<number> {
  const inv = ctx.inventory;
  const rows = await Promise.all(inv.hosts.map(async (h) => {
    const r = await resolveHost(h.alias, inv.resolveOptions);
    return { alias: h.alias, user: r.user, hostname: r.hostname, port: r.port, groups: h.groups, proxyJump: r.proxyJump ?? null, connectTimeout: r.connectTimeout };
  }));
  // Without --connect-timeout the config's ConnectTimeout governs (the TCP probe too), as it does for ssh.
  if (ctx.flags.connectTimeout === undefined) {
    const configured = rows.map((r) => r.connectTimeout).filter((t): t is number => t !== undefined && t > 0);
    if (configured.length) connectTimeoutMs = Math.max(...configured) * 1000;
  }
  let health: HostHealth[] | undefined;
  if (withStatus) {
    health = await checkFleet(ctx.pool, inv.hosts.map((h) => h.alias), { connectTimeoutMs, metrics: new MetricsCache() });
  }
  if (ctx.flags.json) {
    const hosts = rows.map(({ connectTimeout: _t, ...r }, i) => ({
      ...r,
      ...(health ? { state: health[i]!.state, reason: health[i]!.reason ?? null, metrics: health[i]!.metrics ?? null, layers: health[i]!.layers } : {}),
    }));
    process.stdout.write(JSON.stringify({ hosts, groups: Object.fromEntries(inv.groups), unknownMembers: inv.unknownMembers, warnings: inv.warnings }) + '\n');
  } else {
    const width = Math.max(5, ...rows.map((r) => r.alias.length));
    rows.forEach((r, i) => {
      const status = health ? `  ${describe(health[i]!)}` : '';
      process.stdout.write(`${r.alias.padEnd(width)}  ${r.user}@${r.hostname}:${r.port}${r.groups.length ? `  [${r.groups.join(',')}]` : ''}${status}\n`);
    });
    for (const u of inv.unknownMembers) process.stdout.write(`! group ${u.group} names ${u.alias}, which is not a Host in the ssh config\n`);
    for (const w of inv.warnings) process.stderr.write(`warning: ${w}\n`);
    if (health) {
      const s = summarizeHealth(health);
      process.stdout.write(`${s.up} up · ${s.degraded} degraded · ${s.down} down\n`);
    }
  }
  return health && health.some((h) => h.state !== 'online') ? EXIT.unreachable : EXIT.ok;
}
