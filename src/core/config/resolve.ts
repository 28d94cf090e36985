// Host resolution with OpenSSH 9.2 semantics (ssh.c main + readconf.c): first pass, HostName %h
// expansion and lower-casing, optional final pass, defaults, then token expansion of the values
// the product uses to connect.
import { execFile } from 'node:child_process';
import { lookup as dnsLookup } from 'node:dns';
import { hostname as osHostname, homedir, userInfo } from 'node:os';
import type { ConfigSource, ResolvedHost, ResolvedOption, StrictHostKeyChecking } from '../types.js';
import {
  DEFAULT_GLOBAL_KNOWN_HOSTS_FILES,
  DEFAULT_IDENTITY_FILES,
  DEFAULT_PORT,
  DEFAULT_SYSTEM_CONFIG,
  DEFAULT_USER_KNOWN_HOSTS_FILES,
  SSH_G_ORDER,
} from './defaults.js';
import { isAddress, normaliseHostName } from './address.js';
import { assembleAlgorithms, isAlgorithmKeyword } from './algorithms.js';
import { SshConfigError } from './errors.js';
import { matchPatternList } from './patterns.js';
import { expandForwardPaths, formatForwards, type ForwardKeyword } from './forwards.js';
import { formatProxyJump, normalisedJumpChain, parseJump } from './jump.js';
import { convtime, OptionStore } from './options.js';
import { DEFAULT_MATCH_EXEC_TIMEOUT_MS, readConfigFile, type PassContext } from './reader.js';
import {
  connectionTokenValues,
  expandPath,
  expandTokens,
  proxyCommandTokenValues,
  tildeExpand,
  type ConnectionTokens,
} from './tokens.js';
import { validateHostToken } from './validate.js';

export interface ResolveOptions {
  /** Default ~/.ssh/config; when set explicitly the system config is skipped (ssh -F semantics). "none" reads no file. */
  configFile?: string;
  /** Default /etc/ssh/ssh_config (only used when configFile is not given); null skips it. */
  systemConfigFile?: string | null;
  homeDir?: string;
  localUser?: string;
  localHostname?: string;
  /** Local uid for `%i` (default: the process uid). */
  localUid?: number;
  /** Like ssh -l. */
  user?: string;
  /** Like ssh -p. */
  port?: number;
  /**
   * Like ssh -J: these jump hops (a ProxyJump list) win over the config's ProxyJump and ProxyCommand.
   * ssh passes the hops before the last one on this way when it connects to the last one.
   */
  proxyJump?: string;
  env?: Record<string, string | undefined>;
  matchExec?: { enabled: boolean; timeoutMs?: number };
  /** Decides platform-specific keywords (UseKeychain is known on macOS only). Default: process.platform. */
  platform?: NodeJS.Platform;
  /** Name lookup for CanonicalizeHostname (default: the system resolver, as ssh's getaddrinfo). */
  lookupHost?: HostLookup;
  /** The canonical name of a name that resolves (getaddrinfo's AI_CANONNAME), for CanonicalizePermittedCNAMEs. */
  canonicalNameOf?: CanonicalNameLookup;
}

export type CanonicalNameLookup = (name: string, family: 0 | 4 | 6) => Promise<string | undefined>;

/** Whether `name` resolves (family 0 = any, 4, 6). */
export type HostLookup = (name: string, family: 0 | 4 | 6) => Promise<boolean>;

const LOOKUP_TIMEOUT_MS = 10_000;

/** The system resolver (getaddrinfo: /etc/hosts, then DNS), bounded so a dead resolver cannot hang a resolve. */
export const systemLookup: HostLookup = (name, family) =>
  new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), LOOKUP_TIMEOUT_MS);
    timer.unref();
    dnsLookup(name, { family }, (err) => {
      clearTimeout(timer);
      resolve(!err);
    });
  });

/**
 * getaddrinfo's canonical name (the CNAME target, or the first name of an /etc/hosts line), as ssh sees
 * it. Node's dns.lookup does not return it; glibc's `getent ahosts` prints it on its first line. Where
 * there is no getent, there is no canonical name, so no CNAME is followed.
 */
