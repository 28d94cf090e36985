import { formatSshG, resolveHost, validateHostToken } from '../../core/config/sshConfig';
import { EXIT, type CliContext } from '../context';

export async function configResolveCommand(ctx: CliContext, alias: string): Promise<number> {
  validateHostToken(alias, 'alias');
  const host = await resolveHost(alias, ctx.inventory.resolveOptions);
  if (ctx.flags.json) {
    const options = Object.fromEntries([...host.options].map(([k, o]) => [k, { values: o.values, source: o.source ?? null }]));
    process.stdout.write(JSON.stringify({ alias, hostname: host.hostname, user: host.user, port: host.port, options }) + '\n');
  } else {
    process.stdout.write(formatSshG(host));
  }
  return EXIT.ok;
}
