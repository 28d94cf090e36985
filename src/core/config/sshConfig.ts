// Public entry point of ssh_config handling. Nothing under src/core imports vscode.
import { readFile } from 'node:fs/promises';
import type { ConfigSource, ResolvedHost } from '../types.js';
import { MAX_INCLUDE_DEPTH, ONE_LINE_ARRAY_KEYS } from './defaults.js';
import { lexConfig } from './lexer.js';
import { isConcreteHostPattern } from './patterns.js';
import { expandIncludeArgument } from './reader.js';
import { configFilesToRead, environmentFrom, type ResolveOptions } from './resolve.js';

export { resolveHost, type ResolveOptions } from './resolve.js';
export { SshConfigError } from './errors.js';
export { validateHostToken } from './validate.js';

export interface HostEntry {
  alias: string;
  source: ConfigSource;
}

/**
 * Every concrete `Host` alias (no `*`, `?`, `!`) in the config files ssh would read, following every
 * Include regardless of Host/Match conditions; first occurrence wins. Problems become warnings.
 */
export async function listHostAliases(opts: ResolveOptions = {}): Promise<{ hosts: HostEntry[]; warnings: string[] }> {
  const env = environmentFrom(opts);
  const hosts: HostEntry[] = [];
  const seen = new Set<string>();
  const warnings: string[] = [];

  const visit = async (file: string, userConfig: boolean, chain: readonly string[]): Promise<void> => {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') warnings.push(`${file}: ${(e as Error).message}`);
      return;
    }
    let lines;
    try {
      lines = lexConfig(text, file);
    } catch (e) {
      warnings.push((e as Error).message);
      return;
    }
    const here = [...chain, file];
    for (const line of lines) {
      if (line.keyword === 'host') {
        for (const pattern of line.args) {
          if (!isConcreteHostPattern(pattern) || seen.has(pattern)) continue;
          seen.add(pattern);
          hosts.push({ alias: pattern, source: { file: line.file, line: line.line } });
        }
      } else if (line.keyword === 'include') {
        for (const arg of line.args) {
          let files: string[];
          try {
            files = await expandIncludeArgument(arg, userConfig, env, { file: line.file, line: line.line });
          } catch (e) {
            warnings.push((e as Error).message);
            continue;
          }
          for (const included of files) {
            if (here.includes(included)) {
              warnings.push(`${line.file}:${line.line}: Include cycle: ${[...here, included].join(' -> ')}`);
            } else if (here.length > MAX_INCLUDE_DEPTH) {
              warnings.push(`${line.file}:${line.line}: too many nested Includes (more than ${MAX_INCLUDE_DEPTH} levels)`);
            } else {
              await visit(included, userConfig, here);
            }
          }
        }
      }
    }
  };

  for (const { file, userConfig, required } of configFilesToRead(opts, env)) {
    const before = warnings.length;
    await visit(file, userConfig, []);
    if (required && before === warnings.length && !(await exists(file))) warnings.push(`${file}: no such file`);
  }
  return { hosts, warnings };
}

async function exists(file: string): Promise<boolean> {
  try {
    await readFile(file);
    return true;
  } catch {
    return false;
  }
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

