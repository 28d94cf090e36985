// Names we refuse in either direction: they cannot be represented safely on every side.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Why a single path component is refused, or undefined when it is fine. */
export function badNameReason(name: string): string | undefined {
  if (name === '' || name === '.' || name === '..') return `invalid name ${JSON.stringify(name)}`;
  if (name.includes('/')) return 'name contains "/"';
  if (name.includes('\\')) return 'name contains a backslash (not portable; Windows treats it as a separator)';
  if (CONTROL.test(name)) return 'name contains NUL or control characters';
  return undefined;
}

/** Checks every component of a posix relative path (used for untrusted remote names). */
export function badRelPathReason(rel: string): string | undefined {
  if (rel.startsWith('/')) return 'absolute path';
  for (const part of rel.split('/')) {
    const why = badNameReason(part);
    if (why) return why;
  }
  return undefined;
}