export const systemCanonicalName: CanonicalNameLookup = (name, family) =>
  new Promise((resolve) => {
    const database = family === 4 ? 'ahostsv4' : family === 6 ? 'ahostsv6' : 'ahosts';
    execFile('getent', [database, '--', name], { timeout: LOOKUP_TIMEOUT_MS }, (err, stdout) => {
      resolve(err ? undefined : /^\S+\s+\S+\s+(\S+)/.exec(stdout)?.[1]);
    });
  });

interface Environment {
  homeDir: string;
  localUser: string;
  localHostname: string;
  uid: number;
  env: Record<string, string | undefined>;
  matchExec: { enabled: boolean; timeoutMs: number };
  platform: NodeJS.Platform;
}

export function environmentFrom(opts: ResolveOptions): Environment {
  const info = safeUserInfo();
  return {
    homeDir: opts.homeDir ?? info?.homedir ?? homedir(),
    localUser: opts.localUser ?? info?.username ?? process.env.USER ?? 'unknown',
    localHostname: opts.localHostname ?? osHostname(),
    uid: opts.localUid ?? (typeof process.getuid === 'function' ? process.getuid() : -1),
    env: opts.env ?? process.env,
    matchExec: {
      enabled: opts.matchExec?.enabled ?? false,
      timeoutMs: opts.matchExec?.timeoutMs ?? DEFAULT_MATCH_EXEC_TIMEOUT_MS,
    },
    platform: opts.platform ?? process.platform,
  };
}

let passwdEntry: { homedir: string; username: string } | null | undefined;

/**
 * This process's user from the passwd database (ssh, too, takes ~ from it, not from $HOME), read once per
 * process as ssh reads it once per run: a fleet resolves every alias, and each lookup is a system call.
 */
function safeUserInfo(): { homedir: string; username: string } | undefined {
  if (passwdEntry === undefined) {
    try {
      const { homedir, username } = userInfo();
      passwdEntry = { homedir, username };
    } catch {
      passwdEntry = null;
    }
  }
  return passwdEntry ?? undefined;
}

export interface ConfigFileToRead {
  file: string;
  userConfig: boolean;
  required: boolean;
  /** ssh checks owner and mode of ~/.ssh/config (and of every Include), not of a -F file or the system config. */
  checkPerm: boolean;
}

/** The files ssh would read, in order, with their Include flavour. */
export function configFilesToRead(opts: ResolveOptions, env: Environment): ConfigFileToRead[] {
  if (opts.configFile !== undefined) {
    if (opts.configFile === 'none') return [];
    const file = tildeExpand(opts.configFile, env.homeDir, env.localUser);
    return [{ file, userConfig: true, required: true, checkPerm: false }];
  }
  const files = [{ file: tildeExpand('~/.ssh/config', env.homeDir, env.localUser), userConfig: true, required: false, checkPerm: true }];
  const system = opts.systemConfigFile === undefined ? DEFAULT_SYSTEM_CONFIG : opts.systemConfigFile;
  if (system !== null) files.push({ file: system, userConfig: false, required: false, checkPerm: false });
  return files;
}

async function runPass(
  alias: string,
  hostForHostLines: string,
  finalPass: boolean,
  store: OptionStore,
  opts: ResolveOptions,
  env: Environment,
  warnings: string[],
): Promise<boolean> {
  const ctx: PassContext = {
    alias,
    hostForHostLines,
    finalPass,
    store,
    homeDir: env.homeDir,
    localUser: env.localUser,
    localHostname: env.localHostname,
    env: env.env,
    uid: env.uid,
    matchExec: env.matchExec,
    warnings,
    wantFinalPass: false,
  };
  for (const { file, userConfig, required, checkPerm } of configFilesToRead(opts, env)) {
    const found = await readConfigFile(ctx, file, { userConfig, neverMatch: false, checkPerm }, { active: true }, []);
    if (!found && required) throw new SshConfigError(`cannot open config file ${file}: no such file`, { file });
  }
  return ctx.wantFinalPass;
}

