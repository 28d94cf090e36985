/**
 * The lab fleet: real sshds on loopback addresses, an ssh-agent, a black-hole TCP server, an ssh_config,
 * known_hosts and groups file — everything under one directory, described by DIR/lab.json.
 * Used by integration tests, benchmarks and the demo. Needs root (useradd, unshare, mount).
 */
import { existsSync, statSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAB_PORT, MAX_NORMAL_HOSTS, SPECIAL_OCTET, blocksFor, normalHostAddress, pickLoopbackPrefix } from './addresses.js';
import { DEFAULT_LOAD, realMemAvailableKb, updateFakeProc } from './fakeProc.js';
import { groupsYamlText, knownHostsText, sshConfigText, type SshConfigEntry } from './files.js';
import { generateKey, publicKeyOf } from './keys.js';
import {
  cmdlineOf,
  killLabProcesses,
  mountNamespaceOf,
  spawnDetached,
  waitForTcp,
  type DetachedProcess,
} from './processes.js';
import { mapLimited, settleLimited } from './limit.js';
import { runOk } from './run.js';
import { prepareSshd, startSshd, SSHD_BINARY, type PreparedSshd, type RunningSshd, type SshdSpec } from './sshd.js';
import type { Lab, LabHost, LabInfo, LabOptions, LabShell, LabState } from './types.js';
import { LAB_USERS, ensureLabUsers, LAB_PASSWORD, LAB_PASSWORD_USER } from './users.js';

export type { Lab, LabHost, LabInfo, LabOptions, LabRole, LabShell } from './types.js';

const LAB_PASSPHRASE = 'flotilla-lab-passphrase';
/** Key generation and sshd starts in flight at once: a 500-host lab must not fork 1,000 processes in one go. */
const SPAWN_CONCURRENCY = 48;
const BLACKHOLE_SCRIPT = fileURLToPath(new URL('./blackhole.mjs', import.meta.url));
const SHELL_ALIASES: readonly { alias: string; user: string; shell: LabShell }[] = [
  { alias: 'shell-bash', user: 'flotilla', shell: 'bash' },
  { alias: 'shell-dash', user: 'flotilla-dash', shell: 'dash' },
  { alias: 'shell-fish', user: 'flotilla-fish', shell: 'fish' },
  { alias: 'shell-tcsh', user: 'flotilla-tcsh', shell: 'tcsh' },
];
/** Files `up` (re)creates; anything else in DIR is left alone. */
const GENERATED = [
  'hosts', 'keys', 'logs', 'id_ed25519', 'id_ed25519.pub', 'id_encrypted', 'id_encrypted.pub', 'agent_key',
  'agent_key.pub', 'agent.sock', 'ssh_config', 'known_hosts', 'groups.yaml', 'lab.json',
];

export const labJsonPath = (dir: string) => join(resolve(dir), 'lab.json');

export async function readLabState(dir: string): Promise<LabState> {
  return JSON.parse(await readFile(labJsonPath(dir), 'utf8')) as LabState;
}

async function writeLabState(state: LabState): Promise<void> {
  const file = labJsonPath(state.dir);
  await writeFile(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o644 });
  await rename(`${file}.tmp`, file);
}

/** Process groups of `state` that are still the lab's: the leader is alive and its command line names DIR. */
function ownedProcessGroups(state: LabState): number[] {
  return state.pgids.filter((pgid) => cmdlineOf(pgid).includes(state.dir));
}

/** Stops a lab from DIR/lab.json: every process group, every process in its sshds' namespaces; waits until gone. */
export async function stopLab(dir: string): Promise<void> {
  if (!existsSync(labJsonPath(dir))) return;
  const state = await readLabState(dir);
  const pgids = ownedProcessGroups(state);
  const namespaces = pgids
    .map((pgid) => mountNamespaceOf(pgid))
    .filter((ns): ns is string => ns !== undefined && state.mountNamespaces.includes(ns));
  await killLabProcesses(pgids, namespaces);
  await rm(state.agentSock, { force: true });
}

