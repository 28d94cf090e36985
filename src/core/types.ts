// Types shared across core features. Nothing here imports vscode or ssh2.

/** Where a resolved ssh_config value came from. `file` is absolute; `line` is 1-based. */
export interface ConfigSource {
  readonly file: string;
  readonly line: number;
}

export type StrictHostKeyChecking = 'ask' | 'yes' | 'no' | 'accept-new';

/** The settings of one alias after OpenSSH-style evaluation, with token expansion done. */
export interface ResolvedHost {
  readonly alias: string;
  readonly hostname: string;
  readonly user: string;
  readonly port: number;
  /** IdentityFile entries, tokens and ~ expanded, in order. */
  readonly identityFiles: readonly string[];
  readonly identitiesOnly: boolean;
  /** Expanded IdentityAgent value; 'none' disables the agent; undefined = SSH_AUTH_SOCK. */
  readonly identityAgent?: string;
  /** Raw ProxyJump value (comma list of [user@]host[:port]); undefined when none. */
  readonly proxyJump?: string;
  /** ProxyCommand with tokens expanded; undefined when none. */
  readonly proxyCommand?: string;
  readonly userKnownHostsFiles: readonly string[];
  readonly globalKnownHostsFiles: readonly string[];
  readonly strictHostKeyChecking: StrictHostKeyChecking;
  readonly hashKnownHosts: boolean;
  readonly hostKeyAlias?: string;
  /** Seconds; undefined = none (OS default). */
  readonly connectTimeout?: number;
  readonly serverAliveInterval: number;
  readonly serverAliveCountMax: number;
  readonly forwardAgent: boolean;
  /** CertificateFile entries, tokens and ~ expanded, in order (config/sshConfig only). */
  readonly certificateFiles?: readonly string[];
  /** Problems met while resolving that did not stop resolution (e.g. Match exec disabled). */
  readonly warnings?: readonly string[];
  /** Every resolved option by lower-case keyword, in the order `ssh -G` prints them. */
  readonly options: ReadonlyMap<string, ResolvedOption>;
  /** The config file it was read from when one was named (ssh -F); its jump hosts are read from it too. */
  readonly configFile?: string;
}

export interface ResolvedOption {
  readonly key: string;
  readonly values: readonly string[];
  /** Absent for built-in defaults. */
  readonly source?: ConfigSource;
}

export interface HostKeyQuestion {
  readonly alias: string;
  /** The name the key is looked up under: `host` or `[host]:port`, or the HostKeyAlias. */
  readonly lookupName: string;
  readonly hostname: string;
  readonly port: number;
  readonly keyType: string;
  /** `SHA256:...` as ssh-keygen -lf prints it. */
  readonly fingerprint: string;
  /** The jump host this connection goes through, if any. */
  readonly via?: string;
  /** The known_hosts file an accepted key will be written to. */
  readonly knownHostsFile: string;
}

/**
 * User interaction the core needs. The extension implements it with VS Code UI, the CLI with a TTY
 * (or refusal when not interactive), tests with scripted answers.
 */
export interface Prompter {
  /** Unknown host key: true only when the user explicitly accepts. */
  confirmHostKey(q: HostKeyQuestion): Promise<boolean>;
  /** Passphrase for an encrypted key; `attempt` counts from 1; undefined = user gave up. */
  passphrase(keyPath: string, attempt: number): Promise<string | undefined>;
  password(user: string, host: string): Promise<string | undefined>;
  keyboardInteractive(
    user: string,
    host: string,
    prompts: readonly { prompt: string; echo: boolean }[],
  ): Promise<string[] | undefined>;
}

/** A Prompter that refuses everything: for non-interactive runs (CLI without TTY, background probes). */
export const refusingPrompter: Prompter = {
  confirmHostKey: async () => false,
  passphrase: async () => undefined,
  password: async () => undefined,
  keyboardInteractive: async () => undefined,
};
