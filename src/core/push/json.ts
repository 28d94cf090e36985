// The machine-readable shape of a push, per host: what `flotilla push --json` prints and the MCP
// push tools return, from the plans and (after an apply) the results.
import type { HostPushResult, PushState } from './apply';
import type { PlannedHost } from './plan';

export function pushStateOf(plan: PlannedHost, result: HostPushResult | undefined): PushState {
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
        state: pushStateOf(plan, result),
        ...(result?.outcome ? { outcome: result.outcome } : {}),
        ...(result?.reason ?? plan.fatal ? { reason: result?.reason ?? plan.fatal } : {}),
        plan: {
          create: plan.create.map((i) => i.path),
          update: plan.update.map((i) => i.path),
          delete: plan.delete.map((i) => i.path),
          unchanged: plan.unchanged,
        },
        ...(plan.deleteBlocked ? { deleteBlocked: plan.deleteBlocked } : {}),
        ...(plan.absDest ? { destination: plan.absDest } : {}),
        ...(plan.parents.length ? { parentsCreated: plan.parents } : {}),
        ...(plan.leftovers.length ? { leftovers: plan.leftovers } : {}),
        ...(plan.contentCheck ? { contentCheck: plan.contentCheck } : {}),
        ...(plan.extraneous && !plan.delete.length ? { extraneous: plan.extraneous } : {}),
        bytesToSend: plan.bytesToSend,
        skipped: plan.skipped.map((s) => ({ path: s.path, reason: s.reason })),
        errors: [...plan.errors.map((e) => ({ path: e.path, message: e.message })), ...failed.map((r) => ({ path: r.path, message: r.error ?? 'failed' }))],
      };
    }),
  };
}
