// Validating and spelling the remote destination. Remote paths are given as `/abs/path` or `~/rel/path`;
// the listing command reports $HOME so SFTP (which needs a real path) and the shell agree.
import { shQuote } from '../ssh/quote';

export class DestinationError extends Error {}

export interface RemoteDestination {
  /** Normalised spelling: `/a/b` or `~/a/b`, no trailing slash, no `.` or empty components. */
  spec: string;
  /** true when the spec is `~/…`. */
  homeRelative: boolean;
  /** Components after `/` or `~/`. */
  parts: string[];
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function split(raw: string, what: string): RemoteDestination {
  if (typeof raw !== 'string' || raw.trim() === '') throw new DestinationError(`${what} is empty: give an absolute path or one starting with ~/`);
  if (CONTROL.test(raw)) throw new DestinationError(`${what} ${JSON.stringify(raw)} contains control characters`);
  let homeRelative: boolean;
  let rest: string;
  if (raw.startsWith('/')) {
    homeRelative = false;
    rest = raw;
  } else if (raw === '~' || raw.startsWith('~/')) {
    homeRelative = true;
    rest = raw.slice(1);
  } else if (raw.startsWith('~')) {
    throw new DestinationError(`${what} ${JSON.stringify(raw)}: ~user paths are not supported; write the absolute path`);
  } else {
    throw new DestinationError(`${what} ${JSON.stringify(raw)} is relative: write it as /absolute/path or ~/path (home of the login user)`);
  }
  const parts = rest.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new DestinationError(`${what} ${JSON.stringify(raw)} contains a ".." component; write the path without it`);
  const spec = (homeRelative ? '~/' : '/') + parts.join('/');
  return { spec, homeRelative, parts };
}

/**
 * Checks a push/pull destination: absolute or `~/`-relative, never `/`, `~` or `~/` themselves (a delete there
 * would be a disaster), never `..`, and inside `root` when one is configured.
 */
export function parseDestination(raw: string, opts: { root?: string; allowTop?: boolean } = {}): RemoteDestination {
  const dest = split(raw, 'remote path');
  if (dest.parts.length === 0 && !opts.allowTop) {
    throw new DestinationError(
      `remote path ${JSON.stringify(raw)} is the ${dest.homeRelative ? 'home directory' : 'filesystem root'} itself; name a directory inside it, e.g. ~/project`,
    );
  }
  if (opts.root !== undefined) {
    const root = split(opts.root, 'configured push root');
    const inside = root.homeRelative === dest.homeRelative &&
      root.parts.length < dest.parts.length + (opts.allowTop ? 1 : 0) &&
      root.parts.every((p, i) => dest.parts[i] === p);
    if (!inside) {
      throw new DestinationError(`remote path ${dest.spec} is outside the configured push root ${root.spec}; choose a path under it or change flotilla.push.root`);
    }
  }
  return dest;
}

/** The destination as a /bin/sh word (`"$HOME"/'a b'` or `'/x y'`). */
export function shellWord(dest: RemoteDestination): string {
  const rel = dest.parts.join('/');
  return dest.homeRelative ? `"$HOME"/${shQuote(rel)}` : shQuote('/' + rel);
}

/** The absolute path for SFTP, given the remote $HOME reported by the listing. */
export function absolutePath(dest: RemoteDestination, home: string): string {
  const rel = dest.parts.join('/');
  if (!dest.homeRelative) return '/' + rel;
  const h = home.replace(/\/+$/, '');
  return rel ? `${h}/${rel}` : h || '/';
}

/** Joins a destination and a posix relative path ('' = the destination itself). */
export function joinRemote(base: string, rel: string): string {
  return rel === '' ? base : `${base.replace(/\/+$/, '')}/${rel}`;
}

/** The directory holding `dest` (may be `~` or `/` itself). */
export function parentOf(dest: RemoteDestination): RemoteDestination {
  const parts = dest.parts.slice(0, -1);
  return { homeRelative: dest.homeRelative, parts, spec: (dest.homeRelative ? '~/' : '/') + parts.join('/') };
}