/**
 * Stops the sshd serving `alias` (and so every alias on that sshd) as a machine going down would: the
 * listener and every session it started (they share its mount namespace), so pooled connections drop and new
 * ones are refused. The rest of the lab runs on; `stopLab` is unaffected.
 */
export async function stopLabHost(dir: string, alias: string): Promise<void> {
  const state = await readLabState(dir);
  const hostDir = state.fakeProcDirs[alias];
  if (!hostDir) throw new Error(`${alias} has no sshd of its own in the lab in ${dir}`);
  const config = join(hostDir, 'sshd_config');
  const sshd = ownedProcessGroups(state).find((pgid) => cmdlineOf(pgid).includes(config));
  if (sshd === undefined) throw new Error(`the sshd of ${alias} is not running`);
  const ns = mountNamespaceOf(sshd);
  await killLabProcesses([sshd], ns !== undefined && state.mountNamespaces.includes(ns) ? [ns] : []);
}

/** Rewrites the fake /proc/loadavg (and MemAvailable) seen on the host behind `alias`, live. */
export async function setLabLoad(dir: string, alias: string, load: number, memAvailableKb?: number): Promise<LabState> {
  const state = await readLabState(dir);
  const hostDir = state.fakeProcDirs[alias];
  if (hostDir === undefined) {
    throw new Error(`${alias} has no faked load (known: ${Object.keys(state.fakeProcDirs).join(', ')})`);
  }
  await updateFakeProc(hostDir, load, memAvailableKb);
  for (const host of state.hosts) {
    if (state.fakeProcDirs[host.alias] !== hostDir) continue;
    host.load = load;
    if (memAvailableKb !== undefined) host.memAvailableKb = memAvailableKb;
  }
  await writeLabState(state);
  return state;
}

function assertCanRunLab(opts: LabOptions): void {
  if (process.getuid?.() !== 0) throw new Error('the lab needs root (useradd, unshare --mount, sshd on loopback)');
  if (!existsSync(SSHD_BINARY)) throw new Error(`${SSHD_BINARY} missing: run scripts/setup-system.sh`);
  if (!Number.isInteger(opts.hosts) || opts.hosts < 1 || opts.hosts > MAX_NORMAL_HOSTS) {
    throw new Error(`hosts must be an integer in 1..${MAX_NORMAL_HOSTS}, got ${opts.hosts}`);
  }
}

/** sshd reads AuthorizedKeysFile as the target user: every ancestor of DIR must be searchable by others. */
function assertTraversableByOthers(dir: string): void {
  for (let d = dirname(dir); ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) {
      throw new Error(`${d} is not searchable by other users (mode ${(statSync(d).mode & 0o777).toString(8)}); ` +
        'sshd could not read the lab\'s authorized keys. Put the lab directory elsewhere (e.g. under /tmp).');
    }
    if (d === dirname(d)) return;
  }
}

async function prepareDirectory(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  if (existsSync(labJsonPath(dir))) {
    const previous = await readLabState(dir);
    if (ownedProcessGroups(previous).length > 0) {
      throw new Error(`a lab is already running in ${dir}; stop it first (npm run lab -- down --dir ${dir})`);
    }
  }
  await Promise.all(GENERATED.map((name) => rm(join(dir, name), { recursive: true, force: true })));
  await chmod(dir, 0o755);
  assertTraversableByOthers(dir);
  await mkdir(join(dir, 'logs'), { mode: 0o755 });
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
}

interface ClientKeys {
  identityFile: string;
  encryptedIdentityFile: string;
  agentKeyFile: string;
  publicKeys: string[];
}

async function createClientKeys(dir: string): Promise<ClientKeys> {
  const keys = {
    identityFile: join(dir, 'id_ed25519'),
    encryptedIdentityFile: join(dir, 'id_encrypted'),
    agentKeyFile: join(dir, 'agent_key'),
  };
  await Promise.all([
    generateKey(keys.identityFile, 'flotilla-lab-plain'),
    generateKey(keys.encryptedIdentityFile, 'flotilla-lab-encrypted', LAB_PASSPHRASE),
    generateKey(keys.agentKeyFile, 'flotilla-lab-agent'),
  ]);
  const publicKeys = await Promise.all(
    [keys.identityFile, keys.encryptedIdentityFile, keys.agentKeyFile].map((file) => publicKeyOf(file)),
  );
  return { ...keys, publicKeys };
}

