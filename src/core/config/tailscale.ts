// Tailnet peers from `tailscale status --json`, and which ssh aliases point at them.

import { spawn } from 'node:child_process';
import { isIP } from 'node:net';

export interface TailscalePeer {
  /** The peer's HostName. */
  name: string;
  /** MagicDNS name without the trailing dot. */
  dnsName?: string;
  ips: string[];
  os?: string;
  online: boolean;
  lastSeen?: string;
  self: boolean;
  sshHostKeys?: string[];
  /** How traffic to an online peer goes now: straight to it, through a DERP relay, or no active session. */
  link?: PeerLink;
}

export type PeerLink = { kind: 'direct'; address: string } | { kind: 'relay'; region: string } | { kind: 'idle' };

/** `direct 198.51.100.11:41641`, `relay "fra"`, `idle` — as `tailscale status` words it. */
export function linkText(link: PeerLink): string {
  return link.kind === 'direct' ? `direct ${link.address}` : link.kind === 'relay' ? `relay "${link.region}"` : 'idle';
}

export type TailscaleStatus =
  | { state: 'off'; reason: string }
  | { state: 'ok'; peers: TailscalePeer[]; warnings: string[] };

export type RunCommand = (file: string, args: string[], timeoutMs: number) => Promise<string>;

const DEFAULT_TIMEOUT_MS = 3000;

export async function readTailscaleStatus(opts?: {
  binary?: string;
  timeoutMs?: number;
  run?: RunCommand;
}): Promise<TailscaleStatus> {
  const binary = opts?.binary ?? 'tailscale';
  const timeoutMs = opts?.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const run = opts?.run ?? runCommand;
  let stdout: string;
  try {
    stdout = await run(binary, ['status', '--json'], timeoutMs);
  } catch (err) {
    return { state: 'off', reason: failureReason(err, timeoutMs) };
  }
  let parsed: ParsedStatus;
  try {
    parsed = parseStatus(stdout);
  } catch (err) {
    return { state: 'off', reason: `tailscale status --json gave unreadable output: ${(err as Error).message}` };
  }
  if (parsed.backendState !== undefined && parsed.backendState !== 'Running') {
    return { state: 'off', reason: backendReason(parsed.backendState) };
  }
  return { state: 'ok', peers: parsed.peers, warnings: parsed.warnings };
}

/** The tailnet as the fleet sees it: its peers and the ssh aliases that point at them, or why there are none. */
export interface Tailnet {
  /** Every peer but this machine. */
  peers: TailscalePeer[];
  /** ssh alias → the peer its HostName points at (see matchPeersToAliases). */
  byAlias: ReadonlyMap<string, TailscalePeer>;
  warnings: string[];
  /** Set when tailscale could not be read (not installed, stopped, needs login…). */
  reason?: string;
}

/**
 * Reads `tailscale status --json` and matches its peers to the fleet's aliases; `hostnames` is only
 * called (resolving the ssh config) when there are peers to match. Never throws.
 */
export async function readTailnet(
  hostnames: () => Promise<readonly { alias: string; hostname: string }[]>,
  opts?: Parameters<typeof readTailscaleStatus>[0],
): Promise<Tailnet> {
  const status = await readTailscaleStatus(opts);
  if (status.state === 'off') return { peers: [], byAlias: new Map(), warnings: [], reason: status.reason };
  const peers = status.peers.filter((p) => !p.self);
  const byAlias = peers.length ? matchPeersToAliases(peers, await hostnames()) : new Map<string, TailscalePeer>();
  return { peers, byAlias, warnings: status.warnings };
}

export interface PingResult {
  ok: boolean;
  ms: number;
  /** `via DERP(fra)` / `via 198.51.100.11:41641`, or why there was no pong. */
  detail: string;
}

/** `pong from web-1 (100.64.0.11) via DERP(fra) in 45ms` → the path and the round trip. */
export function parsePong(stdout: string): { via: string; ms: number } | undefined {
  const m = /^pong from \S+ \(\S+\) via (\S+) in (\d+(?:\.\d+)?)ms/m.exec(stdout);
  return m ? { via: stripControls(m[1]!), ms: Number(m[2]) } : undefined;
}