export async function resolveHost(alias: string, opts: ResolveOptions = {}): Promise<ResolvedHost> {
  validateHostToken(alias, 'alias');
  if (opts.user !== undefined) validateHostToken(opts.user, 'user');
  const env = environmentFrom(opts);
  const store = new OptionStore(env.platform, env.env);
  const warnings: string[] = [];
  const commandLine: ConfigSource = { file: '<command line>', line: 0 };
  if (opts.user !== undefined) store.force('user', opts.user, commandLine);
  if (opts.port !== undefined) store.force('port', String(opts.port), commandLine);
  if (opts.proxyJump !== undefined) {
    const jump = parseJump(opts.proxyJump);
    if (!jump || jump.none) throw new SshConfigError(`Invalid -J argument "${opts.proxyJump}": each hop must be [user@]host[:port]`, commandLine);
    // ssh.c case 'J': the jump host is set, and ProxyCommand "none" keeps the config's from applying.
    store.force('proxyjump', jump.raw, commandLine);
    store.force('proxycommand', 'none', commandLine);
  }

  let wantFinal = await runPass(alias, alias, false, store, opts, env, warnings);

  const hostNameOption = store.get('hostname');
  const expandedHost = hostNameOption
    ? expandTokens(hostNameOption.values[0]!, { h: alias }, { where: { ...hostNameOption.source, what: 'HostName' } })
    : alias;
  let host = normaliseHostName(expandedHost);
  const canonicalize = store.first('canonicalizehostname') ?? 'false';
  const naming: Naming = {
    store,
    lookup: opts.lookupHost ?? systemLookup,
    canonicalNameOf: opts.canonicalNameOf ?? systemCanonicalName,
    family: ({ inet: 4, inet6: 6 } as const)[store.first('addressfamily') as 'inet' | 'inet6'] ?? 0,
    direct: isDirect(store),
  };
  let resolved = false;
  if (canonicalize !== 'false' && !isAddress(host)) ({ host, resolved } = await canonicalizeHostName(host, naming));
  if (!resolved && !isAddress(host) && permittedCnames(store).length > 0 && (naming.direct || canonicalize === 'always')) {
    // ssh.c: with CanonicalizePermittedCNAMEs, a name not canonicalised above is resolved as it is (ssh stops
    // when a direct connection's name does not resolve) and its CNAME followed.
    if (await naming.lookup(host, naming.family)) host = await followCname(host, host, naming);
    else if (naming.direct) {
      throw new SshConfigError(`Could not resolve hostname ${host}: Name or service not known (CanonicalizePermittedCNAMEs makes ssh resolve it)`, store.get('canonicalizepermittedcnames')!.source);
    }
  }
  if (canonicalize !== 'false') wantFinal = true;
  if (wantFinal) {
    store.force('hostname', host, hostNameOption?.source ?? commandLine);
    await runPass(alias, host, true, store, opts, env, warnings);
  }
  validateHostToken(host, 'hostname');
  const result = buildResolvedHost(alias, host, store, env, warnings);
  return opts.configFile === undefined ? result : { ...result, configFile: opts.configFile };
}

interface Naming {
  store: OptionStore;
  lookup: HostLookup;
  canonicalNameOf: CanonicalNameLookup;
  family: 0 | 4 | 6;
  /** Neither ProxyCommand nor ProxyJump: ssh connects to the name itself. */
  direct: boolean;
}

function isDirect(store: OptionStore): boolean {
  const proxyCommand = store.first('proxycommand');
  return (proxyCommand === undefined || proxyCommand === 'none') && store.get('proxyjump') === undefined;
}

/** CanonicalizePermittedCNAMEs rules as [sources, targets] pattern lists (none when unset or "none"). */
function permittedCnames(store: OptionStore): Array<[string, string]> {
  const values = store.get('canonicalizepermittedcnames')?.values ?? [];
  if (values.length === 1 && values[0] === 'none') return [];
  return values.map((rule) => {
    const colon = rule.indexOf(':');
    return [rule.slice(0, colon), rule.slice(colon + 1)];
  });
}

/**
 * ssh.c check_follow_cname(): `name` (looked up as `lookedUp`) becomes its canonical name when a rule's
 * sources match the name and its targets match the canonical name (only when canonicalising, and for
 * proxied hosts only with "always").
 */
