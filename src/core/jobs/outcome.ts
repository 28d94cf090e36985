// One result type for a host's outcome (design.md's HostOutcome), one classifier and one exit-code
// mapping, shared by the CLI, the extension, tasks and the MCP server.
import { constants as osConstants } from 'node:os';

interface OutcomeFields {
  exit: number;
  signal: string;
  remoteStopped: boolean;
  reason: string;
}
/** A variant's own fields; the others read as undefined, so any outcome can be read without narrowing. */
type Variant<S extends string, Own extends Partial<OutcomeFields>> =
  { state: S; durationMs: number } & Own & { [K in Exclude<keyof OutcomeFields, keyof Own>]?: undefined };

export type HostOutcome =
  | Variant<'ok', { exit: 0 }>
  | Variant<'failed', { exit: number; reason?: string }>
  | Variant<'killed', { signal: string }>
  | Variant<'timeout' | 'cancelled' | 'lost', { remoteStopped: boolean; reason?: string }>
  | Variant<'unreachable' | 'auth-failed' | 'hostkey-rejected', { reason: string }>;

export type HostState = HostOutcome['state'];

/** A host of a recorded run that has no outcome yet. */
type NoOutcome = { [K in keyof OutcomeFields]?: undefined } & { durationMs?: undefined };
export type HostProgress = ({ state: 'pending' } | { state: 'running'; startedAt: string }) & NoOutcome;
export type LiveState = HostProgress['state'] | HostState;

export const HOST_STATES: readonly HostState[] = [
  'ok', 'failed', 'killed', 'timeout', 'cancelled', 'lost', 'unreachable', 'auth-failed', 'hostkey-rejected',
];

/**
 * - ok: the command exited 0
 * - command: it ran and failed (non-zero exit, killed by a signal)
 * - transport: it may not have run, or its end is unknown (no connection, auth, host key, timeout, lost)
 * - cancelled: a person or program stopped it
 */
export type OutcomeClass = 'ok' | 'command' | 'transport' | 'cancelled';

export function outcomeClass(state: HostState): OutcomeClass {
  switch (state) {
    case 'ok': return 'ok';
    case 'failed':
    case 'killed': return 'command';
    case 'cancelled': return 'cancelled';
    default: return 'transport';
  }
}

export function isFinal(state: LiveState): state is HostState {
  return state !== 'pending' && state !== 'running';
}

/** The documented exit codes of the `flotilla` CLI. */
export const EXIT = { ok: 0, usage: 1, commandFailed: 2, unreachable: 3, cancelled: 4 } as const;

/** A whole run's exit code: cancelled beats transport failures, which beat command failures. */
export function runExitCode(states: readonly LiveState[]): number {
  const classes = new Set(states.map((s) => (isFinal(s) ? outcomeClass(s) : 'transport')));
  if (classes.has('cancelled')) return EXIT.cancelled;
  if (classes.has('transport')) return EXIT.unreachable;
  if (classes.has('command')) return EXIT.commandFailed;
  return EXIT.ok;
}

/** One host's outcome as a shell exit status (tasks, single-host terminals): like ssh and timeout(1). */
export function shellExitCode(o: HostOutcome): number {
  switch (o.state) {
    case 'ok': return 0;
    case 'failed': return o.exit;
    case 'killed': {
      const n = (osConstants.signals as Record<string, number>)[`SIG${o.signal}`];
      return n ? 128 + n : 137;
    }
    case 'cancelled': return 130;
    case 'timeout': return 124;
    default: return 255;
  }
}

export interface OutcomeCounts { ok: number; command: number; transport: number; cancelled: number }

export function countOutcomes(states: readonly HostState[]): OutcomeCounts {
  const counts: OutcomeCounts = { ok: 0, command: 0, transport: 0, cancelled: 0 };
  for (const s of states) counts[outcomeClass(s)]++;
  return counts;
}

/** The order states are listed in summaries: good news first, then the problems by kind. */
export const SUMMARY_ORDER: readonly LiveState[] = [...HOST_STATES, 'running', 'pending'];

/** `3 ok · 1 failed · 1 unreachable`: one count per state present, in a fixed order. */
export function stateSummary(states: readonly LiveState[], separator = ' · '): string {
  const counts = new Map<LiveState, number>();
  for (const s of states) counts.set(s, (counts.get(s) ?? 0) + 1);
  return SUMMARY_ORDER.filter((s) => counts.has(s)).map((s) => `${counts.get(s)} ${s}`).join(separator);
}

/** Short human detail of an outcome: `exit 2`, `signal KILL`, the reason, and whether the remote process may still run. */
export function outcomeDetail(o: HostOutcome): string {
  const parts: string[] = [];
  if (o.state === 'failed') parts.push(`exit ${o.exit}`);
  if (o.state === 'killed') parts.push(`signal ${o.signal}`);
  if (o.reason) parts.push(o.reason);
  if ((o.state === 'timeout' || o.state === 'cancelled' || o.state === 'lost') && !o.remoteStopped) parts.push('remote may still run');
  return parts.join('; ');
}