/** One `tailscale ping` of a peer (Tailscale's own DISCO ping, at the tailnet layer: it says nothing about sshd). */
export async function pingPeer(target: string, opts?: { binary?: string; timeoutMs?: number; run?: RunCommand }): Promise<PingResult> {
  const timeoutMs = opts?.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const t0 = Date.now();
  const args = ['ping', '--c=1', '--until-direct=false', `--timeout=${Math.max(1, Math.round(timeoutMs / 1000))}s`, target];
  try {
    // the command's own deadline first; ours a little later so its message (not ours) is what is kept
    const stdout = await (opts?.run ?? runCommand)(opts?.binary ?? 'tailscale', args, timeoutMs + 1000);
    const pong = parsePong(stdout);
    return pong ? { ok: true, ms: pong.ms, detail: `via ${pong.via}` } : { ok: false, ms: Date.now() - t0, detail: `no pong in: ${firstLine(stdout)}` };
  } catch (err) {
    const e = err as { stderr?: unknown };
    const said = typeof e?.stderr === 'string' && e.stderr.trim() ? firstLine(e.stderr) : failureReason(err, timeoutMs);
    return { ok: false, ms: Date.now() - t0, detail: said };
  }
}

/** The probe's tailnet layer for a fleet: a ping for each alias that points at a tailnet peer, none for the others. */
export function tailnetPinger(tailnet: Pick<Tailnet, 'byAlias'>, opts?: Parameters<typeof pingPeer>[1]): (alias: string) => Promise<PingResult> | undefined {
  return (alias) => {
    const ip = tailnet.byAlias.get(alias)?.ips[0];
    return ip ? pingPeer(ip, opts) : undefined;
  };
}

export function parseTailscaleStatus(json: string): { peers: TailscalePeer[]; warnings: string[] } {
  const { peers, warnings } = parseStatus(json);
  return { peers, warnings };
}

/**
 * alias → peer, when the alias's resolved HostName is the peer's MagicDNS name, its short name
 * (first MagicDNS label, else HostName) or one of its IPs. Names compare case-insensitively,
 * trailing dots ignored. A HostName that matches several peers equally well is left unmatched
 * rather than guessed.
 */
export function matchPeersToAliases(
  peers: readonly TailscalePeer[],
  aliases: readonly { alias: string; hostname: string }[],
): Map<string, TailscalePeer> {
  const byName = new Map<string, TailscalePeer[]>();
  const byShortName = new Map<string, TailscalePeer[]>();
  const byIp = new Map<string, TailscalePeer[]>();
  const add = (index: Map<string, TailscalePeer[]>, key: string, peer: TailscalePeer): void => {
    const list = index.get(key);
    if (!list) index.set(key, [peer]);
    else if (!list.includes(peer)) list.push(peer);
  };
  for (const peer of peers) {
    if (peer.dnsName) add(byName, normalizeName(peer.dnsName), peer);
    add(byShortName, shortName(peer), peer);
    for (const ip of peer.ips) add(byIp, normalizeIp(ip), peer);
  }
  const matches = new Map<string, TailscalePeer>();
  for (const { alias, hostname } of aliases) {
    const name = normalizeName(hostname);
    // Strongest evidence first; a tie within one kind is ambiguous, so no match.
    for (const candidates of [byName.get(name), byIp.get(normalizeIp(hostname)), byShortName.get(name)]) {
      if (!candidates) continue;
      if (candidates.length === 1) matches.set(alias, candidates[0]!);
      break;
    }
  }
  return matches;
}

function normalizeName(name: string): string {
  return name.trim().replace(/\.+$/, '').toLowerCase();
}

function normalizeIp(text: string): string {
  const bare = text.trim().replace(/^\[(.*)\]$/, '$1');
  return isIP(bare) === 6 ? bare.toLowerCase() : bare;
}

function shortName(peer: TailscalePeer): string {
  return normalizeName(peer.dnsName ? peer.dnsName.split('.')[0]! : peer.name);
}

