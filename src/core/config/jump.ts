// ProxyJump values as OpenSSH 9.2 reads them (readconf.c parse_jump, misc.c parse_ssh_uri /
// parse_user_host_port / hpdelim2): every hop is checked, in every block, active or not.
import { validDomain } from './address.js';
import { a2port } from './ports.js';

export interface JumpHop {
  user?: string;
  host: string;
  port?: number;
}

export type ParsedJump = { none: true } | { none: false; raw: string; hops: JumpHop[]; last: JumpHop; extra?: string };

/** hpdelim2(): the host field ([...] literal) and the delimiter after it; undefined when malformed. */
function hostField(s: string, allowSlash: boolean): { host: string; rest?: string; delim?: string } | undefined {
  let end: number;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) return undefined;
    end = close + 1;
  } else {
    const m = /[:/]/.exec(s);
    end = m ? m.index : s.length;
  }
  if (end === s.length) return { host: s };
  const delim = s[end]!;
  if (delim !== ':' && delim !== '/') return undefined;
  if (delim === '/' && !allowSlash) return undefined;
  return { host: s.slice(0, end), rest: s.slice(end + 1), delim };
}

function cleanHostname(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

function validUrlEncoding(s: string): boolean {
  return !/%(?![0-9A-Fa-f]{2})/.test(s);
}

/** parse_user_host_port(): `[user@]host[:port]`. */
function parseUserHostPort(s: string): JumpHop | undefined {
  let rest = s;
  let user: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    user = rest.slice(0, at);
    if (user === '') return undefined;
    rest = rest.slice(at + 1);
  }
  const field = hostField(rest, false);
  if (!field || field.host === '') return undefined;
  const hop: JumpHop = { host: cleanHostname(field.host) };
  if (user !== undefined) hop.user = user;
  if (field.rest !== undefined && field.rest !== '') {
    const port = a2port(field.rest);
    if (port <= 0) return undefined;
    hop.port = port;
  }
  return hop;
}

/** parse_ssh_uri(): "not a URI" (null), a hop, or undefined for a malformed URI. */
function parseSshUri(s: string): JumpHop | null | undefined {
  if (!s.startsWith('ssh://')) return null;
  let rest = s.slice(6);
  let user: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    user = rest.slice(0, at).split(';')[0]!;
    if (user === '' || !validUrlEncoding(user)) return undefined;
    user = decodeURIComponent(user.replace(/\+/g, ' '));
    rest = rest.slice(at + 1);
  }
  const field = hostField(rest, true);
  if (!field || field.host === '') return undefined;
  const host = cleanHostname(field.host);
  if (!validDomain(host)) return undefined;
  const hop: JumpHop = { host };
  if (user !== undefined) hop.user = user;
  let tail = field.rest;
  if (tail !== undefined && tail !== '' && field.delim === ':') {
    const slash = tail.indexOf('/');
    const port = a2port(slash >= 0 ? tail.slice(0, slash) : tail);
    if (port <= 0) return undefined;
    hop.port = port;
    tail = slash >= 0 ? tail.slice(slash + 1) : undefined;
  }
  if (tail !== undefined && tail !== '') return undefined; // a path is not allowed
  return hop;
}

function parseHop(hop: string): JumpHop | undefined {
  const uri = parseSshUri(hop);
  return uri === null ? parseUserHostPort(hop) : uri;
}

/**
 * parse_jump(): `value` is the rest of the line after the keyword (comments included, as OpenSSH
 * sees it). Undefined when any hop is invalid, which OpenSSH reports as `Invalid ProxyJump`.
 */
export function parseJump(value: string): ParsedJump | undefined {
  if (value.toLowerCase() === 'none') return { none: true };
  const hash = value.indexOf('#');
  const raw = (hash >= 0 ? value.slice(0, hash) : value).replace(/[ \t\r\n]+$/, '');
  const hops = raw.split(',');
  const parsed = hops.map(parseHop);
  if (parsed.some((h) => h === undefined)) return undefined;
  const comma = value.lastIndexOf(',');
  const result: ParsedJump = { none: false, raw, hops: parsed as JumpHop[], last: parsed[parsed.length - 1]! };
  if (comma > 0) result.extra = value.slice(0, comma);
  return result;
}

/**
 * The hops as the connection code reads them: `[user@]host[:port]`, ports numeric (a service name
 * such as `jump:ssh` becomes `jump:22`), IPv6 hosts bracketed, `ssh://` URIs unwrapped.
 */
export function normalisedJumpChain(jump: Extract<ParsedJump, { none: false }>): string {
  return jump.hops
    .map(({ user, host, port }) => `${user !== undefined ? `${user}@` : ''}${host.includes(':') ? `[${host}]` : host}${port !== undefined ? `:${port}` : ''}`)
    .join(',');
}

/** How dump_client_config prints ProxyJump: extra hops verbatim, then the last hop, numeric hosts bracketed. */
export function formatProxyJump(jump: Extract<ParsedJump, { none: false }>): string {
  const { user, host, port } = jump.last;
  const numeric = host.includes(':') || /^[0-9.]*$/.test(host);
  return `${jump.extra !== undefined ? `${jump.extra},` : ''}${user !== undefined ? `${user}@` : ''}${numeric ? `[${host}]` : host}${port !== undefined ? `:${port}` : ''}`;
}
