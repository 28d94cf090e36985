/** Public types of the lab fleet. Other test code and benchmarks import these through `lab.ts`. */

export type LabRole =
  | 'normal'
  | 'dead'
  | 'blackhole'
  | 'bastion'
  | 'behind-bastion'
  | 'unknown-key'
  | 'one-session'
  | 'auth-fail';

export type LabShell = 'bash' | 'dash' | 'fish' | 'tcsh' | 'none';

export interface LabHost {
  alias: string;
  address: string;
  port: number;
  user: string;
  shell: LabShell;
  role: LabRole;
  /** Faked 1-min loadavg (hosts with their own sshd run in their own mount namespace). */
  load?: number;
  /** Faked MemAvailable in kB. */
  memAvailableKb?: number;
  /** Absolute path of this sshd's log (LogLevel DEBUG1). */
  sshdLog?: string;
  /** SHA256:... of its ed25519 host key. */
  hostKeyFingerprint?: string;
  /** With LabOptions.isolated: the local directory this host sees as /home (and .../root, .../tmp next to it). */
  isolatedHome?: string;
}

export interface LabInfo {
  dir: string;
  sshConfig: string;
  knownHosts: string;
  groups: string;
  /** ssh-agent socket holding the agent key (authorized on every host). */
  agentSock: string;
  /** Unencrypted ed25519 client key, authorized. */
  identityFile: string;
  /** Passphrase-protected ed25519 client key, authorized. */
  encryptedIdentityFile: string;
  passphrase: string;
  /** A user that logs in by password only (on every lab sshd), and its password. */
  passwordUser: string;
  password: string;
  hosts: LabHost[];
  /** Every process group the lab started. */
  pgids: number[];
}

export interface LabOptions {
  hosts: number;
  dir: string;
  /** Only lab-1..N, no special aliases (no bastion, dead, blackhole...). */
  plain?: boolean;
  /** alias -> faked 1-min load. */
  load?: Record<string, number>;
  /** alias -> faked MemAvailable (kB). */
  memAvailableKb?: Record<string, number>;
  /** Number of behind-N aliases (default 2). */
  behindBastion?: number;
  /**
   * Give every sshd private /home, /root and /tmp (DIR/hosts/<name>/fs/...). Default false: all hosts share
   * this machine's filesystem, so lab-1 and lab-2 see the same ~/ and the same tmux server.
   */
  isolated?: boolean;
}

export interface Lab {
  info: LabInfo;
  setLoad(alias: string, load: number, memAvailableKb?: number): Promise<void>;
  /** Stops the sshd behind `alias` and every session on it (the machine went down); see stopLabHost. */
  stopHost(alias: string): Promise<void>;
  stop(): Promise<void>;
}

/** What lab.json holds: the LabInfo plus bookkeeping used by `stopLab` and `setLoad`. */
export interface LabState extends LabInfo {
  /** Mount namespaces (e.g. "mnt:[4026532]") of the lab's sshds; every process inside is the lab's. */
  mountNamespaces: string[];
  /** alias -> directory holding that sshd's fake loadavg/meminfo. */
  fakeProcDirs: Record<string, string>;
  startedAt: string;
  startSeconds: number;
}
