// LocalForward / RemoteForward / DynamicForward as OpenSSH 9.2 reads and prints them
// (readconf.c parse_forward + parse_fwd_field, add_*_forward de-duplication, dump_cfg_forwards).
import { expandTokens, type TokenValues } from './tokens.js';

export type ForwardKeyword = 'localforward' | 'remoteforward' | 'dynamicforward';

/** One parsed forward. A path endpoint is a Unix socket; `connectHost` "socks" marks a dynamic forward. */
export interface Forward {
  readonly listenHost?: string;
  readonly listenPort?: number;
  readonly listenPath?: string;
  readonly connectHost?: string;
  readonly connectPort?: number;
  readonly connectPath?: string;
}

interface Field {
  arg: string;
  isPath: boolean;
}

/** parse_fwd_field(): one `:`-separated field; `[...]` is literal; `\` escapes; a `/` makes it a path. */
function splitFields(spec: string): Field[] | undefined {
  const fields: Field[] = [];
  let i = 0;
  while (i < spec.length && fields.length < 4) {
    if (spec[i] === '[') {
      const close = spec.indexOf(']', i + 1);
      if (close < 0) return undefined;
      const after = spec[close + 1];
      if (after !== ':' && after !== undefined) return undefined;
      const arg = spec.slice(i + 1, close);
      fields.push({ arg, isPath: arg.includes('/') });
      i = after === undefined ? close + 1 : close + 2;
      continue;
    }
    let arg = '';
    let isPath = false;
    for (; i < spec.length; i++) {
      const c = spec[i]!;
      if (c === '\\') {
        if (i + 1 >= spec.length) return undefined;
        arg += spec[++i];
        continue;
      }
      if (c === '/') isPath = true;
      if (c === ':') {
        i++;
        break;
      }
      arg += c;
    }
    fields.push({ arg, isPath });
  }
  if (i < spec.length) return undefined;
  return fields;
}

/** misc.c a2port(): 0-65535 or a service name; -1 when neither. */
export type PortLookup = (text: string) => number;

/**
 * parse_forward(): `spec` is the line's first argument, joined with `:` to the second one for Local/
 * RemoteForward (`${VAR}` already expanded). Undefined for a bad specification.
 */
export function parseForward(spec: string, dynamic: boolean, remote: boolean, a2port: PortLookup): Forward | undefined {
  const fields = splitFields(spec.replace(/^\s+/, ''));
  if (!fields || fields.length === 0) return undefined;
  const [a, b, c, d] = fields;
  let fwd: Forward;
  switch (fields.length) {
    case 1:
      fwd = a!.isPath ? { listenPath: a!.arg, connectHost: 'socks' } : { listenPort: a2port(a!.arg), connectHost: 'socks' };
      break;
    case 2:
      if (a!.isPath && b!.isPath) fwd = { listenPath: a!.arg, connectPath: b!.arg };
      else if (b!.isPath) fwd = { listenPort: a2port(a!.arg), connectPath: b!.arg };
      else fwd = { listenHost: a!.arg, listenPort: a2port(b!.arg), connectHost: 'socks' };
      break;
    case 3:
      if (a!.isPath) fwd = { listenPath: a!.arg, connectHost: b!.arg, connectPort: a2port(c!.arg) };
      else if (c!.isPath) fwd = { listenHost: a!.arg, listenPort: a2port(b!.arg), connectPath: c!.arg };
      else fwd = { listenPort: a2port(a!.arg), connectHost: b!.arg, connectPort: a2port(c!.arg) };
      break;
    default:
      fwd = { listenHost: a!.arg, listenPort: a2port(b!.arg), connectHost: c!.arg, connectPort: a2port(d!.arg) };
  }
  const n = fields.length;
  if (dynamic) {
    if (n !== 1 && n !== 2) return undefined;
  } else {
    if (n !== 3 && n !== 4 && fwd.connectPath === undefined && fwd.listenPath === undefined) return undefined;
    if ((fwd.connectPort === undefined || fwd.connectPort <= 0) && fwd.connectPath === undefined) return undefined;
  }
  if (fwd.listenPath === undefined && (fwd.listenPort === undefined || fwd.listenPort < 0)) return undefined;
  if (!remote && fwd.listenPath === undefined && fwd.listenPort === 0) return undefined;
  return fwd;
}

/** add_local_forward / add_remote_forward refuse exact duplicates. */
export function sameForward(x: Forward, y: Forward): boolean {
  return (
    x.listenHost === y.listenHost &&
    x.listenPort === y.listenPort &&
    x.listenPath === y.listenPath &&
    x.connectHost === y.connectHost &&
    x.connectPort === y.connectPort &&
    x.connectPath === y.connectPath
  );
}

/** ssh.c expands %-tokens (not `~`, not `${}` again) in Unix-socket paths once the connection is known. */
export function expandForwardPaths(fwd: Forward, tokens: TokenValues, where: { file: string; line: number; what: string }): Forward {
  const expand = (p: string | undefined) => (p === undefined ? undefined : expandTokens(p, tokens, { where }));
  return { ...fwd, listenPath: expand(fwd.listenPath), connectPath: expand(fwd.connectPath) };
}

function endpoint(host: string | undefined, port: number | undefined, path: string | undefined): string {
  if (path !== undefined) return path;
  return host === undefined ? String(port ?? 0) : `[${host}]:${port ?? 0}`;
}

/**
 * dump_cfg_forwards(): Local and Dynamic forwards share one list in OpenSSH. The dynamic pass prints
 * every entry whose connect host is unset or "socks" (so a LocalForward to a Unix socket shows up
 * there too, as ssh -G prints it); the local pass skips the "socks" ones.
 */
export function formatForwards(keyword: ForwardKeyword, forwards: readonly Forward[]): string[] {
  const out: string[] = [];
  for (const f of forwards) {
    if (keyword === 'dynamicforward' && f.connectHost !== undefined && f.connectHost !== 'socks') continue;
    if (keyword === 'localforward' && f.connectHost === 'socks') continue;
    const listen = endpoint(f.listenHost, f.listenPort, f.listenPath);
    out.push(keyword === 'dynamicforward' ? listen : `${listen} ${endpoint(f.connectHost, f.connectPort, f.connectPath)}`);
  }
  return out;
}
