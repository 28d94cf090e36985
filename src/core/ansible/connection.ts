// How Ansible's ssh connection reaches a host, from its inventory variables, and the same settings
// applied to Flotilla's resolver for hosts that only the inventory knows. Ansible runs
//   ssh -o Port=P -o IdentityFile=K -o User=U [ssh_common_args] [ssh_extra_args] HOST
// with HOST = ansible_host or the inventory name: the ssh config is matched against HOST, and the
// command-line values win over it (first value wins), which is what this reproduces.
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { formatProxyJump, normalisedJumpChain, parseJump } from '../config/jump';
import { resolveHost, type ResolveOptions } from '../config/sshConfig';
import type { ConfigSource, ResolvedHost, ResolvedOption } from '../types';
import type { AnsibleVar } from './model';
import { where } from './model';
import { shellWords } from './values';

export interface Sourced<T> {
  readonly value: T;
  readonly source: ConfigSource;
}

export interface AnsibleConnection {
  /** The inventory hostname: Flotilla's alias for the host. */
  readonly name: string;
  readonly host?: Sourced<string>;
  readonly port?: Sourced<number>;
  readonly user?: Sourced<string>;
  readonly identityFile?: Sourced<string>;
  readonly proxyJump?: Sourced<string>;
  /** `-F FILE` in the ssh args: the ssh config ssh reads for this host. */
  readonly configFile?: Sourced<string>;
  readonly warnings: readonly string[];
}

// Later names win, as in the vars lists of Ansible's ssh connection plugin.
const HOST_VARS = ['ansible_host', 'ansible_ssh_host'];
const PORT_VARS = ['ansible_port', 'ansible_ssh_port'];
const USER_VARS = ['ansible_user', 'ansible_ssh_user'];
const KEY_VARS = ['ansible_private_key_file', 'ansible_ssh_private_key_file'];
const ARG_VARS = ['ansible_ssh_common_args', 'ansible_ssh_extra_args'];
const SSH_CONNECTIONS = new Set(['ssh', 'smart', 'paramiko', 'ansible.builtin.ssh', 'ansible.builtin.paramiko_ssh', 'paramiko_ssh']);
/** ssh(1) flags that take an argument (so the word after them is not a flag). */
const FLAGS_WITH_ARGUMENT = new Set('BbcDEeFIiJLlmOoPpQRSWw'.split(''));

export function connectionFromVars(name: string, vars: ReadonlyMap<string, AnsibleVar>): AnsibleConnection {
  const warnings: string[] = [];
  const pick = (names: readonly string[]): AnsibleVar & { name: string } | undefined => {
    let found: (AnsibleVar & { name: string }) | undefined;
    for (const n of names) {
      const v = vars.get(n);
      if (v === undefined || v.value === null || v.value === '') continue;
      if (typeof v.value === 'string' && v.value.includes('{{')) {
        warnings.push(`${where(v.source)}: ${n} of ${name} is a template; Flotilla does not evaluate templates, so it is not applied`);
        continue;
      }
      found = { ...v, name: n };
    }
    return found;
  };
  const text = (names: readonly string[]): Sourced<string> | undefined => {
    const v = pick(names);
    return v && { value: String(v.value), source: v.source };
  };
  const host = text(HOST_VARS);
  const user = text(USER_VARS);
  const keyVar = text(KEY_VARS);
  const portVar = pick(PORT_VARS);
  let port: Sourced<number> | undefined;
  if (portVar) {
    const n = Number(portVar.value);
    if (Number.isInteger(n) && n > 0 && n < 65536) port = { value: n, source: portVar.source };
    else warnings.push(`${where(portVar.source)}: ${portVar.name} of ${name} is not a port number; ignored`);
  }
  const identityFile = keyVar && { value: expandKeyPath(keyVar.value, keyVar.source.file), source: keyVar.source };
  const fromArgs = sshArgs(name, ARG_VARS.map((n) => ({ n, v: pick([n]) })), warnings);
  if (fromArgs.proxyJump) {
    const jump = parseJump(fromArgs.proxyJump.value);
    if (!jump || jump.none) {
      if (!jump) warnings.push(`${where(fromArgs.proxyJump.source)}: ProxyJump of ${name} is not [user@]host[:port][,...]; ignored, as ssh would refuse it`);
      delete fromArgs.proxyJump;
    } else {
      // The hop chain as the connection code reads it (ssh:// unwrapped, ports numeric), like ResolvedHost.proxyJump.
      fromArgs.proxyJump = { value: normalisedJumpChain(jump), source: fromArgs.proxyJump.source };
    }
  }
  const connection = pick(['ansible_connection']);
  if (connection && !SSH_CONNECTIONS.has(String(connection.value))) {
    warnings.push(`${where(connection.source)}: ${name} has ansible_connection=${String(connection.value)}; Flotilla connects to it over ssh all the same`);
  }
  return {
    name,
    host,
    // Ansible's own -o options come before the ssh args on the command line, so they win.
    port: port ?? fromArgs.port,
    user: user ?? fromArgs.user,
    identityFile: identityFile ?? fromArgs.identityFile,
    proxyJump: fromArgs.proxyJump,
    configFile: fromArgs.configFile,
    warnings,
  };
}

/** ssh's `~` and, since an editor has no meaningful working directory, relative to the inventory file. */
function expandKeyPath(path: string, inventoryFile: string): string {
  if (path === '~' || path.startsWith('~/')) return join(homedir(), path.slice(1));
  return isAbsolute(path) ? path : join(dirname(inventoryFile), path);
}

