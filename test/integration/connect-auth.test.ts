// Authentication on the lab fleet: agent (IdentityAgent, IdentitiesOnly filtering, dead/wedged agents),
// encrypted IdentityFiles with a wrong passphrase first, auth-failed reporting, no secrets in messages.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveHost } from '../../src/core/config/sshConfig';
import { ConnectError } from '../../src/core/ssh/connect';
import { refusingPrompter, type Prompter } from '../../src/core/types';
import type { LabHost } from '../lab/types';
import { connectFailure as failure, execOut as run, startFleet, type TestFleet } from './fleet';

const canRunLab = process.getuid?.() === 0;

function block(alias: string, h: LabHost, knownHosts: string, extra: string[]): string {
  return [
    `Host ${alias}`,
    `  HostName ${h.address}`,
    `  Port ${h.port}`,
    `  User ${h.user}`,
    `  UserKnownHostsFile ${knownHosts}`,
    '  ConnectTimeout 10',
    ...extra.map((l) => `  ${l}`),
  ].join('\n');
}

/** A prompter that records every call and answers passphrases from a script. */
function scriptedPrompter(passphrases: (string | undefined)[] = [], passwords: (string | undefined)[] = []) {
  const calls: string[] = [];
  const passphraseCalls: [string, number][] = [];
  const prompter: Prompter = {
    confirmHostKey: async () => { calls.push('hostkey'); return false; },
    passphrase: async (path, attempt) => {
      passphraseCalls.push([path, attempt]);
      return passphrases.shift();
    },
    password: async (user, host) => { calls.push(`password ${user}@${host}`); return passwords.shift(); },
    keyboardInteractive: async () => { calls.push('keyboard-interactive'); return undefined; },
  };
  return { prompter, calls, passphraseCalls };
}

