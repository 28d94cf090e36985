// `flotilla push TARGET LOCAL REMOTE [--dry-run] [--delete] [--json]` and `flotilla pull TARGET REMOTE LOCAL`.
import { expandTargets } from '../../core/config/inventory';
import { sanitizeForView } from '../../core/exec/output';
import type { HostPushResult, PushState } from '../../core/push/apply';
import { itemize, type PlannedHost } from '../../core/push/plan';
import { pull } from '../../core/push/pull';
import { push } from '../../core/push/push';
import { DestinationError } from '../../core/push/remotePath';
import type { PlanItem } from '../../core/push/types';
import { EXIT, UsageError, type CliContext } from '../context';

export interface PushFlags {
  dryRun?: boolean;
  delete?: boolean;
  json?: boolean;
  maxDelete?: number;
  exclude?: string[];
}

export interface PullFlags {
  json?: boolean;
}

export function pushExitCode(states: readonly PushState[]): number {
  if (states.includes('cancelled')) return EXIT.cancelled;
  if (states.includes('unreachable')) return EXIT.unreachable;
  if (states.some((s) => s === 'failed' || s === 'partial')) return EXIT.commandFailed;
  return EXIT.ok;
}

function stateOf(plan: PlannedHost, result: HostPushResult | undefined): PushState {
  if (result) return result.state;
  if (plan.fatal) return plan.unreachable ? 'unreachable' : 'failed';
  return plan.errors.length ? 'partial' : 'ok';
}

/** The `--json` shape: paths relative to LOCAL (= relative to the destination). */
export function pushToJson(plans: readonly PlannedHost[], results?: readonly HostPushResult[]) {
  return {
    hosts: plans.map((plan, i) => {
      const result = results?.[i];
      const failed = result?.results.filter((r) => !r.ok && !plan.errors.some((e) => e.path === r.path)) ?? [];
      return {
        host: plan.host,
        state: stateOf(plan, result),
        ...(result?.reason ?? plan.fatal ? { reason: result?.reason ?? plan.fatal } : {}),
        plan: {
          create: plan.create.map((i) => i.path),
          update: plan.update.map((i) => i.path),
          delete: plan.delete.map((i) => i.path),
          unchanged: plan.unchanged,
        },
        ...(plan.deleteBlocked ? { deleteBlocked: plan.deleteBlocked } : {}),
        skipped: plan.skipped.map((s) => ({ path: s.path, reason: s.reason })),
        errors: [...plan.errors.map((e) => ({ path: e.path, message: e.message })), ...failed.map((r) => ({ path: r.path, message: r.error ?? 'failed' }))],
      };
    }),
  };
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
    for (const item of plan.delete) write(line(item));
    for (const item of [...plan.create, ...plan.update].sort((a, b) => (a.path < b.path ? -1 : 1))) write(line(item));
    if (plan.deleteBlocked) write(`  deletions not done: ${sanitizeForView(plan.deleteBlocked)}\n`);
    for (const s of plan.skipped) write(`  skipped ${sanitizeForView(s.path)}: ${s.reason}\n`);
    for (const e of plan.errors) write(`  error ${sanitizeForView(e.path)}: ${sanitizeForView(e.message)}\n`);
    for (const r of result?.results ?? []) {
      if (!r.ok && !plan.errors.some((e) => e.path === r.path)) write(`  failed ${sanitizeForView(r.path)}: ${sanitizeForView(r.error ?? '')}\n`);
    }
    if (result?.reason && state !== 'ok') write(`  ${sanitizeForView(result.reason)}\n`);
  }
}

function withSigint<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  return run(abort.signal).finally(() => process.off('SIGINT', onSigint));
}

export async function pushCommand(ctx: CliContext, target: string, local: string, remote: string, flags: PushFlags): Promise<number> {
  const hosts = expandTargets(target, ctx.inventory);
  let run;
  try {
    run = await withSigint((signal) => push(ctx.pool, hosts, local, remote, {
      dryRun: flags.dryRun, delete: flags.delete, maxDelete: flags.maxDelete, exclude: flags.exclude, signal,
    }));
  } catch (err) {
    if (err instanceof DestinationError) throw new UsageError(err.message);
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || /is not a directory/.test((err as Error).message)) {
      throw new UsageError(`local folder: ${(err as Error).message}`);
    }
    throw err;
  }
  if (flags.json || ctx.flags.json) process.stdout.write(JSON.stringify(pushToJson(run.plans, run.results)) + '\n');
  else printHumanPush(run.plans, run.results, (s) => process.stdout.write(s));
  return pushExitCode(run.plans.map((p, i) => stateOf(p, run.results?.[i])));
}

export async function pullCommand(ctx: CliContext, target: string, remote: string, local: string, flags: PullFlags): Promise<number> {
  const hosts = expandTargets(target, ctx.inventory);
  let results;
  try {
    results = await withSigint((signal) => pull(ctx.pool, hosts, remote, local, { signal }));
  } catch (err) {
    if (err instanceof DestinationError) throw new UsageError(err.message);
    throw err;
  }
  if (flags.json || ctx.flags.json) {
    process.stdout.write(JSON.stringify({
      hosts: results.map((r) => ({
        host: r.host, state: r.state, ...(r.reason ? { reason: r.reason } : {}), localPath: r.localPath,
        files: r.results.filter((x) => x.ok).map((x) => x.path),
        skipped: r.skipped, errors: r.results.filter((x) => !x.ok).map((x) => ({ path: x.path, message: x.error ?? 'failed' })),
      })),
    }) + '\n');
  } else {
    for (const r of results) {
      const ok = r.results.filter((x) => x.ok).length;
      write(`[${r.host}] ${r.state}: ${ok} item(s), ${r.bytes} bytes → ${r.localPath}${r.reason ? ` (${sanitizeForView(r.reason)})` : ''}\n`);
      for (const s of r.skipped) write(`  skipped ${sanitizeForView(s.path)}: ${s.reason}\n`);
      for (const x of r.results) if (!x.ok) write(`  failed ${sanitizeForView(x.path)}: ${sanitizeForView(x.error ?? '')}\n`);
    }
  }
  return pushExitCode(results.map((r) => r.state));
}

const write = (s: string) => process.stdout.write(s);
