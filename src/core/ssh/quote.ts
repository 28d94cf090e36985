// Building the exec string sent over SSH. The remote *login* shell (bash, dash, fish, tcsh, ...) parses
// it first, so the /bin/sh script reaches /bin/sh either inside single quotes, when it has no character
// any of those shells treats specially there, or base64-encoded inside a fixed wrapper (ssh-traps §4.1).

/** Characters that stay bare in every shell we care about (no `=`/`%`/`~` at word start, no globs). */
const SAFE_BARE = /^[A-Za-z0-9_@+:,./-]+$/;

/** POSIX single-quoting for /bin/sh. */
export function shQuote(arg: string): string {
  if (arg.includes('\0')) throw new Error('shell arguments cannot contain NUL bytes');
  if (SAFE_BARE.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * The exec command of a shell that reads its script from stdin (the kept shells of keptShell.ts: push's
 * listing shell, the health probe's shell): POSIX sh. Constant text, the same for bash, dash, fish and tcsh
 * login shells; a script of any size or bytes, and nothing for the host to decode.
 */
export const STDIN_SHELL = 'exec /bin/sh -s';

export function shellCommandFromArgv(argv: readonly string[]): string {
  return argv.map(shQuote).join(' ');
}

export interface RemoteScriptOptions {
  /** Absolute, relative (to $HOME) or `~` / `~/...` directory to run in. */
  cwd?: string;
  env?: Record<string, string>;
  /** Print `${PGID_MARKER}<pgid>\n` on stderr before anything else the script does. */
  reportPgid?: boolean;
}

/**
 * Start of the first stderr line when `reportPgid` is set: `FLOTILLA_PGID=<digits>\n`. sshd makes the
 * command's shell a session and process-group leader, so `$$` is the group to `kill -TERM -- -PGID`.
 * The login shell's rc files may print before it, so search the start of stderr (see extractPgid).
 */
export const PGID_MARKER = 'FLOTILLA_PGID=';

/** Linux MAX_ARG_STRLEN is 128 KiB per argument; keep a margin. Larger scripts: upload first. */
export const MAX_REMOTE_COMMAND_BYTES = 100 * 1024;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function cdLine(cwd: string): string {
  if (cwd === '') throw new Error('cwd must not be empty');
  if (cwd === '~') return 'cd -- "$HOME" || exit 1';
  if (cwd.startsWith('~/')) return `cd -- "$HOME"/${shQuote(cwd.slice(2))} || exit 1`;
  if (cwd.startsWith('~')) throw new Error(`cwd ${JSON.stringify(cwd)}: ~user paths are not supported`);
  return `cd -- ${shQuote(cwd)} || exit 1`;
}

/** The /bin/sh script that buildRemoteCommand encodes (exposed for tests and logging). */
export function buildRemoteScript(script: string, opts: RemoteScriptOptions = {}): string {
  if (script.includes('\0')) throw new Error('remote script cannot contain NUL bytes');
  return scriptLines(script, opts).join('\n') + '\n';
}

function scriptLines(script: string, opts: RemoteScriptOptions): string[] {
  const lines: string[] = [];
  if (opts.reportPgid) lines.push(`echo ${PGID_MARKER}$$ >&2`);
  if (opts.cwd !== undefined) lines.push(cdLine(opts.cwd));
  for (const [name, value] of Object.entries(opts.env ?? {})) {
    if (!ENV_NAME.test(name)) throw new Error(`invalid environment variable name ${JSON.stringify(name)}`);
    lines.push(`export ${name}=${shQuote(value)}`);
  }
  lines.push(script);
  return lines;
}

/**
 * Printable ASCII without `'`, `\`, `!` or newline: inside single quotes bash, dash, fish and tcsh all keep
 * these bytes as they are (fish unescapes `\\` and `\'`, tcsh expands `!` and rejects a newline).
 */
const PLAIN_SAFE = /^[\x20\x22-\x26\x28-\x5b\x5d-\x7e]*$/;

/**
 * The exact exec string. A script of plain-safe lines without environment values (where secrets go)
 * travels as `exec /bin/sh -c '<its lines joined by "; ">'`: the host starts no decoder, which is most
 * of a short command's cost on it. Anything else as `exec /bin/sh -c '<fixed text with base64>'`, which
 * contains no `!`, newline, backslash or user data in clear. Either way tcsh/fish/bash/dash pass the
 * script to /bin/sh unchanged, stdin stays free for the script and /bin/sh's exit status is the
 * script's. `base64 -D` is the fallback for older macOS, whose base64 lacks `-d`; if neither decodes,
 * exit 127 rather than eval "" (= 0).
 */
export function buildRemoteCommand(script: string, opts: RemoteScriptOptions = {}): string {
  if (script.includes('\0')) throw new Error('remote script cannot contain NUL bytes');
  const lines = scriptLines(script, opts);
  const plain = Object.keys(opts.env ?? {}).length === 0 && lines.every((l) => PLAIN_SAFE.test(l));
  const cmd = plain ? `exec /bin/sh -c '${lines.join('; ')}'` : encodedCommand(lines.join('\n') + '\n');
  const size = Buffer.byteLength(cmd);
  if (size > MAX_REMOTE_COMMAND_BYTES) {
    throw new Error(
      `remote command is ${size} bytes after encoding, over the ${MAX_REMOTE_COMMAND_BYTES}-byte limit ` +
        '(Linux MAX_ARG_STRLEN is 128 KiB); upload the script as a file and run that instead',
    );
  }
  return cmd;
}

function encodedCommand(script: string): string {
  const b64 = Buffer.from(script, 'utf8').toString('base64');
  return `exec /bin/sh -c 'b=${b64}; ` +
    `s=$(echo "$b" | base64 -d 2>/dev/null || echo "$b" | base64 -D) || ` +
    `{ echo "flotilla: cannot decode the command (base64 -d/-D failed)" >&2; exit 127; }; eval "$s"'`;
}

/**
 * Find and remove the PGID line from the beginning of a command's stderr. Only the first marker
 * line is taken; anything the script itself prints later is left alone.
 */
export function extractPgid(stderr: string): { pgid?: number; rest: string } {
  const re = new RegExp(`(^|\\n)${PGID_MARKER}(\\d+)\\n`);
  const m = re.exec(stderr);
  if (!m) return { rest: stderr };
  const start = m.index + m[1]!.length;
  return { pgid: Number(m[2]), rest: stderr.slice(0, start) + stderr.slice(m.index + m[0].length) };
}