/** DIR/keys/<user>: all client public keys for every authorized lab user and root (dir 0755, files 0644). */
async function writeAuthorizedKeys(dir: string, publicKeys: readonly string[]): Promise<string> {
  const keysDir = join(dir, 'keys');
  await mkdir(keysDir, { mode: 0o755 });
  await chmod(keysDir, 0o755);
  const users = [...LAB_USERS.filter((u) => u.authorized).map((u) => u.name), 'root'];
  const text = publicKeys.map((key) => `${key}\n`).join('');
  await Promise.all(users.map((user) => writeFile(join(keysDir, user), text, { mode: 0o644 })));
  return keysDir;
}

type OnSpawn = (process: DetachedProcess) => void;

async function startAgent(dir: string, agentKeyFile: string, onSpawn: OnSpawn): Promise<string> {
  const sock = join(dir, 'agent.sock');
  onSpawn(spawnDetached('ssh-agent', ['-D', '-a', sock], join(dir, 'logs', 'ssh-agent.log')));
  const deadline = Date.now() + 10_000;
  while (!existsSync(sock)) {
    if (Date.now() > deadline) throw new Error('ssh-agent did not create its socket');
    await new Promise((r) => setTimeout(r, 20));
  }
  // The socket file appears at bind(), a moment before the agent listens: retry a refused connection.
  for (let attempt = 1; ; attempt++) {
    try {
      await runOk('ssh-add', ['-q', agentKeyFile], { env: { ...process.env, SSH_AUTH_SOCK: sock } });
      break;
    } catch (err) {
      if (attempt >= 25 || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 40));
    }
  }
  await unlink(agentKeyFile); // only the agent holds it now
  return sock;
}

async function startBlackhole(dir: string, address: string, port: number, onSpawn: OnSpawn): Promise<void> {
  const blackhole = spawnDetached(
    process.execPath,
    [BLACKHOLE_SCRIPT, address, String(port), dir],
    join(dir, 'logs', 'blackhole.log'),
  );
  onSpawn(blackhole);
  await waitForTcp(address, port, 10_000, blackhole.exited);
}

interface SshdPlan extends Omit<SshdSpec, 'keysDir'> {
  role: 'normal' | 'bastion' | 'unknown-key' | 'one-session';
}

function planSshds(opts: LabOptions, prefix: string, realMemKb: number | undefined): SshdPlan[] {
  const plan: SshdPlan[] = [];
  const add = (name: string, address: string, role: SshdPlan['role'], maxSessions = 10) =>
    plan.push({
      name,
      role,
      address,
      port: LAB_PORT,
      maxSessions,
      load: opts.load?.[name] ?? DEFAULT_LOAD,
      memAvailableKb: opts.memAvailableKb?.[name] ?? realMemKb,
      isolated: opts.isolated === true,
    });
  for (let i = 1; i <= opts.hosts; i++) add(`lab-${i}`, normalHostAddress(prefix, i), 'normal');
  if (!opts.plain) {
    add('bastion', `${prefix}.${SPECIAL_OCTET.bastion}`, 'bastion');
    add('unknown-key', `${prefix}.${SPECIAL_OCTET.unknownKey}`, 'unknown-key');
    add('one-session', `${prefix}.${SPECIAL_OCTET.oneSession}`, 'one-session', 1);
  }
  return plan;
}

function hostOf(sshd: RunningSshd, role: LabHost['role'], alias = sshd.name, user = 'flotilla', shell: LabShell = 'bash'): LabHost {
  return {
    alias,
    address: sshd.address,
    port: sshd.port,
    user,
    shell,
    role,
    load: sshd.load,
    memAvailableKb: sshd.memAvailableKb,
    sshdLog: sshd.logFile,
    hostKeyFingerprint: sshd.hostKeyFingerprint,
    ...(sshd.isolatedFs ? { isolatedHome: sshd.isolatedFs.home } : {}),
  };
}