// ---------------------------------------------------------------------------------------------
// Parsing

interface ParsedStatus {
  backendState?: string;
  peers: TailscalePeer[];
  warnings: string[];
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// Peer names end up in trees, ssh targets and command lines; only plain DNS-ish names get through.
const SAFE_HOSTNAME = /^[A-Za-z0-9._][A-Za-z0-9._-]*$/;

/** Go's zero time.Time, which tailscale prints for "never". */
const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

function parseStatus(json: string): ParsedStatus {
  const root: unknown = JSON.parse(json);
  if (!isObject(root)) throw new Error('expected a JSON object');
  const warnings: string[] = [];
  const peers: TailscalePeer[] = [];
  if (root.Self !== undefined && root.Self !== null) {
    const self = toPeer(root.Self, 'Self', true, warnings);
    if (self) peers.push(self);
  }
  const peerMap = root.Peer;
  if (isObject(peerMap)) {
    const others: TailscalePeer[] = [];
    for (const [nodeKey, raw] of Object.entries(peerMap)) {
      const peer = toPeer(raw, `Peer[${JSON.stringify(nodeKey)}]`, false, warnings);
      if (peer) others.push(peer);
    }
    // The JSON is keyed by node key, an order that means nothing to a person.
    others.sort((a, b) => a.name.localeCompare(b.name));
    peers.push(...others);
  } else if (peerMap !== undefined && peerMap !== null) {
    warnings.push('tailscale status: "Peer" is not an object; no peers read');
  }
  const backendState = typeof root.BackendState === 'string' ? root.BackendState : undefined;
  return { backendState, peers, warnings };
}

function toPeer(raw: unknown, where: string, self: boolean, warnings: string[]): TailscalePeer | undefined {
  if (!isObject(raw)) {
    warnings.push(`tailscale status: ${where} is not an object; skipped`);
    return undefined;
  }
  const name = raw.HostName;
  if (typeof name !== 'string' || !SAFE_HOSTNAME.test(name)) {
    warnings.push(`tailscale peer ${where} dropped: HostName ${JSON.stringify(name)} is not a plain host name`);
    return undefined;
  }
  let dnsName: string | undefined;
  if (typeof raw.DNSName === 'string' && raw.DNSName !== '') {
    dnsName = raw.DNSName.replace(/\.$/, '');
    if (!SAFE_HOSTNAME.test(dnsName)) {
      warnings.push(`tailscale peer ${JSON.stringify(name)} dropped: DNSName ${JSON.stringify(raw.DNSName)} is not a plain host name`);
      return undefined;
    }
  }
  const peer: TailscalePeer = { name, ips: readIps(raw.TailscaleIPs, name, warnings), online: raw.Online === true, self };
  if (dnsName) peer.dnsName = dnsName;
  if (typeof raw.OS === 'string' && raw.OS !== '') peer.os = stripControls(raw.OS);
  if (typeof raw.LastSeen === 'string' && raw.LastSeen !== '' && raw.LastSeen !== GO_ZERO_TIME) {
    peer.lastSeen = stripControls(raw.LastSeen);
  }
  if (!self && peer.online) peer.link = linkOf(raw);
  // ipnstate.PeerStatus serialises SSH_HostKeys as "sshHostKeys" (lower-case s).
  if (Array.isArray(raw.sshHostKeys)) {
    const keys = raw.sshHostKeys.filter((k): k is string => typeof k === 'string' && /^[\x20-\x7e]+$/.test(k));
    if (keys.length !== raw.sshHostKeys.length) warnings.push(`tailscale peer ${JSON.stringify(name)}: unreadable sshHostKeys entries ignored`);
    if (keys.length > 0) peer.sshHostKeys = keys;
  }
  return peer;
}

const ADDRESS = /^\[?[0-9A-Fa-f.:]+\]?:\d{1,5}$/;
const REGION = /^[A-Za-z0-9-]{1,32}$/;

/** As `tailscale status` decides it: an active peer with a current address is direct, else relayed. */
function linkOf(raw: JsonObject): PeerLink {
  if (raw.Active !== true) return { kind: 'idle' };
  if (typeof raw.CurAddr === 'string' && ADDRESS.test(raw.CurAddr)) return { kind: 'direct', address: raw.CurAddr };
  if (typeof raw.Relay === 'string' && REGION.test(raw.Relay)) return { kind: 'relay', region: raw.Relay };
  return { kind: 'idle' };
}

function readIps(value: unknown, name: string, warnings: string[]): string[] {
  if (!Array.isArray(value)) return [];
  const ips: string[] = [];
  for (const ip of value) {
    if (typeof ip === 'string' && isIP(ip) !== 0) ips.push(ip);
    else warnings.push(`tailscale peer ${JSON.stringify(name)}: ignored TailscaleIPs entry ${JSON.stringify(ip)}`);
  }
  return ips;
}

function stripControls(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '');
}

