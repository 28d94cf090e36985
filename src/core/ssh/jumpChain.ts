// The chain of jump hosts in front of a host, as OpenSSH builds it. For `ProxyJump a,b` ssh runs, as its
// ProxyCommand, `ssh [-l user] [-p port] [-J a] [-F config] -W '[%h]:%p' b` (ssh.c, "implicit ProxyCommand
// from ProxyJump"): the jump host's name is read through the ssh config only (never an inventory), the
// spec's user and port win over the config's, and the hops before it come in as -J. Without -J that ssh
// reads b's own ProxyJump or ProxyCommand, so chains nest: `Host inner / ProxyJump outer` and
// `Host target / ProxyJump inner` reach target via inner via outer.
import { SshConfigError } from '../config/errors';
import { normalisedJumpChain, parseJump } from '../config/jump';
import { resolveHost, type ResolveOptions } from '../config/resolve';
import type { ResolvedHost } from '../types';

/** What ssh's implicit ProxyCommand passes to the jump host's ssh: -l, -p, -J and the name. */
export interface JumpRequest {
  readonly name: string;
  readonly user?: string;
  readonly port?: number;
  /** The hops before this one (`-J`), as a ProxyJump list. */
  readonly extra?: string;
}

export interface JumpHop {
  readonly request: JumpRequest;
  readonly host: ResolvedHost;
  /** Same key, same resolution: what the pool shares one jump connection by. */
  readonly key: string;
}

export type ResolveJump = (request: JumpRequest, from: ResolvedHost) => Promise<ResolvedHost>;

/** Resolves a jump host as the `ssh -W` child does: the naming host's config file, the request's -l/-p/-J. */
export function resolveJumpHost(request: JumpRequest, from: ResolvedHost, base: ResolveOptions = {}): Promise<ResolvedHost> {
  return resolveHost(request.name, {
    ...base,
    configFile: from.configFile ?? base.configFile,
    user: request.user,
    port: request.port,
    proxyJump: request.extra,
  });
}

/** A ProxyJump chain that comes back to a hop already in it: ssh would start jump connections forever. */
export class JumpLoopError extends SshConfigError {
  constructor(message: string, readonly chain: readonly string[], where?: { file?: string; line?: number }) {
    super(message, where);
    this.name = 'JumpLoopError';
  }
}

/** The jump `host`'s own connection goes through: the last hop of its ProxyJump, the others as -J. */
export function nextJump(host: ResolvedHost): JumpRequest | undefined {
  if (!host.proxyJump) return undefined;
  const jump = parseJump(host.proxyJump);
  if (!jump || jump.none) throw new SshConfigError(`${host.alias}: invalid ProxyJump "${host.proxyJump}"`, host.options.get('proxyjump')?.source);
  const { user, host: name, port } = jump.last;
  const before = jump.hops.slice(0, -1);
  return {
    name,
    ...(user !== undefined ? { user } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(before.length ? { extra: normalisedJumpChain({ ...jump, hops: before }) } : {}),
  };
}

export function describeJump(r: JumpRequest): string {
  return `${r.user !== undefined ? `${r.user}@` : ''}${r.name.includes(':') ? `[${r.name}]` : r.name}${r.port !== undefined ? `:${r.port}` : ''}`;
}

function keyOf(r: JumpRequest, configFile: string | undefined): string {
  return JSON.stringify([configFile ?? null, r.name, r.user ?? null, r.port ?? null, r.extra ?? null]);
}

/**
 * The hops in front of `target`, outermost first (the one connected directly or by its ProxyCommand);
 * the last is the one the target is reached from. Empty when the target has no ProxyJump.
 */
export async function jumpChain(target: ResolvedHost, resolveJump: ResolveJump): Promise<JumpHop[]> {
  const hops: JumpHop[] = [];
  const seen = new Set([keyOf({ name: target.alias }, target.configFile)]);
  const names = [target.alias];
  for (let from = target; ;) {
    const request = nextJump(from);
    if (!request) return hops.reverse();
    const where = from.options.get('proxyjump')?.source;
    names.push(describeJump(request));
    // ssh.c: "jumphost loop via" — a host whose jump is itself (same name, port and user).
    if (request.name === from.hostname && (request.port ?? 22) === from.port && (request.user ?? from.user) === from.user) {
      throw new JumpLoopError(`${target.alias}: jumphost loop via ${request.name} (${names.join(' -> ')})`, names, where);
    }
    const key = keyOf(request, from.configFile);
    if (seen.has(key)) {
      throw new JumpLoopError(
        `${target.alias}: ProxyJump loop ${names.join(' -> ')}: ${from.alias} jumps through ${describeJump(request)} again, so ssh would start jump connections forever; ` +
          `end the chain (e.g. "ProxyJump none" in the jump host's block, or "Host * !${request.name}")`,
        names,
        where,
      );
    }
    seen.add(key);
    const host = await resolveJump(request, from);
    hops.push({ request, host, key });
    from = host;
  }
}
