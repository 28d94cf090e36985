// Differential test: formatSshG(resolveHost(...)) against OpenSSH `ssh -G -F FILE -- ALIAS`.
// OpenSSH expands `~` from the password database, so ssh runs as a scratch user whose home is a
// fresh temp dir; the resolver gets the same home, user, uid, host name and environment.
import { execFile as execFileCb } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatSshG, resolveHost } from '../../src/core/config/sshConfig.js';
import { ALL_CASES, ETC_HOSTS_ENTRIES, type DiffCase } from './fixtures/sshconfig/cases.js';

const execFile = promisify(execFileCb);
const SCRATCH_USER = 'flotilla-cfgtest';
const HOSTS_MARKER = '# flotilla sshConfigDiff (removed after the test)';

/** Adds (or, with none, removes) this test's /etc/hosts lines, leaving every other line as it was. */
function setEtcHosts(entries: readonly string[]): void {
  const kept = readFileSync('/etc/hosts', 'utf8').split('\n').filter((l) => !l.endsWith(HOSTS_MARKER));
  while (kept.length > 0 && kept[kept.length - 1] === '') kept.pop();
  writeFileSync('/etc/hosts', [...kept, ...entries.map((e) => `${e} ${HOSTS_MARKER}`)].join('\n') + '\n');
}

/** The keys every case is also compared on (the product's contract with ssh -G). */
const COMMON_KEYS = [
  'hostname', 'user', 'port', 'identityfile', 'proxyjump', 'proxycommand', 'userknownhostsfile',
  'stricthostkeychecking', 'connecttimeout', 'serveraliveinterval', 'serveralivecountmax', 'identityagent',
  'identitiesonly', 'forwardagent', 'hostkeyalias', 'sendenv', 'setenv', 'globalknownhostsfile', 'hashknownhosts',
];

async function commandExists(cmd: string): Promise<boolean> {
  try {
    await execFile('sh', ['-c', `command -v ${cmd}`]);
    return true;
  } catch {
    return false;
  }
}

const sshAvailable = await commandExists('ssh');
if (!sshAvailable) console.warn('sshConfigDiff: skipped because the OpenSSH client (`ssh`) is not installed');

