// Token expansion per ssh_config(5) TOKENS (OpenSSH 9.2): %-tokens, ${ENV}, and ~.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SshConfigError } from './errors.js';

export type TokenValues = Partial<Record<string, string>>;

/** The values of the connection-level tokens (`%C %d %h %i %k %L %l %n %p %r %u`). */
export interface ConnectionTokens {
  /** %h: the final remote host name. */
  remoteHost: string;
  /** %n: the alias as typed. */
  originalHost: string;
  port: number;
  remoteUser: string;
  localUser: string;
  localHostname: string;
  homeDir: string;
  uid: number;
  /** %k: HostKeyAlias, or the alias. */
  keyAlias: string;
}

interface ExpandOptions {
  /** Also expand `${NAME}` from this environment (only for keywords that allow it). */
  env?: Record<string, string | undefined>;
  /** Only `${NAME}` is expanded; `%` is literal (misc.c dollar_expand). */
  dollarOnly?: boolean;
  where?: { file?: string; line?: number; what?: string };
}

/**
 * OpenSSH percent_expand()/percent_dollar_expand(): one left-to-right pass, so an inserted value is
 * never expanded again. Unknown tokens and unset variables are errors, as in OpenSSH (which aborts).
 */
export function expandTokens(text: string, values: TokenValues, opts: ExpandOptions = {}): string {
  const { env, where, dollarOnly } = opts;
  const what = where?.what ? ` in ${where.what}` : '';
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (env && c === '$' && text[i + 1] === '{') {
      const close = text.indexOf('}', i + 2);
      if (close < 0) throw new SshConfigError(`"\${" without closing "}"${what} (value ${JSON.stringify(text)})`, where);
      const name = text.slice(i + 2, close);
      if (name === '') throw new SshConfigError(`empty "\${}"${what} (value ${JSON.stringify(text)})`, where);
      const value = env[name];
      if (value === undefined) {
        throw new SshConfigError(`environment variable "\${${name}}"${what} is not set (value ${JSON.stringify(text)})`, where);
      }
      out += value;
      i = close;
      continue;
    }
    if (c !== '%' || dollarOnly) {
      out += c;
      continue;
    }
    const key = text[++i];
    if (key === '%') {
      out += '%';
      continue;
    }
    const value = key === undefined ? undefined : values[key];
    if (value === undefined) {
      const token = key === undefined ? '%' : `%${key}`;
      throw new SshConfigError(`unknown token "${token}"${what} (value ${JSON.stringify(text)}); write "%%" for a literal percent sign`, where);
    }
    out += value;
  }
  return out;
}

/** tilde_expand_filename(): `~` and `~/x` use the local user's home; `~user/x` looks the user up in /etc/passwd. */
export function tildeExpand(path: string, homeDir: string, localUser: string, where?: { file?: string; line?: number }): string {
  if (!path.startsWith('~')) return path;
  const slash = path.indexOf('/');
  const userPart = slash < 0 ? path.slice(1) : path.slice(1, slash);
  const rest = slash < 0 ? '' : path.slice(slash);
  let home = homeDir;
  if (userPart !== '' && userPart !== localUser) {
    const found = lookupHomeInPasswd(userPart);
    if (found === undefined) throw new SshConfigError(`unknown user "${userPart}" in path ${JSON.stringify(path)}`, where);
    home = found;
  }
  // misc.c tilde_expand(): the home directory always gets one trailing "/", leading slashes of the rest are dropped.
  return (home.endsWith('/') ? home : `${home}/`) + rest.replace(/^\/+/, '');
}

function lookupHomeInPasswd(user: string): string | undefined {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const fields = line.split(':');
      if (fields[0] === user && fields.length >= 6) return fields[5];
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** %C: SHA-1 over local hostname, remote host, port and remote user (OpenSSH 9.2 ssh_connection_hash). */
export function connectionHash(localHostname: string, remoteHost: string, port: string, remoteUser: string): string {
  return createHash('sha1').update(localHostname + remoteHost + port + remoteUser).digest('hex');
}

/** The token table shared by IdentityFile, CertificateFile, IdentityAgent, UserKnownHostsFile, ControlPath, Match exec... */
export function connectionTokenValues(t: ConnectionTokens): TokenValues {
  const port = String(t.port);
  return {
    C: connectionHash(t.localHostname, t.remoteHost, port, t.remoteUser),
    L: t.localHostname.split('.')[0] ?? t.localHostname,
    d: t.homeDir,
    h: t.remoteHost,
    i: String(t.uid),
    k: t.keyAlias,
    l: t.localHostname,
    n: t.originalHost,
    p: port,
    r: t.remoteUser,
    u: t.localUser,
  };
}

/** ProxyCommand accepts only %h %n %p %r (ssh_config(5)). */
export function proxyCommandTokenValues(t: ConnectionTokens): TokenValues {
  return { h: t.remoteHost, n: t.originalHost, p: String(t.port), r: t.remoteUser };
}

/** Path-like keywords: `~`, then %-tokens, then `${ENV}` (ssh.c default_client_percent_dollar_expand). */
export function expandPath(
  value: string,
  tokens: ConnectionTokens,
  env: Record<string, string | undefined>,
  where?: { file?: string; line?: number; what?: string },
): string {
  const tilde = tildeExpand(value, tokens.homeDir, tokens.localUser, where);
  return expandTokens(tilde, connectionTokenValues(tokens), { env, where });
}