function backendReason(state: string): string {
  switch (state) {
    case 'NeedsLogin':
      return 'tailscale needs login (run "tailscale up")';
    case 'Stopped':
      return 'tailscale is stopped (run "tailscale up")';
    case 'NeedsMachineAuth':
      return 'this machine waits for approval by a tailnet admin';
    default:
      return `tailscale is not running (state ${JSON.stringify(state)})`;
  }
}

// ---------------------------------------------------------------------------------------------
// Running the CLI

/** Error shape `runCommand` rejects with; injected runners may reject with any Error. */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly code?: string,
    readonly exitCode?: number,
    readonly stderr?: string,
  ) {
    super(message);
    this.name = 'CommandError';
  }
}

function failureReason(err: unknown, timeoutMs: number): string {
  const e = err as { code?: unknown; killed?: boolean; signal?: unknown; message?: unknown; stderr?: unknown };
  if (e?.code === 'ENOENT') return 'tailscale not installed';
  if (e?.code === 'ETIMEDOUT' || e?.killed === true) return `tailscale status did not answer within ${timeoutMs} ms`;
  if (e?.code === 'EACCES') return 'tailscale binary is not executable (permission denied)';
  const stderr = typeof e?.stderr === 'string' ? firstLine(e.stderr) : '';
  const message = typeof e?.message === 'string' ? firstLine(e.message) : String(err);
  return stderr && !message.includes(stderr) ? `${message}: ${stderr}` : message;
}

function firstLine(text: string): string {
  const line = stripControls(text.trim().split(/\r?\n/)[0] ?? '');
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

const MAX_STDOUT_BYTES = 32 * 1024 * 1024;
const MAX_STDERR_BYTES = 64 * 1024;

/**
 * Runs `file args` without a shell. Unlike execFile, a timeout settles at once: execFile waits for
 * stdout to close, which a grandchild that inherited the pipe can hold open long after the kill.
 */
export function runCommand(file: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let stdoutBytes = 0;
    let stderrBytes = 0;
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const abandon = (err: CommandError): void =>
      settle(() => {
        child.kill('SIGKILL');
        child.stdout.destroy();
        child.stderr.destroy();
        reject(err);
      });
    const timer = setTimeout(
      () => abandon(new CommandError(`${file} timed out after ${timeoutMs} ms`, 'ETIMEDOUT')),
      timeoutMs,
    );
    child.stdout.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > MAX_STDOUT_BYTES) abandon(new CommandError(`${file} printed more than ${MAX_STDOUT_BYTES} bytes`));
      else stdout.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderrBytes < MAX_STDERR_BYTES) stderr.push(chunk);
      stderrBytes += chunk.length;
    });
    child.on('error', (err: NodeJS.ErrnoException) =>
      settle(() => reject(new CommandError(`cannot run ${file}: ${err.message}`, err.code))),
    );
    child.on('close', (code, signal) =>
      settle(() => {
        const errText = Buffer.concat(stderr).toString('utf8');
        if (code === 0) resolve(Buffer.concat(stdout).toString('utf8'));
        else {
          const how = code !== null ? `exited with code ${code}` : `was killed by ${signal}`;
          reject(new CommandError(`${file} ${how}`, undefined, code ?? undefined, errText));
        }
      }),
    );
  });
}
