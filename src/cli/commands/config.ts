import { formatSshG, validateHostToken } from '../../core/config/sshConfig';
import { EXIT, type CliContext } from '../context';
import type { Verb } from '../verbs';

export async function configResolveCommand(ctx: CliContext, alias: string): Promise<number> {
  validateHostToken(alias, 'alias');
  const host = await ctx.inventory.resolve(alias);
  if (ctx.flags.json) {
    const options = Object.fromEntries([...host.options].map(([k, o]) => [k, { values: o.values, source: o.source ?? null }]));
    await ctx.io.json({ alias, hostname: host.hostname, user: host.user, port: host.port, options, warnings: host.warnings ?? [] });
  } else {
    await ctx.io.out(formatSshG(host));
    // What Flotilla read differently from ssh (an unknown keyword it skipped...) is never silent.
    for (const w of host.warnings ?? []) ctx.io.err(`warning: ${w}\n`);
  }
  return EXIT.ok;
}

export const configVerb: Verb = (program, act) => {
  const config = program.command('config').summary('the ssh configuration as Flotilla reads it');
  config
    .command('resolve')
    .summary('resolved settings of a Host alias, like ssh -G')
    .argument('<alias>', 'a Host alias')
    .action(act((ctx, alias: string) => configResolveCommand(ctx, alias)));
};