/** Every alias of the lab, with the sshd (if any) that serves it and its ProxyJump. */
function buildAliases(
  opts: LabOptions,
  prefix: string,
  sshds: ReadonlyMap<string, RunningSshd>,
): { entry: SshConfigEntry; sshd?: RunningSshd }[] {
  const get = (name: string) => {
    const sshd = sshds.get(name);
    if (!sshd) throw new Error(`internal: no sshd ${name}`);
    return sshd;
  };
  const aliases: { entry: SshConfigEntry; sshd?: RunningSshd }[] = [];
  for (let i = 1; i <= opts.hosts; i++) aliases.push({ entry: { host: hostOf(get(`lab-${i}`), 'normal') }, sshd: get(`lab-${i}`) });
  if (opts.plain) return aliases;

  const lab1 = get('lab-1');
  for (const s of SHELL_ALIASES) aliases.push({ entry: { host: hostOf(lab1, 'normal', s.alias, s.user, s.shell) }, sshd: lab1 });
  aliases.push({ entry: { host: hostOf(lab1, 'normal', 'root-1', 'root', 'bash') }, sshd: lab1 });
  aliases.push({ entry: { host: hostOf(lab1, 'auth-fail', 'authfail', 'flotilla-nokey', 'bash') }, sshd: lab1 });
  for (const [alias, octet, role] of [
    ['dead', SPECIAL_OCTET.dead, 'dead'],
    ['blackhole', SPECIAL_OCTET.blackhole, 'blackhole'],
  ] as const) {
    aliases.push({ entry: { host: { alias, address: `${prefix}.${octet}`, port: LAB_PORT, user: 'flotilla', shell: 'none', role } } });
  }
  aliases.push({ entry: { host: hostOf(get('bastion'), 'bastion') }, sshd: get('bastion') });
  const behind = Math.min(opts.behindBastion ?? 2, opts.hosts);
  for (let i = 1; i <= behind; i++) {
    const target = get(`lab-${i}`);
    aliases.push({ entry: { host: hostOf(target, 'behind-bastion', `behind-${i}`), proxyJump: 'bastion' }, sshd: target });
  }
  aliases.push({ entry: { host: hostOf(get('unknown-key'), 'unknown-key') }, sshd: get('unknown-key') });
  aliases.push({ entry: { host: hostOf(get('one-session'), 'one-session') }, sshd: get('one-session') });
  return aliases;
}

/**
 * Another lab stopping at the same moment can SIGTERM a starting sshd: it kills what is in its mount
 * namespaces, and a namespace it just freed may come back as ours (the kernel reuses the number). Such
 * an sshd is started again; any other failure is reported with the end of its log.
 */
async function startSshdRetrying(p: PreparedSshd, track: OnSpawn): Promise<RunningSshd> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startSshd(p, track);
    } catch (error) {
      const log = await readFile(p.logFile, 'utf8').catch(() => '');
      const killedFromOutside = /process exited \((SIGTERM|SIGKILL|exit 0)\)/.test(String(error));
      if (killedFromOutside && attempt < 3) continue;
      throw new Error(`sshd ${p.name} failed: ${String(error)}\n${log.slice(-2000)}`);
    }
  }
}