async function followCname(name: string, lookedUp: string, n: Naming): Promise<string> {
  const rules = permittedCnames(n.store);
  const canonicalize = n.store.first('canonicalizehostname') ?? 'false';
  if (rules.length === 0 || canonicalize === 'false' || (!n.direct && canonicalize !== 'always')) return name;
  const cname = (await n.canonicalNameOf(lookedUp, n.family))?.replace(/\.$/, '').toLowerCase();
  if (!cname || cname === name) return name;
  const rule = rules.find(([sources, targets]) => matchPatternList(name.toLowerCase(), sources, true) && matchPatternList(cname, targets, true));
  return rule ? cname : name;
}

/**
 * ssh.c resolve_canonicalize() for names: try HOST.DOMAIN. for each CanonicalDomains entry (only for
 * direct connections unless "always", only up to CanonicalizeMaxDots dots), or resolve a name ending
 * in "." as it is; a name found follows its CNAME as CanonicalizePermittedCNAMEs allows.
 */
async function canonicalizeHostName(host: string, n: Naming): Promise<{ host: string; resolved: boolean }> {
  const { store, lookup, family } = n;
  if (!n.direct && store.first('canonicalizehostname') !== 'always') return { host, resolved: false };
  const notFound = (): { host: string; resolved: boolean } => {
    if (store.first('canonicalizefallbacklocal') === 'no') {
      const source = store.get('canonicalizefallbacklocal')!.source;
      throw new SshConfigError(
        `Could not resolve host "${host}" in any CanonicalDomains (CanonicalizeFallbackLocal no forbids using it as is)`,
        source,
      );
    }
    return { host, resolved: false };
  };
  if (host.endsWith('.')) {
    if (!(await lookup(host, family))) return notFound();
    return { host: await followCname(host.slice(0, -1), host, n), resolved: true };
  }
  const dots = host.split('.').length - 1;
  if (dots > Number(store.first('canonicalizemaxdots') ?? 1)) return { host, resolved: false };
  for (const domain of store.get('canonicaldomains')?.values ?? []) {
    if (domain.toLowerCase() === 'none') break;
    const full = `${host}.${domain}.`;
    if (await lookup(full, family)) return { host: await followCname(full.slice(0, -1), full, n), resolved: true };
  }
  return notFound();
}

