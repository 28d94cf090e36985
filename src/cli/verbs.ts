// The shape of a verb: a function that declares its commander command and wraps its action with `act`,
// which builds the context from the global flags, runs the verb and records its exit code.
import { InvalidArgumentError, type Command } from 'commander';
import { DurationError, parseDuration } from '../core/duration';
import { MAX_TIMEOUT_MS } from '../core/exec/run';
import type { CliContext, GlobalFlags } from './context';

// Commander hands actions their positionals and options as untyped values; each verb states their types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type VerbAction = (ctx: CliContext, ...args: any[]) => Promise<number>;

export interface ActOptions {
  /** Replaces the global flags (the detached worker reads them from its order). */
  flags?: () => Promise<GlobalFlags>;
  /** false: never ask a question, even on a terminal. */
  interactive?: boolean;
}

export type Act = (action: VerbAction, opts?: ActOptions) => (...args: unknown[]) => Promise<void>;
export type Verb = (program: Command, act: Act) => void;

export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function positiveInt(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) {
      throw new InvalidArgumentError(`${flag} needs a whole number of 1 or more, got ${JSON.stringify(value)}`);
    }
    return n;
  };
}

export function nonNegativeInt(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) {
      throw new InvalidArgumentError(`${flag} needs a whole number of 0 or more, got ${JSON.stringify(value)}`);
    }
    return n;
  };
}

/** A duration flag in milliseconds: 90, 90s, 10m, 1h30m; at most what Node's timers keep (24 days). */
export function durationOption(flag: string) {
  return (value: string): number => {
    let ms: number;
    try {
      ms = parseDuration(value, flag);
    } catch (err) {
      if (err instanceof DurationError) throw new InvalidArgumentError(err.message);
      throw err;
    }
    if (ms < 1) throw new InvalidArgumentError(`${flag} must be longer than 0, got ${JSON.stringify(value)}`);
    if (ms > MAX_TIMEOUT_MS) throw new InvalidArgumentError(`${flag} ${JSON.stringify(value)} is longer than the 24 days a timer can wait`);
    return ms;
  };
}
