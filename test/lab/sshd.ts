import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKey, fingerprintOf, publicKeyOf } from './keys.js';
import { createFakeProc, loadavgPath, meminfoPath } from './fakeProc.js';
import { spawnDetached, waitForTcp, type DetachedProcess } from './processes.js';
import { isolationMountCommands, prepareIsolatedFs, type IsolatedFs } from './isolation.js';

export const SSHD_BINARY = '/usr/sbin/sshd';

export interface SshdSpec {
  /** Name of the directory DIR/hosts/<name> (the alias of the host it serves). */
  name: string;
  address: string;
  port: number;
  keysDir: string;
  maxSessions: number;
  load: number;
  memAvailableKb?: number;
  /** Private /home, /root and /tmp for this host (see isolation.ts). */
  isolated?: boolean;
}

export interface PreparedSshd extends SshdSpec {
  hostDir: string;
  configFile: string;
  logFile: string;
  hostKeyFile: string;
  hostPublicKey: string;
  hostKeyFingerprint: string;
  labDir: string;
  isolatedFs?: IsolatedFs;
}

export interface RunningSshd extends PreparedSshd {
  process: DetachedProcess;
}

export function sshdConfigText(spec: PreparedSshd): string {
  return [
    `# Flotilla lab sshd for ${spec.name}`,
    `ListenAddress ${spec.address}:${spec.port}`,
    `HostKey ${spec.hostKeyFile}`,
    `PidFile ${join(spec.hostDir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${spec.keysDir}/%u`,
    'StrictModes no',
    'UsePAM no',
    'PubkeyAuthentication yes',
    // Password logins exist for one lab user (flotilla-pw) only; every other account has no password ('*').
    'PasswordAuthentication yes',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    `MaxSessions ${spec.maxSessions}`,
    'MaxStartups 10:30:100',
    'LogLevel DEBUG1',
    'Subsystem sftp internal-sftp',
    'AllowTcpForwarding yes',
    'X11Forwarding no',
    'PrintMotd no',
    'PrintLastLog no',
    'UseDNS no',
    '',
  ].join('\n');
}

/** Host key, config and fake /proc files for one sshd (no process yet). */
export async function prepareSshd(labDir: string, spec: SshdSpec): Promise<PreparedSshd> {
  const hostDir = join(labDir, 'hosts', spec.name);
  await mkdir(hostDir, { recursive: true, mode: 0o755 });
  const hostKeyFile = join(hostDir, 'ssh_host_ed25519_key');
  await generateKey(hostKeyFile, `flotilla-lab-${spec.name}`);
  await createFakeProc(hostDir, spec.load, spec.memAvailableKb);
  const prepared: PreparedSshd = {
    ...spec,
    hostDir,
    configFile: join(hostDir, 'sshd_config'),
    logFile: join(hostDir, 'sshd.log'),
    hostKeyFile,
    hostPublicKey: await publicKeyOf(hostKeyFile),
    hostKeyFingerprint: await fingerprintOf(hostKeyFile),
    labDir,
    isolatedFs: spec.isolated ? await prepareIsolatedFs(labDir, hostDir) : undefined,
  };
  await writeFile(prepared.configFile, sshdConfigText(prepared), { mode: 0o644 });
  return prepared;
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Starts `sshd -D` in its own mount namespace where /proc/loadavg and /proc/meminfo are bind mounts of the
 * host's fake files, and waits until its port accepts connections.
 */
export async function startSshd(
  sshd: PreparedSshd,
  onSpawn: (process: DetachedProcess) => void,
  timeoutMs = 15_000,
): Promise<RunningSshd> {
  const script = [
    `mount --bind ${shellQuote(loadavgPath(sshd.hostDir))} /proc/loadavg`,
    `mount --bind ${shellQuote(meminfoPath(sshd.hostDir))} /proc/meminfo`,
    ...(sshd.isolatedFs ? isolationMountCommands(sshd.labDir, sshd.isolatedFs) : []),
    `exec ${SSHD_BINARY} -D -f ${shellQuote(sshd.configFile)} -E ${shellQuote(sshd.logFile)}`,
  ].join(' && ');
  const process = spawnDetached(
    'unshare',
    ['--mount', '--propagation', 'private', 'sh', '-c', script],
    join(sshd.hostDir, 'stdio.log'),
  );
  onSpawn(process);
  await waitForTcp(sshd.address, sshd.port, timeoutMs, process.exited);
  return { ...sshd, process };
}