function buildResolvedHost(alias: string, host: string, store: OptionStore, env: Environment, warnings: string[]): ResolvedHost {
  const user = store.first('user') ?? env.localUser;
  const port = Number(store.first('port') ?? DEFAULT_PORT);
  const hostKeyAlias = store.first('hostkeyalias');
  const tokens: ConnectionTokens = {
    remoteHost: host,
    originalHost: alias,
    port,
    remoteUser: user,
    localUser: env.localUser,
    localHostname: env.localHostname,
    homeDir: env.homeDir,
    uid: env.uid,
    keyAlias: hostKeyAlias ?? alias,
  };
  const expand = (value: string, source: ConfigSource | undefined, what: string): string =>
    expandPath(value, tokens, env.env, { file: source?.file, line: source?.line, what });

  const printed = new Map<string, ResolvedOption>();
  const put = (key: string, values: readonly string[], source?: ConfigSource): void => {
    printed.set(key, source ? { key, values, source } : { key, values });
  };

  const identityEntries = store.list('identityfile');
  const identityRaw = identityEntries.length > 0 ? identityEntries.map((e) => e.value) : DEFAULT_IDENTITY_FILES;
  const userKnownHosts = store.get('userknownhostsfile');
  const userKnownHostsRaw = userKnownHosts?.values ?? DEFAULT_USER_KNOWN_HOSTS_FILES;
  const userKnownHostsFiles = userKnownHostsRaw.map((f) => expand(f, userKnownHosts?.source, 'UserKnownHostsFile'));
  const globalKnownHosts = store.get('globalknownhostsfile');
  const globalKnownHostsFiles = globalKnownHosts?.values ?? DEFAULT_GLOBAL_KNOWN_HOSTS_FILES;

  const identityAgentOption = store.get('identityagent');
  const identityAgent = identityAgentOption ? expand(identityAgentOption.values[0]!, identityAgentOption.source, 'IdentityAgent') : undefined;
  const proxyJumpOption = store.get('proxyjump');
  const jump = proxyJumpOption ? parseJump(proxyJumpOption.values[0]!) : undefined;
  // fill_default_options drops a jump host literally named "none" without user or port.
  const realJump =
    jump && !jump.none && !(jump.extra === undefined && jump.last.host === 'none' && jump.last.user === undefined && jump.last.port === undefined)
      ? jump
      : undefined;
  const proxyJump = realJump ? normalisedJumpChain(realJump) : undefined;
  const proxyCommandOption = proxyJump === undefined ? store.get('proxycommand') : undefined;
  const proxyCommandRaw = proxyCommandOption && proxyCommandOption.values[0] !== 'none' ? proxyCommandOption.values[0]! : undefined;

  for (const [key, fallback] of SSH_G_ORDER) {
    const lower = key.toLowerCase();
    const option = store.get(lower);
    switch (lower) {
      case 'host':
        put(key, [alias]);
        continue;
      case 'user':
        put(key, [user], store.get('user')?.source);
        continue;
      case 'hostname':
        put(key, [host], store.get('hostname')?.source);
        continue;
      case 'port':
        put(key, [String(port)], option?.source);
        continue;
      case 'identityfile':
        put(key, identityRaw, identityEntries[0]?.source);
        continue;
      case 'userknownhostsfile':
        put(key, userKnownHostsFiles, userKnownHosts?.source);
        continue;
      case 'globalknownhostsfile':
        put(key, globalKnownHostsFiles, globalKnownHosts?.source);
        continue;
      case 'localforward':
      case 'remoteforward':
      case 'dynamicforward': {
        // fill_default_options: ClearAllForwardings drops every forward (and the tunnel).
        const entries = store.first('clearallforwardings') === 'yes' ? [] : store.forwards(lower === 'remoteforward' ? 'remote' : 'local');
        const expanded = entries.map((e) => expandForwardPaths(e.forward, connectionTokenValues(tokens), { ...e.source, what: key }));
        const lines = formatForwards(lower as ForwardKeyword, expanded);
        if (lines.length > 0) put(key, lines, entries[0]!.source);
        continue;
      }
      case 'tunnel':
        if (store.first('clearallforwardings') === 'yes') put(key, ['false'], store.get('clearallforwardings')!.source);
        else put(key, [option?.values[0] ?? fallback!], option?.source);
        continue;
      case 'serveraliveinterval':
        // Debian's ssh: BatchMode yes makes the default ServerAliveInterval 300 (ssh_config(5) on Debian).
        put(key, [option?.values[0] ?? (store.first('batchmode') === 'yes' ? '300' : fallback!)], option?.source);
        continue;
      case 'rekeylimit': {
        const interval = store.get('rekeyinterval');
        put(key, [`${option?.values[0] ?? '0'} ${interval?.values[0] ?? '0'}`], option?.source ?? interval?.source);
        continue;
      }
      case 'controlpersist':
        put(key, [option ? formatControlPersist(option.values[0]!) : fallback!], option?.source);
        continue;
      case 'certificatefile':
      case 'sendenv':
      case 'setenv': {
        const entries = store.list(lower);
        if (entries.length > 0) put(key, entries.map((e) => e.value), entries[0]!.source);
        continue;
      }
      case 'identityagent':
        if (identityAgent !== undefined) put(key, [identityAgent], option?.source);
        continue;
      case 'controlpath':
        if (option && option.values[0] !== 'none') put(key, [expand(option.values[0]!, option.source, 'ControlPath')], option.source);
        continue;
      case 'forwardagent': {
        const value = option?.values[0];
        if (value === undefined) put(key, [fallback!]);
        else if (/^(yes|true)$/i.test(value)) put(key, ['yes'], option!.source);
        else if (/^(no|false)$/i.test(value)) put(key, ['no'], option!.source);
        else put(key, [expand(value, option!.source, 'ForwardAgent')], option!.source);
        continue;
      }
      case 'remotecommand':
        if (option && option.values[0] !== 'none') {
          put(key, [expandTokens(option.values[0]!, connectionTokenValues(tokens), { where: { ...option.source, what: 'RemoteCommand' } })], option.source);
        }
        continue;
      case 'localcommand':
      case 'knownhostscommand':
      case 'revokedhostkeys':
      case 'pkcs11provider':
        if (option && option.values[0] !== 'none') put(key, option.values, option.source);
        continue;
      case 'proxycommand':
        if (proxyCommandRaw !== undefined) put(key, [proxyCommandRaw], proxyCommandOption!.source);
        continue;
      case 'proxyjump':
        if (realJump !== undefined) put(key, [formatProxyJump(realJump)], proxyJumpOption!.source);
        continue;
      case 'updatehostkeys':
        put(key, [option?.values[0] ?? defaultUpdateHostKeys(store)], option?.source);
        continue;
      case 'loglevel':
        put(key, [option ? option.values[0]!.toUpperCase() : fallback!], option?.source);
        continue;
      default:
        if (isAlgorithmKeyword(lower)) put(key, [assembleAlgorithms(lower, option?.values[0], option?.source)], option?.source);
        else if (option) put(key, [option.values.join(' ')], option.source);
        else if (fallback !== null) put(key, [fallback]);
    }
  }

  const attempts = store.get('connectionattempts');
  if (attempts && Number(attempts.values[0]) <= 0) throw new SshConfigError('Invalid number of ConnectionAttempts (at least 1)', attempts.source);
  const strict = printed.get('stricthostkeychecking')!.values[0]!;
  const connectTimeout = store.first('connecttimeout');
  return {
    alias,
    hostname: host,
    user,
    port,
    identityFiles: identityRaw.map((f, i) => expand(f, identityEntries[i]?.source, 'IdentityFile')),
    identitiesOnly: printed.get('identitiesonly')!.values[0] === 'yes',
    identityAgent,
    proxyJump,
    proxyCommand:
      proxyCommandRaw === undefined
        ? undefined
        : expandTokens(proxyCommandRaw, proxyCommandTokenValues(tokens), { where: { ...proxyCommandOption!.source, what: 'ProxyCommand' } }),
    userKnownHostsFiles: knownHostsFilesOrNone(userKnownHostsFiles),
    globalKnownHostsFiles: knownHostsFilesOrNone(globalKnownHostsFiles),
    strictHostKeyChecking: toStrictHostKeyChecking(strict),
    hashKnownHosts: printed.get('hashknownhosts')!.values[0] === 'yes',
    hostKeyAlias,
    connectTimeout: connectTimeout === undefined || connectTimeout === 'none' || Number(connectTimeout) <= 0 ? undefined : Number(connectTimeout),
    serverAliveInterval: Number(printed.get('serveraliveinterval')!.values[0]),
    serverAliveCountMax: Number(printed.get('serveralivecountmax')!.values[0]),
    forwardAgent: printed.get('forwardagent')!.values[0] !== 'no',
    certificateFiles: store.list('certificatefile').map((e) => expand(e.value, e.source, 'CertificateFile')),
    warnings,
    options: printed,
  };
}

