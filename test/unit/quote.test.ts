import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildRemoteCommand,
  buildRemoteScript,
  extractPgid,
  MAX_REMOTE_COMMAND_BYTES,
  PGID_MARKER,
  shellCommandFromArgv,
  shQuote,
} from '../../src/core/ssh/quote';

const HOSTILE: readonly string[] = [
  "it's",
  '$(id)',
  '`id`',
  'a;b|c&d',
  'line1\nline2',
  '!event',
  '!!',
  'back\\slash',
  '\\',
  '*',
  '~',
  '~root',
  '${HOME}',
  '$HOME',
  'tab\there',
  'ünïcødé ✓ 日本語 🚀',
  '\x1b[31mred\x1b]0;title\x07\x1b[0m',
  "'; rm -rf ~; echo '",
  '-n',
  '-e',
  '',
  '%s%d%%',
  '%1',
  '"double"',
  "''",
  '{a,b}',
  '#hash',
  '=cmd',
  'a  b ',
  'cr\rlf',
  '(sub) <in >out',
  'x'.repeat(10 * 1024),
];

// Every login shell the remote account might have; sshd runs `$SHELL -c <command>`.
const SHELLS = ['/bin/bash', '/bin/dash', '/usr/bin/fish', '/usr/bin/tcsh'].filter((s) => fs.existsSync(s));

let home: string;

beforeAll(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'flotilla-quote-'));
});
afterAll(() => {
  fs.rmSync(home, { recursive: true, force: true });
});

function runAs(shell: string, cmd: string, input?: string, pathVar = '/usr/bin:/bin') {
  const r = spawnSync(shell, ['-c', cmd], {
    input: input ?? '',
    env: { PATH: pathVar, HOME: home, LANG: 'C.UTF-8' },
    cwd: home,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString('utf8'), pid: r.pid };
}

function nulSeparated(values: readonly string[]): Buffer {
  return Buffer.concat(values.map((v) => Buffer.from(v + '\0', 'utf8')));
}

function splitNul(buf: Buffer): string[] {
  const parts = buf.toString('utf8').split('\0');
  parts.pop();
  return parts;
}

describe('shQuote', () => {
  it('leaves safe words bare and quotes everything else', () => {
    expect(shQuote('abc-1.2/x_y')).toBe('abc-1.2/x_y');
    expect(shQuote('')).toBe("''");
    expect(shQuote("it's")).toBe(`'it'\\''s'`);
    expect(shQuote('~')).toBe("'~'");
    expect(shQuote('=cmd')).toBe("'=cmd'");
  });

  it('rejects NUL', () => {
    expect(() => shQuote('a\0b')).toThrow(/NUL/);
  });

  it.each(['/bin/bash', '/bin/dash'])('round-trips argv directly in POSIX %s', (shell) => {
    const r = runAs(shell, shellCommandFromArgv(['printf', '%s\\0', ...HOSTILE]));
    expect(r.status).toBe(0);
    expect(splitNul(r.stdout)).toEqual(HOSTILE);
  });
});

// Every plain-safe byte (printable ASCII but ', \, !), in sh constructs the login shell must leave alone.
const PLAIN_CHARS = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).filter((c) => !`'\\!`.includes(c)).join('');
const PLAIN_SCRIPTS: readonly string[] = [
  `printf "%s|" "$HOME" "a;b|c&d" "~" "*" "{a,b}" "#x" "%d%%" "(x) <y>" "^=+@[]" "x  y" "$$" >/dev/null; echo ok`,
  'echo $((6*7)) ${HOME#/} "$(echo sub)" `echo bq` ~ {a,b}',
  `echo ok # ${PLAIN_CHARS}`,
  `printf "%s" "${PLAIN_CHARS.replace(/["$\`]/g, '')}"`,
  'set -- a "b c"; echo $# "$2"; exit 7',
  'cd /; pwd; echo $0 | grep -c sh',
];

