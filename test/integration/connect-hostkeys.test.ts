// Host key verification on the lab fleet: unknown (ask / refuse / accept / slow answer / via a jump host),
// changed, @revoked, StrictHostKeyChecking yes and accept-new. No credential before acceptance.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveHost } from '../../src/core/config/sshConfig';
import { ConnectError } from '../../src/core/ssh/connect';
import { refusingPrompter, type HostKeyQuestion, type Prompter } from '../../src/core/types';
import type { LabHost } from '../lab/types';
import { connectFailure as failure, execOut as run, startFleet, waitUntil, type TestFleet } from './fleet';

const canRunLab = process.getuid?.() === 0;

function hostKeyPrompter(answer: boolean, delayMs = 0) {
  const questions: HostKeyQuestion[] = [];
  const prompter: Prompter = {
    ...refusingPrompter,
    confirmHostKey: async (q) => {
      questions.push(q);
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      return answer;
    },
  };
  return { prompter, questions };
}

function keygenFind(file: string, name: string): string {
  try {
    return execFileSync('ssh-keygen', ['-F', name, '-f', file], { encoding: 'utf8' });
  } catch {
    return '';
  }
}

describe.skipIf(!canRunLab)('host key verification on the lab fleet', () => {
  let fleet: TestFleet;
  let otherKeyLine: string; // "ssh-ed25519 AAAA..." of a key no lab host has
  let otherFingerprint: string;
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown) => uncaught.push(e);
  let n = 0;
  const host = (alias: string) => fleet.lab.info.hosts.find((h) => h.alias === alias)!;
  const bracket = (h: LabHost) => `[${h.address}]:${h.port}`;
  /** The lab's own known_hosts line for a host ("ssh-ed25519 AAAA..."). */
  const realKey = (h: LabHost) => readFileSync(fleet.lab.info.knownHosts, 'utf8').split('\n')
    .find((l) => l.startsWith(`${bracket(h)} `))!.split(' ').slice(1, 3).join(' ');

  beforeAll(async () => {
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    fleet = await startFleet({ hosts: 1 });
    const other = join(fleet.dir, 'other_host_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    otherKeyLine = readFileSync(`${other}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
    otherFingerprint = execFileSync('ssh-keygen', ['-lf', `${other}.pub`], { encoding: 'utf8' }).split(' ')[1]!;
  });
  afterAll(async () => {
    await fleet?.stop();
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
  });
  afterEach(() => expect(uncaught).toEqual([]));

  /** A fresh config + known_hosts pair for one test. */
  function setup(blocks: { alias: string; host: LabHost; extra?: string[] }[], knownHostsText: string, prompter: Prompter) {
    const id = n++;
    const knownHosts = join(fleet.dir, `kh-${id}`);
    const config = join(fleet.dir, `hk-config-${id}`);
    writeFileSync(knownHosts, knownHostsText, { mode: 0o600 });
    writeFileSync(config, blocks.map(({ alias, host: h, extra = [] }) => [
      `Host ${alias}`,
      `  HostName ${h.address}`,
      `  Port ${h.port}`,
      `  User ${h.user}`,
      `  IdentityFile ${fleet.lab.info.identityFile}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${knownHosts}`,
      '  ConnectTimeout 2',
      ...extra.map((l) => `  ${l}`),
    ].join('\n')).join('\n\n') + '\n');
    const pool = fleet.pool({ resolve: (alias) => resolveHost(alias, { configFile: config }), prompter });
    return { pool, knownHosts };
  }

  it('asks about an unknown key; refused: hostkey-rejected, nothing written, no userauth sent', async () => {
    const uk = host('unknown-key');
    const { prompter, questions } = hostKeyPrompter(false);
    const { pool, knownHosts } = setup([{ alias: 'uk', host: uk }], '', prompter);
    const logBefore = readFileSync(uk.sshdLog!).length;
    const err = await failure(pool.connection('uk'));
    expect(err).toBeInstanceOf(ConnectError);
    expect(err).toMatchObject({ kind: 'hostkey-rejected' });
    expect(questions).toHaveLength(1);
    expect(questions[0]).toMatchObject({
      alias: 'uk',
      lookupName: bracket(uk),
      hostname: uk.address,
      port: uk.port,
      keyType: 'ssh-ed25519',
      fingerprint: uk.hostKeyFingerprint,
      knownHostsFile: knownHosts,
    });
    expect(questions[0]!.via).toBeUndefined();
    expect(readFileSync(knownHosts, 'utf8')).toBe('');
    const sinceBefore = () => readFileSync(uk.sshdLog!).subarray(logBefore).toString();
    // sshd logs the end of the connection last: everything it did for it is in the log by then.
    await waitUntil(() => /Connection closed by|Disconnected from|Received disconnect/.test(sinceBefore()), 10_000, 'sshd logging the end of the connection');
    const log = sinceBefore();
    expect(log).toMatch(/Connection from/); // the connection did reach this sshd...
    expect(log).not.toMatch(/userauth-request/); // ...but no authentication was attempted
    await pool.dispose();
  });

  it('accepted: the key is appended (ssh-keygen -F finds it) and the connection succeeds', async () => {
    const uk = host('unknown-key');
    const { prompter, questions } = hostKeyPrompter(true);
    const { pool, knownHosts } = setup([{ alias: 'uk', host: uk }], '', prompter);
    expect(await run(pool, 'uk', 'echo accepted')).toEqual({ out: 'accepted\n', code: 0 });
    expect(questions).toHaveLength(1);
    expect(keygenFind(knownHosts, bracket(uk))).toContain('ssh-ed25519');
    await pool.dispose();
  });

  it('an answer slower than ConnectTimeout still connects (no handshake timeout)', async () => {
    const uk = host('unknown-key');
    const { prompter, questions } = hostKeyPrompter(true, 3_000); // ConnectTimeout is 2 s
    const { pool } = setup([{ alias: 'uk', host: uk }], '', prompter);
    expect(await run(pool, 'uk', 'echo patient')).toEqual({ out: 'patient\n', code: 0 });
    expect(questions).toHaveLength(1);
    await pool.dispose();
  });

  it('interactive:false never asks', async () => {
    const uk = host('unknown-key');
    const { prompter, questions } = hostKeyPrompter(true);
    const { pool, knownHosts } = setup([{ alias: 'uk', host: uk }], '', prompter);
    await expect(pool.connection('uk', { interactive: false })).rejects.toMatchObject({ kind: 'hostkey-rejected' });
    expect(questions).toEqual([]);
    expect(readFileSync(knownHosts, 'utf8')).toBe('');
    await pool.dispose();
  });

  it('asks about an unknown host behind a jump host with via, after verifying the jump host itself', async () => {
    const uk = host('unknown-key');
    const bastion = host('bastion');
    const { prompter, questions } = hostKeyPrompter(false);
    const { pool } = setup(
      [{ alias: 'uk-behind', host: uk, extra: ['ProxyJump bastion'] }, { alias: 'bastion', host: bastion }],
      `${bracket(bastion)} ${realKey(bastion)}\n`,
      prompter,
    );
    await expect(pool.connection('uk-behind')).rejects.toMatchObject({ kind: 'hostkey-rejected' });
    expect(questions).toHaveLength(1);
    expect(questions[0]).toMatchObject({ alias: 'uk-behind', lookupName: bracket(uk), via: 'bastion', fingerprint: uk.hostKeyFingerprint });
    await pool.dispose();
  });

  it('lets the server\'s host key announcement go: the server is not asked to prove (sign with) its keys', async () => {
    const h = host('lab-1');
    const { pool } = setup([{ alias: 'l1', host: h }], `${bracket(h)} ${realKey(h)}\n`, refusingPrompter);
    const logBefore = readFileSync(h.sshdLog!).length;
    expect(await run(pool, 'l1', 'echo announced')).toEqual({ out: 'announced\n', code: 0 });
    await pool.dispose();
    const log = () => readFileSync(h.sshdLog!).subarray(logBefore).toString();
    await waitUntil(() => /Received disconnect|Disconnected from/.test(log()), 10_000, 'sshd logging the end of the connection');
    expect(log()).toMatch(/exec|Starting session/); // the session ran on this sshd...
    expect(log()).not.toMatch(/hostkeys-prove-00/); // ...and was never asked to prove its host keys
  });

  it('refuses a changed key, naming both fingerprints and file:line, without asking', async () => {
    const lab1 = host('lab-1');
    const { prompter, questions } = hostKeyPrompter(true);
    const { pool, knownHosts } = setup([{ alias: 'l1', host: lab1 }], `# header\n${bracket(lab1)} ${otherKeyLine}\n`, prompter);
    const err = await failure(pool.connection('l1'));
    expect(err).toMatchObject({ kind: 'hostkey-rejected' });
    expect(err.hostKey?.verdict.kind).toBe('changed');
    expect(err.message).toContain(lab1.hostKeyFingerprint!);
    expect(err.message).toContain(otherFingerprint);
    expect(err.message).toContain(`${knownHosts}:2`);
    expect(questions).toEqual([]);
    await pool.dispose();
  });

  it('refuses a key marked @revoked even when a normal line also matches', async () => {
    const lab1 = host('lab-1');
    const { prompter, questions } = hostKeyPrompter(true);
    const { pool, knownHosts } = setup(
      [{ alias: 'l1', host: lab1 }],
      `@revoked ${bracket(lab1)} ${realKey(lab1)}\n${bracket(lab1)} ${realKey(lab1)}\n`,
      prompter,
    );
    const err = await failure(pool.connection('l1'));
    expect(err).toMatchObject({ kind: 'hostkey-rejected' });
    expect(err.hostKey?.verdict.kind).toBe('revoked');
    expect(err.message).toMatch(/revoked/);
    expect(err.message).toContain(`${knownHosts}:1`);
    expect(questions).toEqual([]);
    await pool.dispose();
  });

  it('StrictHostKeyChecking yes refuses an unknown key without asking or writing', async () => {
    const uk = host('unknown-key');
    const { prompter, questions } = hostKeyPrompter(true);
    const { pool, knownHosts } = setup([{ alias: 'uk', host: uk, extra: ['StrictHostKeyChecking yes'] }], '', prompter);
    const err = await failure(pool.connection('uk'));
    expect(err).toMatchObject({ kind: 'hostkey-rejected' });
    expect(err.message).toMatch(/StrictHostKeyChecking yes/);
    expect(questions).toEqual([]);
    expect(readFileSync(knownHosts, 'utf8')).toBe('');
    await pool.dispose();
  });

  it('StrictHostKeyChecking accept-new records a new key silently but still refuses a changed one', async () => {
    const uk = host('unknown-key');
    const lab1 = host('lab-1');
    const { prompter, questions } = hostKeyPrompter(false);
    const { pool, knownHosts } = setup(
      [
        { alias: 'uk', host: uk, extra: ['StrictHostKeyChecking accept-new'] },
        { alias: 'l1', host: lab1, extra: ['StrictHostKeyChecking accept-new'] },
      ],
      `${bracket(lab1)} ${otherKeyLine}\n`,
      prompter,
    );
    expect(await run(pool, 'uk', 'echo new')).toEqual({ out: 'new\n', code: 0 });
    expect(keygenFind(knownHosts, bracket(uk))).toContain('ssh-ed25519');
    await expect(pool.connection('l1')).rejects.toMatchObject({ kind: 'hostkey-rejected' });
    expect(questions).toEqual([]);
    await pool.dispose();
  });
});