type FromArgs = Pick<AnsibleConnection, 'port' | 'user' | 'identityFile' | 'proxyJump' | 'configFile'>;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function sshArgs(name: string, sources: { n: string; v?: AnsibleVar }[], warnings: string[]): Mutable<FromArgs> {
  const out: Mutable<FromArgs> = {};
  const ignored: string[] = [];
  for (const { n, v } of sources) {
    if (!v) continue;
    let words: string[];
    try {
      words = shellWords(String(v.value));
    } catch (err) {
      warnings.push(`${where(v.source)}: ${n} of ${name} cannot be split into words (${(err as Error).message}); ignored`);
      continue;
    }
    const set = (key: keyof FromArgs, value: string) => {
      if (out[key] !== undefined) return;
      if (key === 'port') {
        const p = Number(value);
        if (Number.isInteger(p) && p > 0 && p < 65536) out.port = { value: p, source: v.source };
        return;
      }
      out[key] = { value: key === 'identityFile' || key === 'configFile' ? expandKeyPath(value, v.source.file) : value, source: v.source } as never;
    };
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!;
      const flag = /^-([A-Za-z])(.*)$/.exec(w);
      if (!flag) {
        ignored.push(w.split('=')[0]!);
        continue;
      }
      const letter = flag[1]!;
      const arg = FLAGS_WITH_ARGUMENT.has(letter) ? (flag[2] || words[++i]) : undefined;
      if (FLAGS_WITH_ARGUMENT.has(letter) && arg === undefined) continue;
      if (letter === 'o') {
        const m = /^\s*([A-Za-z]+)\s*[= ]\s*(.*)$/.exec(arg!);
        const key = m?.[1]!.toLowerCase();
        const value = m?.[2]!.replace(/^"(.*)"$/, '$1') ?? '';
        if (key === 'proxyjump') set('proxyJump', value);
        else if (key === 'port') set('port', value);
        else if (key === 'user') set('user', value);
        else if (key === 'identityfile') set('identityFile', value);
        else ignored.push(`-o ${m?.[1] ?? arg}`);
      } else if (letter === 'J') set('proxyJump', arg!);
      else if (letter === 'F') set('configFile', arg!);
      else if (letter === 'p') set('port', arg!);
      else if (letter === 'l') set('user', arg!);
      else if (letter === 'i') set('identityFile', arg!);
      else ignored.push(`-${letter}`);
    }
  }
  if (ignored.length) {
    warnings.push(`${name}: ssh args not applied by Flotilla (it honours -J/ProxyJump, -F, -p/Port, -l/User, -i/IdentityFile): ${[...new Set(ignored)].join(', ')}`);
  }
  return out;
}

/** Resolves an inventory-only host as Ansible's ssh command line would, each value naming its inventory line. */
export async function resolveAnsibleHost(c: AnsibleConnection, base: ResolveOptions): Promise<ResolvedHost> {
  const opts: ResolveOptions = {
    ...base,
    ...(c.configFile ? { configFile: c.configFile.value } : {}),
    ...(c.user ? { user: c.user.value } : {}),
  };
  const r = await resolveHost(c.host?.value ?? c.name, opts);
  const options = new Map<string, ResolvedOption>(r.options);
  const put = (key: string, values: readonly string[], source: ConfigSource) => options.set(key, { key, values, source });
  options.set('host', { key: 'host', values: [c.name] });
  if (c.user) put('user', [c.user.value], c.user.source);
  // A HostName from the ssh config (matched against ansible_host) still applies, as it does for ssh.
  if (c.host && !r.options.get('hostname')?.source) put('hostname', [r.hostname], c.host.source);
  if (c.port) put('port', [String(c.port.value)], c.port.source);
  const configIdentities = r.options.get('identityfile')?.source ? r.identityFiles : [];
  const identityFiles = c.identityFile ? [c.identityFile.value, ...configIdentities.filter((f) => f !== c.identityFile!.value)] : r.identityFiles;
  if (c.identityFile) put('identityfile', identityFiles, c.identityFile.source);
  if (c.proxyJump) {
    const jump = parseJump(c.proxyJump.value);
    if (jump && !jump.none) put('proxyjump', [formatProxyJump(jump)], c.proxyJump.source);
    options.delete('proxycommand');
  }
  return {
    ...r,
    alias: c.name,
    user: c.user?.value ?? r.user,
    port: c.port?.value ?? r.port,
    identityFiles,
    proxyJump: c.proxyJump?.value ?? r.proxyJump,
    proxyCommand: c.proxyJump ? undefined : r.proxyCommand,
    warnings: [...(r.warnings ?? []), ...c.warnings],
    options,
  };
}

/** The ssh(1) argv that reaches an inventory-only host as Ansible's ssh would (for "copy ssh command"). */
export function sshArgv(c: AnsibleConnection, configFile?: string): string[] {
  const config = c.configFile?.value ?? configFile;
  return [
    'ssh',
    ...(config ? ['-F', config] : []),
    ...(c.port ? ['-o', `Port=${c.port.value}`] : []),
    ...(c.identityFile ? ['-o', `IdentityFile=${c.identityFile.value}`] : []),
    ...(c.user ? ['-o', `User=${c.user.value}`] : []),
    ...(c.proxyJump ? ['-o', `ProxyJump=${c.proxyJump.value}`] : []),
    c.host?.value ?? c.name,
  ];
}