describe('buildRemoteCommand wrapper text', () => {
  it('sends plain-safe scripts in single quotes, and the rest base64-encoded', () => {
    expect(buildRemoteCommand('true')).toBe(`exec /bin/sh -c 'true'`);
    expect(buildRemoteCommand('make -j4', { reportPgid: true, cwd: '~' })).toBe(
      `exec /bin/sh -c 'echo ${PGID_MARKER}$$ >&2; cd -- "$HOME" || exit 1; make -j4'`,
    );
    for (const s of PLAIN_SCRIPTS) expect(buildRemoteCommand(s)).toBe(`exec /bin/sh -c '${s}'`);
    for (const s of ["it's", 'a\\b', 'echo hi!', 'a\nb', 'tab\there', 'ünï', '\x1b[0m']) {
      expect(buildRemoteCommand(s), JSON.stringify(s)).toMatch(/^exec \/bin\/sh -c 'b=[A-Za-z0-9+/=]+; /);
    }
    // environment values are where secrets go: never in clear, even when plain-safe
    expect(buildRemoteCommand('true', { env: { A: 'hunter2' } })).not.toContain('hunter2');
  });

  it('has no !, newline, backslash or user data in clear when encoded', () => {
    const cmd = buildRemoteCommand(shellCommandFromArgv(['echo', ...HOSTILE.slice(0, -1)]), {
      cwd: 'dir/$(id)',
      env: { SECRET: 'hunter2' },
    });
    expect(cmd).not.toMatch(/[!\n\\]/);
    expect(cmd).not.toContain('hunter2');
    expect(cmd).not.toContain('$(id)');
    expect(cmd).toMatch(/^exec \/bin\/sh -c 'b=[A-Za-z0-9+/=]+; s=\$\(echo "\$b" \| base64 -d 2>\/dev\/null /);
    expect(cmd.endsWith(`eval "$s"'`)).toBe(true);
  });

  it('validates env names, cwd and size', () => {
    expect(() => buildRemoteCommand('true', { env: { 'A-B': 'x' } })).toThrow(/invalid environment variable name/);
    expect(() => buildRemoteCommand('true', { env: { 'A;id': 'x' } })).toThrow();
    expect(() => buildRemoteCommand('true', { cwd: '~root/x' })).toThrow(/~user/);
    expect(() => buildRemoteCommand('true', { cwd: '' })).toThrow();
    expect(() => buildRemoteCommand('a\0b')).toThrow(/NUL/);
    expect(() => buildRemoteCommand('x'.repeat(70 * 1024))).not.toThrow();
    expect(() => buildRemoteCommand(`'${'x'.repeat(80 * 1024)}'`)).toThrow(/upload/);
    expect(() => buildRemoteCommand('x'.repeat(90 * 1024))).not.toThrow();
    expect(() => buildRemoteCommand('x'.repeat(110 * 1024))).toThrow(/upload/);
    expect(MAX_REMOTE_COMMAND_BYTES).toBeLessThan(128 * 1024);
  });

  it('builds the documented script shape', () => {
    expect(buildRemoteScript('make', { reportPgid: true, cwd: '~/src dir', env: { A: "it's" } })).toBe(
      `echo ${PGID_MARKER}$$ >&2\ncd -- "$HOME"/'src dir' || exit 1\nexport A='it'\\''s'\nmake\n`,
    );
  });
});

describe.each(SHELLS)('executed as sshd would with login shell %s', (shell) => {
  it('argv round-trips byte-exact', () => {
    const r = runAs(shell, buildRemoteCommand(shellCommandFromArgv(['printf', '%s\\0', ...HOSTILE])));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.equals(nulSeparated(HOSTILE))).toBe(true);
  });

  it('each hostile string alone round-trips', () => {
    for (const s of HOSTILE.slice(0, -1)) {
      const r = runAs(shell, buildRemoteCommand(shellCommandFromArgv(['printf', '%s', s])));
      expect(r.stdout.toString('utf8'), JSON.stringify(s)).toBe(s);
    }
  });

  it('plain-safe scripts do what /bin/sh -c does with them, byte for byte', () => {
    for (const s of PLAIN_SCRIPTS) {
      const want = spawnSync('/bin/sh', ['-c', s], { env: { PATH: '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8' }, cwd: home });
      const r = runAs(shell, buildRemoteCommand(s));
      expect(r.stderr, s).toBe(want.stderr.toString('utf8'));
      expect(r.stdout.toString('utf8'), s).toBe(want.stdout.toString('utf8'));
      expect(r.status, s).toBe(want.status);
    }
  });

  it('propagates exit codes', () => {
    expect(runAs(shell, buildRemoteCommand('exit 7')).status).toBe(7);
    expect(runAs(shell, buildRemoteCommand('echo hi; (exit 42)')).status).toBe(42);
    expect(runAs(shell, buildRemoteCommand('false')).status).toBe(1);
    expect(runAs(shell, buildRemoteCommand('true')).status).toBe(0);
    expect(runAs(shell, buildRemoteCommand('no-such-command-xyz')).status).toBe(127);
  });

  it('runs a script close to the size limit', () => {
    const big = 'z'.repeat(70 * 1024);
    const r = runAs(shell, buildRemoteCommand(shellCommandFromArgv(['printf', '%s', big])));
    expect(r.status).toBe(0);
    expect(r.stdout.toString()).toBe(big);
  });

  it('leaves stdin to the script', () => {
    const r = runAs(shell, buildRemoteCommand('cat; echo done'), 'from stdin\n');
    expect(r.stdout.toString()).toBe('from stdin\ndone\n');
  });

  it('changes to a cwd with spaces and quotes, and to ~/ paths', () => {
    const weird = path.join(home, `dir with 'single' "double" $x !y`);
    fs.mkdirSync(path.join(weird, 'sub dir'), { recursive: true });
    expect(runAs(shell, buildRemoteCommand('pwd', { cwd: weird })).stdout.toString()).toBe(weird + '\n');
    const rel = path.relative(home, path.join(weird, 'sub dir'));
    expect(runAs(shell, buildRemoteCommand('pwd', { cwd: `~/${rel}` })).stdout.toString()).toBe(
      path.join(weird, 'sub dir') + '\n',
    );
    expect(runAs(shell, buildRemoteCommand('pwd', { cwd: '~' })).stdout.toString()).toBe(home + '\n');
  });

  it('fails with exit 1 and does not run the script when cwd is missing', () => {
    const r = runAs(shell, buildRemoteCommand('echo ran', { cwd: path.join(home, 'nope') }));
    expect(r.status).toBe(1);
    expect(r.stdout.toString()).toBe('');
  });

  it('exports env values with quotes and newlines', () => {
    const env = { A: `it's "x" $(id) \`id\``, B_2: 'line1\nline2\n', _C: '' };
    const r = runAs(shell, buildRemoteCommand(`printf '%s\\0' "$A" "$B_2" "$_C"`, { env }));
    expect(splitNul(r.stdout)).toEqual([env.A, env.B_2, env._C]);
  });

  it('reports the pid of the command shell first on stderr', () => {
    const r = runAs(shell, buildRemoteCommand('echo oops >&2; exit 3', { reportPgid: true }));
    expect(r.status).toBe(3);
    expect(r.stderr.startsWith(PGID_MARKER)).toBe(true);
    const { pgid, rest } = extractPgid(r.stderr);
    // `exec` replaced the login shell, so $$ is the process sshd (here: spawn) started.
    expect(pgid).toBe(r.pid);
    expect(rest).toBe('oops\n');
  });
});

describe('decoding failure', () => {
  it('exits 127 instead of silently evaluating an empty script when base64 is missing', () => {
    const r = runAs('/bin/bash', buildRemoteCommand("echo 'ran'"), undefined, path.join(home, 'empty-path'));
    expect(r.status).toBe(127);
    expect(r.stdout.toString()).toBe('');
    expect(r.stderr).toContain('cannot decode');
  });
});

describe('extractPgid', () => {
  it('finds the marker after rc-file noise and leaves later lines alone', () => {
    expect(extractPgid(`motd\n${PGID_MARKER}123\nerr\n${PGID_MARKER}9\n`)).toEqual({
      pgid: 123,
      rest: `motd\nerr\n${PGID_MARKER}9\n`,
    });
    expect(extractPgid('nothing\n')).toEqual({ rest: 'nothing\n' });
  });
});