describe.skipIf(!canRunLab)('authentication on the lab fleet', () => {
  let fleet: TestFleet;
  let config: string;
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown) => uncaught.push(e);
  const servers: Server[] = [];

  beforeAll(async () => {
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    fleet = await startFleet({ hosts: 1 });
    const info = fleet.lab.info;
    const lab1 = info.hosts.find((h) => h.alias === 'lab-1')!;
    const foreignKey = join(fleet.dir, 'id_foreign');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'not-authorized', '-f', foreignKey]);
    config = join(fleet.dir, 'auth_config');
    writeFileSync(config, [
      block('agent-only', lab1, info.knownHosts, [`IdentityAgent ${info.agentSock}`, `IdentityFile ${join(fleet.dir, 'no-such-key')}`]),
      block('agent-filtered', lab1, info.knownHosts, [`IdentityAgent ${info.agentSock}`, `IdentityFile ${foreignKey}`, 'IdentitiesOnly yes']),
      block('encrypted', lab1, info.knownHosts, ['IdentityAgent none', `IdentityFile ${info.encryptedIdentityFile}`, 'IdentitiesOnly yes']),
      block('plain-key', lab1, info.knownHosts, [`IdentityFile ${info.identityFile}`]),
      // `User` here comes before block()'s own `User` line: the first obtained value wins.
      ['Host password', `  User ${info.passwordUser}`, '  IdentityAgent none', `  IdentityFile ${info.identityFile}`, '  IdentitiesOnly yes'].join('\n'),
      block('password', lab1, info.knownHosts, []),
      '',
    ].join('\n\n'));
  });
  afterAll(async () => {
    for (const s of servers) s.close();
    await fleet?.stop();
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
  });
  afterEach(() => expect(uncaught).toEqual([]));

  const pool = (prompter: Prompter, env: Record<string, string | undefined> = { SSH_AUTH_SOCK: undefined }) =>
    fleet.pool({ resolve: (alias) => resolveHost(alias, { configFile: config }), prompter, env });

  it('authenticates with the agent named by IdentityAgent when no IdentityFile is usable', async () => {
    const s = scriptedPrompter();
    const p = pool(s.prompter);
    expect(await run(p, 'agent-only', 'echo agent')).toEqual({ out: 'agent\n', code: 0 });
    expect(s.calls).toEqual([]);
    await p.dispose();
  });

  it('IdentitiesOnly filters the agent keys down to the IdentityFiles: auth fails, and says why', async () => {
    const s = scriptedPrompter();
    const p = pool(s.prompter);
    const err = await failure(p.connection('agent-filtered'));
    expect(err).toBeInstanceOf(ConnectError);
    expect(err).toMatchObject({ kind: 'auth-failed' });
    expect((err as Error).message).toMatch(/agent: 0 of 1 keys offered \(IdentitiesOnly/);
    expect((err as Error).message).toContain('id_foreign offered');
    await p.dispose();
  });

  it('logs in with a password asked through the Prompter once the key is refused', async () => {
    const info = fleet.lab.info;
    const lab1 = info.hosts.find((h) => h.alias === 'lab-1')!;
    const s = scriptedPrompter([], [info.password]);
    const p = pool(s.prompter);
    expect(await run(p, 'password', 'id -un')).toEqual({ out: `${info.passwordUser}\n`, code: 0 });
    expect(s.calls).toEqual([`password ${info.passwordUser}@${lab1.address}`]);
    await p.dispose();
  });

  it('a wrong password is auth-failed and the password appears in no message', async () => {
    const s = scriptedPrompter([], ['not-the-password-42']);
    const p = pool(s.prompter);
    const err = await failure(p.connection('password'));
    expect(err).toMatchObject({ kind: 'auth-failed' });
    expect(`${(err as Error).message}\n${(err as Error).stack}`).not.toContain('not-the-password-42');
    await p.dispose();
  });

  it('re-asks a wrong passphrase (attempt 1, then 2) and connects with the right one', async () => {
    const info = fleet.lab.info;
    const s = scriptedPrompter(['definitely-wrong', info.passphrase]);
    const p = pool(s.prompter);
    expect(await run(p, 'encrypted', 'echo decrypted')).toEqual({ out: 'decrypted\n', code: 0 });
    expect(s.passphraseCalls).toEqual([[info.encryptedIdentityFile, 1], [info.encryptedIdentityFile, 2]]);
    await p.dispose();
  });

  it('a wrong passphrase then giving up: auth-failed, and no passphrase in the message', async () => {
    // (Three wrong answers are covered by test/unit/auth.test.ts with a cheaper key format.)
    const s = scriptedPrompter(['wrong-one-x1', undefined]);
    const p = pool(s.prompter);
    const err = await failure(p.connection('encrypted'));
    expect(err).toMatchObject({ kind: 'auth-failed' });
    expect(err.message).toMatch(/no passphrase given; key not used/);
    for (const secret of ['wrong-one-x1', fleet.lab.info.passphrase]) {
      expect(err.message).not.toContain(secret);
      expect(String(err.stack)).not.toContain(secret);
    }
    expect(s.passphraseCalls.map(([, n]) => n)).toEqual([1, 2]);
    await p.dispose();
  });

  it('falls back to the IdentityFile when SSH_AUTH_SOCK is a dead socket', async () => {
    // A socket file nobody listens on any more: a process that bound it was SIGKILLed.
    const dead = join(fleet.dir, 'dead-agent.sock');
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(dead)}, () => console.log('up'))`]);
    await new Promise((r) => child.stdout.once('data', r));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(existsSync(dead)).toBe(true);
    const p = pool(scriptedPrompter().prompter, { SSH_AUTH_SOCK: dead });
    const t0 = Date.now();
    expect(await run(p, 'plain-key', 'echo fallback')).toEqual({ out: 'fallback\n', code: 0 });
    expect(Date.now() - t0).toBeLessThan(3_000);
    await p.dispose();
  });

  it('falls back to the IdentityFile when the agent accepts but never answers', async () => {
    const wedged = join(fleet.dir, 'wedged-agent.sock');
    const server = createServer(() => { /* accept, never answer */ });
    servers.push(server);
    await new Promise<void>((r) => server.listen(wedged, r));
    const p = pool(scriptedPrompter().prompter, { SSH_AUTH_SOCK: wedged });
    const t0 = Date.now();
    expect(await run(p, 'plain-key', 'echo fallback')).toEqual({ out: 'fallback\n', code: 0 });
    expect(Date.now() - t0).toBeLessThan(5_000);
    await p.dispose();
  });

  it('reports auth-failed for a user with no usable credential, without asking in non-interactive mode', async () => {
    const p = fleet.pool({ prompter: refusingPrompter });
    const t0 = Date.now();
    const err = await failure(p.connection('authfail', { interactive: false }));
    expect(err).toBeInstanceOf(ConnectError);
    expect(err).toMatchObject({ kind: 'auth-failed' });
    expect((err as Error).message).toMatch(/authfail: authentication failed as flotilla-nokey/);
    expect(Date.now() - t0).toBeLessThan(5_000);
    await p.dispose();
  });
});
