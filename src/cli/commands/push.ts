// `flotilla push TARGET LOCAL REMOTE [--dry-run] [--delete] [--checksum] [--json]` and `flotilla pull TARGET REMOTE LOCAL`.
import { sanitizeForView } from '../../core/exec/output';
import type { HostPushResult, PushState } from '../../core/push/apply';
import { itemize, type PlannedHost } from '../../core/push/plan';
import { planPull, pull } from '../../core/push/pull';
import { push } from '../../core/push/push';
import { DestinationError } from '../../core/push/remotePath';
import type { PlanItem } from '../../core/push/types';
import { pushToJson, pushStateOf as stateOf } from '../../core/push/json';
import { EXIT, UsageError, type CliContext } from '../context';
import { collect, nonNegativeInt, type Verb } from '../verbs';

export interface PushFlags {
  dryRun?: boolean;
  delete?: boolean;
  json?: boolean;
  maxDelete?: number;
  exclude?: string[];
  checksum?: boolean;
  lockWait?: number;
}

export interface PullFlags {
  dryRun?: boolean;
}

export { pushToJson };

export function pushExitCode(states: readonly PushState[]): number {
  if (states.includes('cancelled')) return EXIT.cancelled;
  if (states.includes('unreachable')) return EXIT.unreachable;
  if (states.some((s) => s === 'failed' || s === 'partial')) return EXIT.commandFailed;
  return EXIT.ok;
}

const line = (item: PlanItem) => `${itemize(item)} ${sanitizeForView(item.path)}${item.type === 'dir' ? '/' : ''}\n`;

export function printHumanPush(plans: readonly PlannedHost[], results: readonly HostPushResult[] | undefined, write: (s: string) => void): void {
  for (const [i, plan] of plans.entries()) {
    const result = results?.[i];
    const state = stateOf(plan, result);
    if (plan.fatal) {
      write(`[${plan.host}] ${state}: ${sanitizeForView(plan.fatal)}\n`);
      continue;
    }
    const del = plan.delete.length ? `, ${plan.delete.length} to delete${plan.deleteBlocked ? ' (blocked)' : ''}` : '';
    write(`[${plan.host}] ${results ? state : 'dry run'}: ${plan.create.length} new, ${plan.update.length} changed, ${plan.unchanged} unchanged${del}` +
      `${result ? ` · ${result.bytes} bytes in ${result.durationMs} ms` : ''}\n`);
    if (plan.parents.length) write(`  will create ${plan.parents.map(sanitizeForView).join(', ')} (missing parents)\n`);
    if (plan.leftovers.length) write(`  ${plan.leftovers.length} leftover temp file(s) of an interrupted push${results ? ' removed' : '; the next push removes them'}: ${plan.leftovers.slice(0, 3).map(sanitizeForView).join(', ')}${plan.leftovers.length > 3 ? ', …' : ''}\n`);
    if (plan.extraneous && !plan.delete.length) write(`  ${plan.extraneous} remote entr${plan.extraneous === 1 ? 'y is' : 'ies are'} not in ${results ? 'the local tree' : 'LOCAL'}; deletions are off (--delete)\n`);
    if (plan.contentCheck && !plan.contentCheck.startsWith('sha256sum -z')) write(`  content compared with ${sanitizeForView(plan.contentCheck)}\n`);
    for (const item of plan.delete) write(line(item));
    for (const item of [...plan.create, ...plan.update].sort((a, b) => (a.path < b.path ? -1 : 1))) write(line(item));
    if (plan.deleteBlocked) write(`  deletions not done: ${sanitizeForView(plan.deleteBlocked)}\n`);
    for (const s of plan.skipped) write(`  skipped ${sanitizeForView(s.path)}: ${s.reason}\n`);
    for (const e of plan.errors) write(`  error ${sanitizeForView(e.path)}: ${sanitizeForView(e.message)}\n`);
    // A cause shared by many items (disk full, connection lost) is the host's reason: its items are counted, not listed.
    const failed = (result?.results ?? []).filter((r) => !r.ok && !plan.errors.some((e) => e.path === r.path));
    const byCause = new Map<string, typeof failed>();
    for (const r of failed) byCause.set(r.error ?? 'failed', [...(byCause.get(r.error ?? 'failed') ?? []), r]);
    for (const [cause, items] of byCause) {
      if (items.length > 5) write(`  ${items.length} items ${sanitizeForView(cause)} (e.g. ${items.slice(0, 3).map((r) => sanitizeForView(r.path)).join(', ')})\n`);
      else for (const r of items) write(`  failed ${sanitizeForView(r.path)}: ${sanitizeForView(cause)}\n`);
    }
    if (result?.reason && state !== 'ok') write(`  ${sanitizeForView(result.reason)}\n`);
  }
}

