import { SshConfigError } from './errors.js';

const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const WHITESPACE = /\s/;

/**
 * Rejects values that must never reach a command line or a config lookup: an alias starting with `-`
 * would be read by `ssh` as an option (`-oProxyCommand=...`), whitespace or control characters would
 * split or forge arguments and config lines.
 */
export function validateHostToken(value: string, what: 'alias' | 'hostname' | 'user'): void {
  const shown = JSON.stringify(value);
  if (value.length === 0) {
    throw new SshConfigError(`Empty ${what}: give a non-empty ${what}.`);
  }
  if (value.startsWith('-')) {
    throw new SshConfigError(
      `Invalid ${what} ${shown}: it starts with "-" and would be read as an ssh option. Rename it so it starts with a letter or digit.`,
    );
  }
  if (CONTROL_CHARS.test(value)) {
    throw new SshConfigError(`Invalid ${what} ${shown}: it contains control characters (such as a newline). Remove them.`);
  }
  if (WHITESPACE.test(value)) {
    throw new SshConfigError(`Invalid ${what} ${shown}: it contains whitespace. Use a single word without spaces.`);
  }
}
