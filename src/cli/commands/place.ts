// flotilla place TARGET [--json]: which host of TARGET would take work now, and why. Nothing is run
// and nothing is recorded in the herd (a run with --least-loaded does that).
import { sanitizeForView } from '../../core/exec/output';
import { decidePlacement, decisionToJson } from '../../core/jobs/placement';
import { EXIT, type CliContext } from '../context';
import type { Verb } from '../verbs';

export async function placeCommand(ctx: CliContext, target: string, diskPath?: string): Promise<number> {
  const aliases = ctx.targets(target);
  const decision = await decidePlacement({ pool: ctx.pool, storeRoot: ctx.store.root, connectTimeoutMs: ctx.connectTimeoutMs }, aliases, { diskPath, record: false });
  if (ctx.flags.json) await ctx.io.json(decisionToJson(decision));
  else await ctx.io.out(`${sanitizeForView(decision.explanation)}\n`);
  return decision.chosen ? EXIT.ok : EXIT.unreachable;
}

export const placeVerb: Verb = (program, act) => {
  program
    .command('place')
    .summary('which host of TARGET is least loaded now, and why (runs nothing)')
    .argument('<target>', 'host alias, group, "all" or comma list')
    .option('--cwd <dir>', 'the disk that counts (default: the remote home)')
    .action(act((ctx, target: string, o: { cwd?: string }) => placeCommand(ctx, target, o.cwd)));
};