export async function pushCommand(ctx: CliContext, target: string, local: string, remote: string, flags: PushFlags): Promise<number> {
  const hosts = ctx.targets(target);
  ctx.io.graceful = true;
  let run;
  try {
    run = await push(ctx.pool, hosts, local, remote, {
      dryRun: flags.dryRun, delete: flags.delete, maxDelete: flags.maxDelete, exclude: flags.exclude, checksum: flags.checksum,
      lockWaitSeconds: flags.lockWait, signal: ctx.io.signal,
    });
  } catch (err) {
    if (err instanceof DestinationError) throw new UsageError(err.message);
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || /does not exist|is neither a folder nor a regular file/.test((err as Error).message)) {
      throw new UsageError(`LOCAL: ${(err as Error).message}`);
    }
    throw err;
  }
  if (ctx.flags.json) await ctx.io.json(pushToJson(run.plans, run.results));
  else {
    let text = '';
    printHumanPush(run.plans, run.results, (s) => (text += s));
    await ctx.io.out(text);
  }
  return pushExitCode(run.plans.map((p, i) => stateOf(p, run.results?.[i])));
}

export async function pullCommand(ctx: CliContext, target: string, remote: string, local: string, flags: PullFlags): Promise<number> {
  const hosts = ctx.targets(target);
  if (flags.dryRun) return pullDryRun(ctx, hosts, remote, local);
  ctx.io.graceful = true;
  let results;
  try {
    results = await pull(ctx.pool, hosts, remote, local, { signal: ctx.io.signal });
  } catch (err) {
    if (err instanceof DestinationError) throw new UsageError(err.message);
    throw err;
  }
  if (ctx.flags.json) {
    await ctx.io.json({
      hosts: results.map((r) => ({
        host: r.host, state: r.state, ...(r.reason ? { reason: r.reason } : {}), localPath: r.localPath,
        files: r.results.filter((x) => x.ok).map((x) => x.path),
        skipped: r.skipped, errors: r.results.filter((x) => !x.ok).map((x) => ({ path: x.path, message: x.error ?? 'failed' })),
      })),
    });
  } else {
    let text = '';
    const write = (s: string) => (text += s);
    for (const r of results) {
      const ok = r.results.filter((x) => x.ok).length;
      write(`[${r.host}] ${r.state}: ${ok} item(s), ${r.bytes} bytes → ${r.localPath}${r.reason ? ` (${sanitizeForView(r.reason)})` : ''}\n`);
      for (const s of r.skipped) write(`  skipped ${sanitizeForView(s.path)}: ${s.reason}\n`);
      for (const x of r.results) if (!x.ok) write(`  failed ${sanitizeForView(x.path)}: ${sanitizeForView(x.error ?? '')}\n`);
    }
    await ctx.io.out(text);
  }
  return pushExitCode(results.map((r) => r.state));
}

/** `pull --dry-run`: what each host would send, from a read-only listing; nothing is written anywhere. */
async function pullDryRun(ctx: CliContext, hosts: readonly string[], remote: string, local: string): Promise<number> {
  const plans = await Promise.all(hosts.map((host) => planPull(ctx.pool, host, remote, local)));
  if (ctx.flags.json) await ctx.io.json({ dryRun: true, hosts: plans });
  else {
    let text = 'dry run: nothing was written.\n';
    for (const p of plans) {
      text += `[${p.host}] ${p.state}${p.reason ? `: ${sanitizeForView(p.reason)}` : ''}${p.state === 'ok' ? `: ${p.files.length} item(s), ${p.bytes} bytes → ${p.localPath}` : ''}\n`;
      for (const f of p.files) text += `  ${sanitizeForView(f)}\n`;
    }
    await ctx.io.out(text);
  }
  return pushExitCode(plans.map((p) => p.state));
}

export const pushVerbs: Verb = (program, act) => {
  program
    .command('push')
    .summary('copy a local folder or file to hosts: per-host plan, then temp-file + atomic-rename writes')
    .argument('<target>', 'host alias, group, "all" or comma list')
    .argument('<local>', 'local folder, or one file')
    .argument('<remote>', 'remote destination (~/… is the remote home). For a file: a directory if it ends in / or exists as one on the host, else the file\'s own path')
    .option('--dry-run', 'show each host\'s plan (including the hosts that would fail, and why); write nothing')
    .option('--checksum', 'compare every same-size file by content, whatever its mtime (slower)')
    .option('--lock-wait <seconds>', 'wait this long for another push to the same destination (default 120)', nonNegativeInt('--lock-wait'))
    .option('--delete', 'delete remote files that are not in LOCAL')
    .option('--max-delete <n>', 'a host whose plan deletes more than N entries gets no deletions (default 100)', nonNegativeInt('--max-delete'))
    .option('--exclude <glob>', 'gitignore-style pattern never pushed (repeatable)', collect, [])
    .action(act((ctx, target: string, local: string, remote: string, o: PushFlags) => pushCommand(ctx, target, local, remote, o)));

  program
    .command('pull')
    .summary('copy REMOTE from each host into LOCAL/<host>/')
    .argument('<target>', 'host alias, group, "all" or comma list')
    .argument('<remote>', 'remote file or folder')
    .argument('<local>', 'local folder')
    .option('--dry-run', 'list what each host would send; write nothing')
    .action(act((ctx, target: string, remote: string, local: string, o: PullFlags) => pullCommand(ctx, target, remote, local, o)));
};
