import type { LabHost } from './types.js';

export interface SshConfigEntry {
  host: LabHost;
  /** Alias of the jump host (behind-N). */
  proxyJump?: string;
}

/** The lab's ssh_config: one Host block per alias, then `Host *` with ConnectTimeout. */
export function sshConfigText(entries: readonly SshConfigEntry[], identityFile: string, knownHosts: string): string {
  const blocks = entries.map(({ host, proxyJump }) =>
    [
      `Host ${host.alias}`,
      `  HostName ${host.address}`,
      `  Port ${host.port}`,
      `  User ${host.user}`,
      `  IdentityFile ${identityFile}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${knownHosts}`,
      ...(proxyJump ? [`  ProxyJump ${proxyJump}`] : []),
    ].join('\n'),
  );
  return [
    '# Flotilla lab fleet. StrictHostKeyChecking and BatchMode are deliberately left unset.',
    ...blocks,
    ['Host *', '  ConnectTimeout 3'].join('\n'),
    '',
  ].join('\n\n');
}

export function knownHostsText(entries: readonly { address: string; port: number; publicKey: string }[]): string {
  return entries.map((e) => `[${e.address}]:${e.port} ${e.publicKey}\n`).join('');
}

/** sshsync-style groups file with a comment that edits must preserve. Always at least two groups. */
export function groupsYamlText(normalAliases: readonly string[]): string {
  const half = Math.max(1, Math.ceil(normalAliases.length / 2));
  const web = normalAliases.slice(0, half);
  const build = normalAliases.length > 1 ? normalAliases.slice(half) : [...normalAliases];
  const list = (aliases: readonly string[]) => `[${aliases.join(', ')}]`;
  return [
    '# Flotilla lab groups (comments here must survive edits)',
    'groups:',
    `  web: ${list(web)}`,
    '  # build machines',
    `  build: ${list(build)}`,
    `  fleet: ${list(normalAliases)}`,
    '',
  ].join('\n');
}