describe.skipIf(!sshAvailable)('ssh config resolution vs. ssh -G (OpenSSH differential)', () => {
  let home = '';
  let uid = -1;
  let env: Record<string, string> = {};

  beforeAll(async () => {
    if (process.getuid?.() !== 0) {
      throw new Error(`the differential test needs root to run ssh as the scratch user ${SCRATCH_USER}`);
    }
    home = mkdtempSync(join(tmpdir(), 'flotilla-cfgtest-'));
    chmodSync(home, 0o755);
    const exists = await execFile('id', ['-u', SCRATCH_USER]).then(() => true, () => false);
    if (exists) await execFile('usermod', ['-d', home, SCRATCH_USER]);
    else await execFile('useradd', ['-M', '-d', home, '-s', '/bin/sh', SCRATCH_USER]);
    uid = Number((await execFile('id', ['-u', SCRATCH_USER])).stdout.trim());
    env = { HOME: home, PATH: '/usr/local/bin:/usr/bin:/bin', USER: SCRATCH_USER, LOGNAME: SCRATCH_USER };
    setEtcHosts(ETC_HOSTS_ENTRIES);
  });

  afterAll(() => {
    setEtcHosts([]);
    if (home) rmSync(home, { recursive: true, force: true });
  });

  function fill(text: string, caseDir: string): string {
    return text.replaceAll('{{HOME}}', home).replaceAll('{{LOCALUSER}}', SCRATCH_USER).replaceAll('{{CASEDIR}}', caseDir);
  }

  function casePath(c: DiffCase, name: string): string {
    const caseDir = join(home, `case-${c.id}`);
    if (name === 'main') return c.defaultConfig ? join(home, '.ssh', 'config') : join(caseDir, 'config');
    return name.startsWith('~/') ? join(home, name.slice(2)) : join(caseDir, name);
  }

  /** Writes the case's files (world-readable, root-owned: ssh's permission checks accept that unless `modes`/`owners` say otherwise). */
  function writeCase(c: DiffCase, prefix = ''): string {
    rmSync(join(home, '.ssh'), { recursive: true, force: true });
    const caseDir = join(home, `case-${c.id}`);
    rmSync(caseDir, { recursive: true, force: true });
    for (const [name, content] of Object.entries(c.files)) {
      const path = casePath(c, name);
      mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
      writeFileSync(path, (name === 'main' ? prefix : '') + fill(content, caseDir), { mode: 0o644 });
      if (c.modes?.[name] !== undefined) chmodSync(path, c.modes[name]!);
      if (c.owners?.[name] !== undefined) chownSync(path, c.owners[name]!, 0);
    }
    return casePath(c, 'main');
  }

  async function sshG(file: string, c: DiffCase): Promise<{ ok: true; out: string } | { ok: false; err: string }> {
    const args = ['-u', SCRATCH_USER, '--', 'env', '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), 'ssh', '-G'];
    if (!c.defaultConfig) args.push('-F', file);
    if (c.user) args.push('-l', c.user);
    if (c.port !== undefined) args.push('-p', String(c.port));
    if (c.jump !== undefined) args.push('-J', c.jump);
    args.push('--', c.host);
    try {
      const { stdout } = await execFile('runuser', args, { cwd: home });
      return { ok: true, out: stdout };
    } catch (e) {
      return { ok: false, err: String((e as { stderr?: string }).stderr ?? e) };
    }
  }

  function pick(output: string, keys: readonly string[]): string {
    const wanted = new Set(keys);
    return output
      .split('\n')
      .filter((line) => line && wanted.has(line.slice(0, line.indexOf(' '))))
      .join('\n');
  }

  function resolve(c: DiffCase, file: string) {
    return resolveHost(c.host, {
      ...(c.defaultConfig ? {} : { configFile: file }),
      homeDir: home,
        localUser: SCRATCH_USER,
        localHostname: hostname(),
        localUid: uid,
        user: c.user,
        port: c.port,
        proxyJump: c.jump,
        env,
      matchExec: { enabled: true, timeoutMs: 10_000 },
      platform: 'linux',
    }).then(
      (h) => ({ ok: true as const, h }),
      (e: unknown) => ({ ok: false as const, err: String(e) }),
    );
  }

  for (const c of ALL_CASES) {
    it(`#${c.id} ${c.name}`, async () => {
      let expected: string;
      if (c.unknownKeyword) {
        // ssh refuses the file; with the keyword in IgnoreUnknown it resolves, and so must Flotilla (with a warning).
        const { keyword, line } = c.unknownKeyword;
        const refused = await sshG(writeCase(c), c);
        expect(refused.ok, 'ssh -G should refuse the unknown keyword').toBe(false);
        if (!refused.ok) expect(refused.err).toContain(`line ${line}: Bad configuration option: ${keyword}`);
        const ignoring = await sshG(writeCase(c, `IgnoreUnknown ${keyword}\n`), c);
        if (!ignoring.ok) throw new Error(`ssh -G with IgnoreUnknown failed: ${ignoring.err}`);
        expected = ignoring.out.replace(/^ignoreunknown .*\n/m, '');
      }
      const file = writeCase(c);
      const openssh = c.unknownKeyword ? undefined : await sshG(file, c);
      const resolved = await resolve(c, file);
      if (c.expectError) {
        expect(openssh!.ok, 'ssh -G should refuse this config').toBe(false);
        expect(resolved.ok, 'the resolver should refuse this config').toBe(false);
        if (c.expectError !== true && !openssh!.ok && !resolved.ok) {
          expect(openssh!.err).toMatch(c.expectError.ssh);
          expect(resolved.err).toMatch(c.expectError.resolver);
          if (c.expectError.line !== undefined) {
            expect(resolved.err).toContain(`${casePath(c, c.expectError.file ?? 'main')}:${c.expectError.line}:`);
          }
        }
        return;
      }
      if (openssh && !openssh.ok) throw new Error(`ssh -G failed: ${openssh.err}`);
      if (!resolved.ok) throw new Error(`resolver failed: ${resolved.err}`);
      if (openssh?.ok) expected = openssh.out;
      const mine = formatSshG(resolved.h);
      if (c.unknownKeyword) {
        const want = `${file}:${c.unknownKeyword.line}: Bad configuration option: ${c.unknownKeyword.keyword}`;
        expect(resolved.h.warnings?.some((w) => w.startsWith(want)), `a warning starting with ${want}`).toBe(true);
      }
      expect(pick(mine, c.keys), 'case keys').toBe(pick(expected!, c.keys));
      expect(pick(mine, COMMON_KEYS), 'common keys').toBe(pick(expected!, COMMON_KEYS));
      expect(mine, 'whole ssh -G output').toBe(expected!);
      if (c.reparse) {
        const again = join(dirname(file), 'reparse.config');
        writeFileSync(again, expected!, { mode: 0o644 });
        const reparsed = await sshG(again, { ...c, defaultConfig: false });
        const mineAgain = await resolve({ ...c, defaultConfig: false }, again);
        // ssh cannot always read its own output back (an expanded %, an escape char); then neither may we.
        expect(mineAgain.ok, `resolver on ssh -G output (ssh: ${reparsed.ok ? 'ok' : reparsed.err})`).toBe(reparsed.ok);
        if (reparsed.ok && mineAgain.ok) expect(formatSshG(mineAgain.h), 'ssh -G output read back as a config').toBe(reparsed.out);
      }
    });
  }
});