/** ssh.c: "none" (which readconf.c allows only alone) means no file at all, not a file named none. */
function knownHostsFilesOrNone(files: readonly string[]): readonly string[] {
  return files.length === 1 && files[0]!.toLowerCase() === 'none' ? [] : files;
}

function formatControlPersist(value: string): string {
  const lower = value.toLowerCase();
  if (lower === 'no' || lower === 'false') return 'no';
  if (lower === 'yes' || lower === 'true') return 'yes';
  const seconds = convtime(value);
  return seconds === undefined ? value : seconds === 0 ? 'yes' : String(seconds);
}

function toStrictHostKeyChecking(printed: string): StrictHostKeyChecking {
  switch (printed) {
    case 'true':
      return 'yes';
    case 'false':
      return 'no';
    case 'accept-new':
      return 'accept-new';
    default:
      return 'ask';
  }
}

/** readconf.c: UpdateHostKeys defaults on only while known_hosts files and VerifyHostKeyDNS are at their defaults. */
function defaultUpdateHostKeys(store: OptionStore): string {
  const files = store.get('userknownhostsfile')?.values;
  const verifyDns = store.first('verifyhostkeydns');
  const defaultFiles = files === undefined || (files.length === 1 && files[0] === '~/.ssh/known_hosts');
  return defaultFiles && (verifyDns === undefined || verifyDns === 'false') ? 'true' : 'false';
}