/** Starts a lab fleet in `opts.dir` and resolves once every listener accepts connections. */
export async function startLab(opts: LabOptions): Promise<Lab> {
  assertCanRunLab(opts);
  const startedAt = Date.now();
  const dir = resolve(opts.dir);
  if (/[\s"'\\%]/.test(dir)) throw new Error(`lab directory must not contain spaces, quotes, \\ or %: ${dir}`);
  await prepareDirectory(dir);

  const started: DetachedProcess[] = [];
  const namespaces: string[] = [];
  const track: OnSpawn = (p) => started.push(p);
  const abort = async (error: unknown): Promise<never> => {
    const pgids = started.map((p) => p.pgid);
    await killLabProcesses(pgids, namespaces).catch(() => undefined);
    throw error;
  };

  try {
    const [prefix, clientKeys, realMem] = await Promise.all([
      pickLoopbackPrefix((prefix) => [
        ...Array.from({ length: opts.hosts }, (_, i) => normalHostAddress(prefix, i + 1)),
        ...(opts.plain ? [] : Object.values(SPECIAL_OCTET).map((octet) => `${prefix}.${octet}`)),
      ], blocksFor(opts.hosts)),
      createClientKeys(dir),
      readFile('/proc/meminfo', 'utf8').then(realMemAvailableKb),
      ensureLabUsers(),
    ]);
    const keysDir = await writeAuthorizedKeys(dir, clientKeys.publicKeys);
    const plan = planSshds(opts, prefix, realMem);
    const prepared = await mapLimited(plan, SPAWN_CONCURRENCY, (p) => prepareSshd(dir, { ...p, keysDir }));

    const outcomes = await settleLimited(
      prepared,
      SPAWN_CONCURRENCY,
      async (p) => {
        const sshd = await startSshdRetrying(p, track);
        const ns = mountNamespaceOf(sshd.process.pid);
        if (ns !== undefined) namespaces.push(ns);
        return sshd;
      },
    );
    const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failure) throw failure.reason;
    const running = outcomes.map((o) => (o as PromiseFulfilledResult<RunningSshd>).value);
    const sshds = new Map(running.map((s) => [s.name, s]));

    const agentSock = await startAgent(dir, clientKeys.agentKeyFile, track);
    if (!opts.plain) await startBlackhole(dir, `${prefix}.${SPECIAL_OCTET.blackhole}`, LAB_PORT, track);

    const aliases = buildAliases(opts, prefix, sshds);
    const info: LabInfo = {
      dir,
      sshConfig: join(dir, 'ssh_config'),
      knownHosts: join(dir, 'known_hosts'),
      groups: join(dir, 'groups.yaml'),
      agentSock,
      identityFile: clientKeys.identityFile,
      encryptedIdentityFile: clientKeys.encryptedIdentityFile,
      passphrase: LAB_PASSPHRASE,
      passwordUser: LAB_PASSWORD_USER,
      password: LAB_PASSWORD,
      hosts: aliases.map((a) => a.entry.host),
      pgids: started.map((p) => p.pgid),
    };
    const trusted = running.filter((s) => s.name !== 'unknown-key');
    await Promise.all([
      writeFile(info.sshConfig, sshConfigText(aliases.map((a) => a.entry), info.identityFile, info.knownHosts), { mode: 0o644 }),
      writeFile(info.knownHosts, knownHostsText(trusted.map((s) => ({ address: s.address, port: s.port, publicKey: s.hostPublicKey }))), { mode: 0o644 }),
      writeFile(info.groups, groupsYamlText(running.filter((s) => plan.find((p) => p.name === s.name)?.role === 'normal').map((s) => s.name)), { mode: 0o644 }),
    ]);
    const fakeProcDirs: Record<string, string> = {};
    for (const a of aliases) if (a.sshd) fakeProcDirs[a.entry.host.alias] = a.sshd.hostDir;
    const state: LabState = {
      ...info,
      mountNamespaces: namespaces,
      fakeProcDirs,
      startedAt: new Date(startedAt).toISOString(),
      startSeconds: (Date.now() - startedAt) / 1000,
    };
    await writeLabState(state);
    return makeLab(info);
  } catch (error) {
    return abort(error);
  }
}

function makeLab(info: LabInfo): Lab {
  return {
    info,
    async setLoad(alias, load, memAvailableKb) {
      const state = await setLabLoad(info.dir, alias, load, memAvailableKb);
      info.hosts = state.hosts.map((h) => ({ ...h }));
    },
    stopHost: (alias) => stopLabHost(info.dir, alias),
    stop: () => stopLab(info.dir),
  };
}

/** Attaches to a running lab described by DIR/lab.json (e.g. one started with the CLI). */
export async function openLab(dir: string): Promise<Lab> {
  const { mountNamespaces: _ns, fakeProcDirs: _fp, startedAt: _at, startSeconds: _s, ...info } = await readLabState(dir);
  return makeLab(info);
}
