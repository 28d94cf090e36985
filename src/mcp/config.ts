// The guard rails an agent works inside, set by the person who starts the server (a config file and flags),
// never by the agent: read-only mode, an allowlist of targets, a command deny-list, output and wait bounds.
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import * as z from './zod';

export const DEFAULT_OUTPUT_CAP_KIB = 128;
/** Below the 60 s request timeout of the SDK's client, so a default client gets an answer, not a timeout. */
export const DEFAULT_WAIT_SECONDS = 50;

export const guardRailsSchema = z.strictObject({
  readOnly: z._default(z.boolean(), false).check(z.describe('only the tools that change nothing are listed and callable')),
  allow: z.optional(z.array(z.string().check(z.minLength(1)))).check(z.describe('targets (hosts, groups) agents may use; absent: every host of the ssh config')),
  deny: z._default(z.array(z.string().check(z.minLength(1))), []).check(z.describe('regular expressions; a command (or text sent to an agent pane) matching one is refused')),
  outputCapKiB: z._default(z.int().check(z.minimum(1), z.maximum(16 * 1024)), DEFAULT_OUTPUT_CAP_KIB).check(z.describe('output returned by one tool call, in KiB, all hosts together')),
  waitSeconds: z._default(z.int().check(z.minimum(0), z.maximum(3600)), DEFAULT_WAIT_SECONDS).check(z.describe('how long `run` waits before returning the id of a run still going')),
});

export type GuardRailsInput = z.input<typeof guardRailsSchema>;

export interface GuardRails {
  readOnly: boolean;
  allow?: string[];
  deny: RegExp[];
  outputCapBytes: number;
  waitMs: number;
}

export class GuardRailsError extends Error {}

/** `$XDG_CONFIG_HOME/flotilla/mcp.yaml` (or `~/.config/...`): read when present and no --config is given. */
export function defaultConfigFile(env: Record<string, string | undefined> = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'flotilla', 'mcp.yaml');
}

/** Checks a config (file contents and flags already merged) and compiles the deny-list. */
export function guardRailsOf(input: unknown, where = 'the MCP server settings'): GuardRails {
  const parsed = guardRailsSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`).join('; ');
    throw new GuardRailsError(`${where}: ${problems}`);
  }
  const c = parsed.data;
  const deny = c.deny.map((pattern) => {
    try {
      return new RegExp(pattern);
    } catch (err) {
      throw new GuardRailsError(`${where}: deny pattern ${JSON.stringify(pattern)} is not a regular expression (${(err as Error).message})`);
    }
  });
  return { readOnly: c.readOnly, allow: c.allow, deny, outputCapBytes: c.outputCapKiB * 1024, waitMs: c.waitSeconds * 1000 };
}

/** Reads a YAML or JSON config file; a missing default file is an empty config, a missing named file an error. */
export async function readGuardRailsFile(file: string, required: boolean): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new GuardRailsError(`cannot read the MCP config ${file}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (err) {
    throw new GuardRailsError(`${file}: not valid YAML or JSON (${(err as Error).message})`);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new GuardRailsError(`${file}: expected a mapping of settings (readOnly, allow, deny, outputCapKiB, waitSeconds)`);
  return value as Record<string, unknown>;
}

/** The first deny pattern `text` matches, if any. */
export function deniedBy(rails: GuardRails, text: string): RegExp | undefined {
  return rails.deny.find((re) => re.test(text));
}
