// Public entry point of ssh_config handling. Nothing under src/core imports vscode.
import type { ConfigSource, ResolvedHost } from '../types.js';
import { MAX_INCLUDE_DEPTH, ONE_LINE_ARRAY_KEYS } from './defaults.js';
import { SshConfigError } from './errors.js';
import type { ConfigLine } from './lexer.js';
import { OptionStore } from './options.js';
import { isConcreteHostPattern } from './patterns.js';
import { expandIncludeArgument, lexedFile } from './reader.js';
import { configFilesToRead, environmentFrom, type ResolveOptions } from './resolve.js';
import { validateHostToken } from './validate.js';

export { resolveHost, type ResolveOptions } from './resolve.js';
export { SshConfigError } from './errors.js';
export { validateHostToken } from './validate.js';

export interface HostEntry {
  alias: string;
  source: ConfigSource;
}

/** Something wrong in a config file, with the place to fix it. */
export interface ConfigProblem {
  readonly file: string;
  /** 1-based; absent for whole-file problems (permissions, size, unreadable). */
  readonly line?: number;
  readonly message: string;
  /** "error": ssh refuses the config; "warning": Flotilla goes on (README: ssh_config policy). */
  readonly severity: 'error' | 'warning';
}

/** `file:line: message`, the form warnings and errors are shown in. */
export function formatProblem(p: ConfigProblem): string {
  return `${p.file}${p.line ? `:${p.line}` : ''}: ${p.message}`;
}

function problemFrom(e: unknown, file: string): ConfigProblem {
  if (e instanceof SshConfigError) {
    const where = `${e.file ?? file}${e.line ? `:${e.line}` : ''}: `;
    const message = e.message.startsWith(where) ? e.message.slice(where.length) : e.message;
    return { file: e.file ?? file, ...(e.line ? { line: e.line } : {}), message, severity: 'error' };
  }
  return { file, message: (e as Error).message, severity: 'error' };
}

/**
 * Every concrete `Host` alias (no `*`, `?`, `!`) in the config files ssh would read, following every
 * Include regardless of Host/Match conditions; first occurrence wins. Nothing here throws: problems
 * (bad permissions, unknown keywords, invalid values such as a bad ProxyJump, a Host pattern that
 * cannot be an alias) are collected with file:line, and the aliases that are fine are still listed.
 */
export async function listHostAliases(
  opts: ResolveOptions = {},
): Promise<{ hosts: HostEntry[]; warnings: string[]; problems: ConfigProblem[]; files: string[] }> {
  const env = environmentFrom(opts);
  const hosts: HostEntry[] = [];
  /** Every config file looked at (Includes too, and a main file that does not exist yet): what to watch. */
  const files: string[] = [];
  const seen = new Set<string>();
  const problems: ConfigProblem[] = [];
  const report = (p: ConfigProblem) => {
    if (!problems.some((q) => formatProblem(q) === formatProblem(p))) problems.push(p);
  };
  // Checks every option line as ssh does in any block. IgnoreUnknown counts from where it appears
  // outside host-specific blocks; resolution applies it exactly, per host.
  const lint = new OptionStore(env.platform, env.env);

  const visit = async (file: string, userConfig: boolean, checkPerm: boolean, chain: readonly string[]): Promise<boolean> => {
    if (!files.includes(file)) files.push(file);
    let lines: readonly ConfigLine[] | undefined;
    try {
      lines = await lexedFile(file, checkPerm ? env.uid : undefined);
    } catch (e) {
      report(problemFrom(e, file));
      return true;
    }
    if (lines === undefined) return false;
    const here = [...chain, file];
    let global = true;
    for (const line of lines) {
      const where = { file: line.file, line: line.line };
      if (line.keyword === 'host') {
        global = line.args.includes('*') && !line.args.some((a) => a.startsWith('!'));
        for (const pattern of line.args) {
          if (!isConcreteHostPattern(pattern) || seen.has(pattern)) continue;
          try {
            validateHostToken(pattern, 'alias');
          } catch (e) {
            report({ ...where, message: `Host pattern ${JSON.stringify(pattern)} is skipped: ${(e as Error).message}`, severity: 'warning' });
            continue;
          }
          seen.add(pattern);
          hosts.push({ alias: pattern, source: where });
        }
      } else if (line.keyword === 'match') {
        global = /^all\s*(#.*)?$/i.test(line.rest);
      } else if (line.keyword === 'include') {
        for (const arg of line.args) {
          let files: string[];
          try {
            files = await expandIncludeArgument(arg, userConfig, env, where);
          } catch (e) {
            report(problemFrom(e, line.file));
            continue;
          }
          for (const included of files) {
            if (here.includes(included)) {
              report({ ...where, message: `Include cycle: ${[...here, included].join(' -> ')}`, severity: 'error' });
            } else if (here.length > MAX_INCLUDE_DEPTH) {
              report({ ...where, message: `too many nested Includes (more than ${MAX_INCLUDE_DEPTH} levels)`, severity: 'error' });
            } else {
              await visit(included, userConfig, true, here);
            }
          }
        }
      } else {
        try {
          const warning = lint.apply(line, global);
          if (warning) report({ ...where, message: warning.slice(`${line.file}:${line.line}: `.length), severity: 'warning' });
        } catch (e) {
          report(problemFrom(e, line.file));
        }
      }
    }
    return true;
  };

  for (const { file, userConfig, required, checkPerm } of configFilesToRead(opts, env)) {
    const found = await visit(file, userConfig, checkPerm, []);
    if (required && !found) report({ file, message: 'no such file', severity: 'error' });
  }
  return { hosts, warnings: problems.map(formatProblem), problems, files };
}

/**
 * `ssh -G` style output: lower-case "key value" lines in ssh -G order, one line per value for
 * multi-valued keys (IdentityFile, SendEnv...), one line for list keys (UserKnownHostsFile...).
 * `keys` restricts the output to those keys (still in ssh -G order).
 */
export function formatSshG(h: ResolvedHost, keys?: readonly string[]): string {
  const wanted = keys ? new Set(keys.map((k) => k.toLowerCase())) : undefined;
  const lines: string[] = [];
  for (const [key, option] of h.options) {
    if (wanted && !wanted.has(key.toLowerCase())) continue;
    if (ONE_LINE_ARRAY_KEYS.has(key)) lines.push(`${key} ${option.values.join(' ')}`);
    else for (const value of option.values) lines.push(`${key} ${value}`);
  }
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}

