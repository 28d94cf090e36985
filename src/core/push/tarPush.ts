// The remote half of the fast path for a destination that does not exist yet (the typical first push): one tar stream over exec into
// a staging directory next to the destination, then ONE rename of the whole tree into place. Nothing is visible
// at the destination until everything has arrived, so it keeps the temp+rename guarantee of the SFTP path
// with a fraction of its round trips. A stale staging directory is removed by the next listing.
import { randomBytes } from 'node:crypto';
import { shQuote } from '../ssh/quote';
import { shellWord, type RemoteDestination } from './remotePath';
import { TEMP_MARKER } from './types';

export const NO_TAR_EXIT = 91;

export type TarOutcome = { kind: 'ok' } | { kind: 'unsupported' } | { kind: 'failed'; message: string };

export function stagingFor(dest: RemoteDestination): RemoteDestination {
  const last = dest.parts[dest.parts.length - 1]!;
  const parts = [...dest.parts.slice(0, -1), `.${last}${TEMP_MARKER}${randomBytes(6).toString('hex')}`];
  return { ...dest, parts, spec: (dest.homeRelative ? '~/' : '/') + parts.join('/') };
}

/**
 * GNU tar accepts an archive cut short at a header boundary, so completeness is proven by a sentinel entry
 * sent last: without it the staging directory is discarded.
 */
export function sentinelName(stage: RemoteDestination): string {
  return `.flotilla-complete-${stage.parts[stage.parts.length - 1]!.slice(-12)}`;
}

export function tarScript(dest: RemoteDestination, stage: RemoteDestination): string {
  const sentinel = shQuote(sentinelName(stage));
  return [
    `command -v tar >/dev/null 2>&1 || exit ${NO_TAR_EXIT}`,
    `d=${shellWord(dest)}`,
    `s=${shellWord(stage)}`,
    // Missing parents as `mkdir -p` makes them (modes from the umask); the lock is held, so nobody races us.
    'mkdir -p -- "${s%/*}" && mkdir -m 700 -- "$s" || exit 1',
    'tar -x -p --no-same-owner -f - -C "$s" || { rm -rf -- "$s"; exit 2; }',
    `[ -f "$s"/${sentinel} ] || { rm -rf -- "$s"; echo "the archive was cut short" >&2; exit 5; }`,
    `rm -f -- "$s"/${sentinel}`,
    'chmod 755 -- "$s"',
    'if [ -e "$d" ] || [ -L "$d" ]; then rm -rf -- "$s"; echo "the destination appeared during the push; run it again" >&2; exit 3; fi',
    'mv -- "$s" "$d" || { rm -rf -- "$s"; exit 4; }',
  ].join('\n');
}
