// One verified, authenticated ssh2 connection to one resolved host: direct TCP, through ProxyCommand, or
// through a jump connection (ProxyJump). Host keys are checked synchronously against known_hosts; an
// unknown key is asked about *after* the first attempt fails, and the connection is retried, so a slow
// human answer can never turn into a handshake timeout and no credential is sent before acceptance.
import { spawn } from 'node:child_process';
import { connect as tcpConnect, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { Algorithms, ClientChannel } from 'ssh2';
import { ssh2, type Client } from './ssh2';
import type { HostKeyQuestion, Prompter, ResolvedHost } from '../types';
import {
  AlgorithmSettingError,
  explainNegotiationFailure,
  hostKeyAlgorithmOrder,
  negotiationFailure,
  remoteOfferRecorder,
  ssh2AlgorithmsFor,
} from './algorithms';
import { createAuthHandler, type KeyCache } from './auth';
import { pubkeyPolicy } from './pubkeyAlgorithms';
import { enforceRekeyLimit, rekeyLimitOf } from './rekey';
import { observeServerSigAlgs, skipHostKeyProofs, Ssh2InternalsMissing, type ServerSigAlgs } from './ssh2Internals';
import { appendKnownHost, checkHostKey, describeVerdict, lookupName, parseKeyBlob, recordedHostKeyAlgorithms, type HostKeyVerdict } from './knownHosts';

export type ConnectFailureKind = 'unreachable' | 'timeout' | 'auth-failed' | 'hostkey-rejected';

export class ConnectError extends Error {
  /** Set when the TCP connect itself failed (refused, no route, no answer): nothing was heard from an SSH server. */
  tcp?: boolean;
  constructor(
    readonly kind: ConnectFailureKind,
    message: string,
    /** Present when the failure came from host key verification. */
    readonly hostKey?: { verdict: HostKeyVerdict; question: HostKeyQuestion; blob: Buffer },
  ) {
    super(message);
  }
}

export interface ConnectDeps {
  prompter: Prompter;
  keys: KeyCache;
  env: Record<string, string | undefined>;
  defaultConnectTimeoutMs: number;
  /** Opens (or reuses) the connection to the jump host this host's ProxyJump names (see jumpChain.ts). */
  openJump: () => Promise<{ client: Client; name: string }>;
  /** Keepalive used when the config sets no ServerAliveInterval: a fleet tool must notice a frozen server. */
  defaultKeepaliveMs?: number;
}

export interface Connection {
  readonly client: Client;
  readonly host: ResolvedHost;
  /** Resolves once the transport is gone, whatever the reason. */
  readonly closed: Promise<void>;
}

const HANDSHAKE_SLOTS_PER_DESTINATION = 8;
const MAX_STARTUP_RETRIES = 6;
const handshakeQueues = new Map<string, { active: number; waiting: Array<() => void> }>();

async function withHandshakeSlot<T>(destination: string, fn: () => Promise<T>): Promise<T> {
  let q = handshakeQueues.get(destination);
  if (!q) handshakeQueues.set(destination, (q = { active: 0, waiting: [] }));
  const queue = q;
  if (queue.active >= HANDSHAKE_SLOTS_PER_DESTINATION) await new Promise<void>((r) => queue.waiting.push(r));
  queue.active++;
  try {
    return await fn();
  } finally {
    queue.active--;
    const next = queue.waiting.shift();
    if (next) next();
    else if (queue.active === 0) handshakeQueues.delete(destination);
  }
}

function connectTimeoutMs(host: ResolvedHost, deps: ConnectDeps): number {
  return host.connectTimeout !== undefined && host.connectTimeout > 0 ? host.connectTimeout * 1000 : deps.defaultConnectTimeoutMs;
}

/** A deadline that can be paused while a human is answering a prompt. */
class PausableDeadline {
  private remaining: number;
  private startedAt = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private paused = 0;
  constructor(ms: number, private readonly onExpire: () => void) {
    this.remaining = ms;
    this.arm();
  }
  private arm(): void { this.timer = setTimeout(this.onExpire, this.remaining); }
  pause(): void {
    if (this.paused++ > 0 || !this.timer) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.remaining -= Date.now() - this.startedAt;
  }
  resume(): void {
    if (--this.paused > 0) return;
    this.startedAt = Date.now();
    this.arm();
  }
  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.paused = 1_000_000;
  }
}

/**
 * ssh2's pure-JS ciphers write each packet as 3–4 pieces (length, payload, tag), and with setNoDelay each
 * piece is its own send(): a quarter of a warm 50-host exec's CPU time went to those syscalls. Corking the
 * socket until the end of the current tick sends what one tick wrote in a single writev, without Nagle's wait.
 */
export function coalesceWrites(sock: Socket): Socket {
  const write = sock.write;
  let corked = false;
  const uncork = () => {
    corked = false;
    sock.uncork();
  };
  sock.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
    if (!corked) {
      corked = true;
      sock.cork();
      process.nextTick(uncork);
    }
    return write.apply(this, args);
  } as Socket['write'];
  return sock;
}

function openTcp(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = tcpConnect({ host, port });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(Object.assign(new ConnectError('timeout', `connection to ${host} port ${port} timed out after ${timeoutMs} ms`), { tcp: true }));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.setNoDelay(true); // ssh2 never does; without it pure-JS crypto + Nagle costs ~20x (ssh-traps §6)
      resolve(coalesceWrites(sock));
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(Object.assign(new ConnectError('unreachable', `cannot connect to ${host} port ${port}: ${err.code ?? err.message}`), { tcp: true }));
    });
  });
}

function openProxyCommand(command: string): { sock: Duplex; kill: () => void; stderr: () => string } {
  const child = spawn('/bin/sh', ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'], detached: process.platform !== 'win32' });
  let errText = '';
  child.stderr.on('data', (d: Buffer) => { if (errText.length < 4096) errText += d.toString(); });
  child.on('error', () => {});
  child.stdin.on('error', () => {});
  const sock = Duplex.from({ readable: child.stdout, writable: child.stdin });
  sock.on('error', () => {});
  const signal = (sig: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      if (child.pid && process.platform !== 'win32') process.kill(-child.pid, sig);
      else child.kill(sig);
    } catch {
      child.kill(sig);
    }
  };
  let killed = false;
  const kill = () => {
    if (killed) return;
    killed = true;
    sock.destroy();
    signal('SIGTERM');
    const hard = setTimeout(() => signal('SIGKILL'), 2000);
    hard.unref();
    child.once('exit', () => clearTimeout(hard));
  };
  return { sock, kill, stderr: () => errText.trim() };
}

function forwardOut(jump: Client, via: string, host: string, port: number, timeoutMs: number): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      reject(new ConnectError('timeout', `jump host ${via} did not open a channel to ${host} port ${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    try {
      jump.forwardOut('127.0.0.1', 0, host, port, (err, stream) => {
        clearTimeout(timer);
        if (done) {
          stream?.on('error', () => {});
          stream?.destroy();
          return;
        }
        done = true;
        if (err) reject(new ConnectError('unreachable', `jump host ${via} could not reach ${host} port ${port}: ${err.message}`));
        else resolve(stream);
      });
    } catch (err) {
      clearTimeout(timer);
      done = true;
      reject(new ConnectError('unreachable', `jump connection to ${via} unusable: ${(err as Error).message}`));
    }
  });
}

/** sshd past MaxStartups (or a loaded jump host) closes new connections before the banner exchange. */
function isMaxStartupsDrop(err: unknown): boolean {
  return err instanceof Error && !(err as { proxyFailed?: boolean }).proxyFailed
    && /Connection lost before handshake|ECONNRESET|connection closed during handshake/.test(err.message);
}

const MAX_HOST_KEY_QUESTIONS = 2;

/** Connects, asking the prompter about an unknown host key and retrying once it is accepted. */
export async function connectHost(host: ResolvedHost, deps: ConnectDeps, via?: string): Promise<Connection> {
  const destination = `${host.proxyJump ? `${host.proxyJump}->` : ''}${host.hostname}:${host.port}`;
  let questions = 0;
  for (let attempt = 0; ; attempt++) {
    try {
      return await withHandshakeSlot(destination, () => connectOnce(host, deps, via));
    } catch (err) {
      const failedList = err instanceof ConnectError ? negotiationFailure(err.message) : undefined;
      if (failedList) throw await explainedNegotiationFailure(host, deps, via, destination, failedList, (err as Error).message);
      if (err instanceof ConnectError && err.hostKey?.verdict.kind === 'unknown' && host.strictHostKeyChecking === 'ask') {
        // Asked outside any timer and outside the handshake slot: the human may take as long as needed.
        if (++questions > MAX_HOST_KEY_QUESTIONS) throw err;
        let accepted = false;
        try {
          accepted = (await deps.prompter.confirmHostKey(err.hostKey.question)) === true; // strict boolean (ssh-traps §2.2 trap 2)
        } catch {
          accepted = false;
        }
        if (!accepted) {
          throw new ConnectError(
            'hostkey-rejected',
            `${host.alias}: host key ${err.hostKey.question.keyType} ${err.hostKey.question.fingerprint} for ${err.hostKey.question.lookupName} was not accepted`,
            err.hostKey,
          );
        }
        rememberHostKey(host, err.hostKey.blob);
        attempt = -1;
        continue;
      }
      if (isMaxStartupsDrop(err) && attempt < MAX_STARTUP_RETRIES) {
        await new Promise((r) => setTimeout(r, 100 * 2 ** Math.min(attempt, 4) * (0.5 + Math.random())));
        continue;
      }
      throw err;
    }
  }
}

/**
 * No common algorithm: connect once more with ssh2's debug output recording what the server offers
 * (only then, since debug output costs on every packet), and say which setting would fix it.
 */
async function explainedNegotiationFailure(
  host: ResolvedHost,
  deps: ConnectDeps,
  via: string | undefined,
  destination: string,
  kind: NonNullable<ReturnType<typeof negotiationFailure>>,
  original: string,
): Promise<ConnectError> {
  const recorder = remoteOfferRecorder();
  try {
    const unexpected = await withHandshakeSlot(destination, () => connectOnce(host, deps, via, recorder.debug));
    unexpected.client.end();
  } catch {
    // Expected: the same negotiation fails again, now with the server's lists recorded.
  }
  const prefix = `${host.alias}: `;
  const detail = original.startsWith(prefix) ? original.slice(prefix.length) : original;
  return new ConnectError('unreachable', explainNegotiationFailure(host, kind, recorder.offers[kind], detail));
}

function hostKeyNames(host: ResolvedHost): string[] {
  return [host.hostKeyAlias ?? lookupName(host.hostname, host.port)];
}

function knownHostsFiles(host: ResolvedHost): string[] {
  return [...host.userKnownHostsFiles, ...host.globalKnownHostsFiles];
}

/** Writes an accepted key where OpenSSH would, so the user's own ssh agrees with Flotilla. */
export function rememberHostKey(host: ResolvedHost, blob: Buffer): void {
  const file = host.userKnownHostsFiles[0];
  if (!file) throw new Error(`no UserKnownHostsFile configured for ${host.alias}`);
  appendKnownHost(file, hostKeyNames(host)[0]!, blob, { hash: host.hashKnownHosts });
}

/** Trusts several keys of one host at once (e.g. those its tailnet publishes); keys already known are not written again. */
export function rememberHostKeys(host: ResolvedHost, blobs: readonly Buffer[]): number {
  let written = 0;
  for (const blob of blobs) {
    if (checkHostKey(knownHostsFiles(host), hostKeyNames(host), blob).kind === 'known') continue;
    rememberHostKey(host, blob);
    written++;
  }
  return written;
}

/** ssh2's `algorithms` option for a host: its ssh_config lists, host key types in known_hosts order. */
export function connectionAlgorithms(host: ResolvedHost): Algorithms {
  return ssh2AlgorithmsFor(host, hostKeyAlgorithmOrder(recordedHostKeyAlgorithms(knownHostsFiles(host), hostKeyNames(host))));
}

async function connectOnce(host: ResolvedHost, deps: ConnectDeps, via?: string, debug?: (line: string) => void): Promise<Connection> {
  const timeoutMs = connectTimeoutMs(host, deps);
  const files = knownHostsFiles(host);
  const names = hostKeyNames(host);
  let algorithms;
  try {
    algorithms = connectionAlgorithms(host);
  } catch (err) {
    if (err instanceof AlgorithmSettingError) throw new ConnectError('unreachable', err.message);
    throw err;
  }
  let transportStarted = Date.now();
  let cleanupTransport = () => {};
  let sock: Duplex;
  let proxyStderr = () => '';
  if (host.proxyCommand) {
    const p = openProxyCommand(host.proxyCommand);
    sock = p.sock;
    cleanupTransport = p.kill;
    proxyStderr = p.stderr;
  } else if (host.proxyJump) {
    const jump = await deps.openJump();
    via = jump.name;
    transportStarted = Date.now(); // the jump host's own connect has its own deadline
    sock = await forwardOut(jump.client, jump.name, host.hostname, host.port, timeoutMs);
  } else {
    sock = await openTcp(host.hostname, host.port, timeoutMs);
  }
  // One ConnectTimeout covers TCP connect and SSH handshake together, as in OpenSSH.
  const handshakeMs = Math.max(1, timeoutMs - (Date.now() - transportStarted));

  const client = new (ssh2().Client)();
  let verdict: HostKeyVerdict | undefined;
  let presentedBlob: Buffer | undefined;
  let acceptedNew = false;

  const hostVerifier = (blob: Buffer): boolean => {
    presentedBlob = Buffer.from(blob);
    verdict = checkHostKey(files, names, presentedBlob);
    if (verdict.kind === 'known') return true;
    if (verdict.kind === 'unknown' && (host.strictHostKeyChecking === 'accept-new' || host.strictHostKeyChecking === 'no')) {
      acceptedNew = true;
      return true;
    }
    return false;
  };

  return await new Promise<Connection>((resolve, reject) => {
    let settled = false;
    let resolveClosed!: () => void;
    const closed = new Promise<void>((r) => (resolveClosed = r));
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      deadline.clear();
      client.end();
      sock.destroy();
      cleanupTransport();
      reject(err);
    };
    const deadline = new PausableDeadline(handshakeMs, () =>
      fail(new ConnectError('timeout', `${host.alias}: no SSH handshake from ${host.hostname} port ${host.port} within ${timeoutMs} ms`)),
    );
    let serverSigAlgs = (): ServerSigAlgs => ({ algs: undefined, impliesRsaSha2: false });
    const auth = createAuthHandler(host, {
      prompter: deps.prompter,
      keys: deps.keys,
      env: deps.env,
      onPrompt: (p) => (p ? deadline.pause() : deadline.resume()),
      pubkeyPolicy: pubkeyPolicy(host, () => serverSigAlgs()),
    });
    client.on('ready', () => {
      if (settled) return;
      try {
        enforceRekeyLimit(client, sock, rekeyLimitOf(host));
      } catch (err) {
        if (!(err instanceof Ssh2InternalsMissing)) throw err;
        const source = host.options.get('rekeylimit')?.source;
        return fail(new ConnectError('unreachable', `${host.alias}: RekeyLimit${source ? ` (${source.file}:${source.line})` : ''} cannot be applied: ${err.message}`));
      }
      settled = true;
      deadline.clear();
      if (acceptedNew && presentedBlob) {
        try { rememberHostKey(host, presentedBlob); } catch { /* accepted for this session; writing is best effort */ }
      }
      resolve({ client, host, closed });
    });
    client.on('error', (err: Error & { level?: string }) => {
      if (settled) return;
      // ssh2 reports a broken agent or a key that failed to sign as an 'error' and then goes on with the
      // next method: these are notes for the final message, not the end of the attempt.
      if (err.level === 'agent' || (err.level === 'client-authentication' && !/All configured authentication methods failed/.test(err.message))) {
        auth.keyErrors.push(err.level === 'agent' ? `agent: ${err.message}` : err.message);
        return;
      }
      if (verdict && verdict.kind !== 'known' && !acceptedNew) {
        const parsed = parseKeyBlob(presentedBlob!);
        const question: HostKeyQuestion = {
          alias: host.alias,
          lookupName: names[0]!,
          hostname: host.hostname,
          port: host.port,
          keyType: parsed.keyType,
          fingerprint: parsed.fingerprint,
          via,
          knownHostsFile: host.userKnownHostsFiles[0] ?? '',
        };
        const message = verdict.kind === 'unknown' && host.strictHostKeyChecking === 'yes'
          ? `${describeVerdict(verdict, host.alias)} (StrictHostKeyChecking yes)`
          : describeVerdict(verdict, host.alias);
        return fail(new ConnectError('hostkey-rejected', message, { verdict, question, blob: presentedBlob! }));
      }
      if (err.level === 'client-authentication') {
        const detail = auth.keyErrors.length ? ` (${auth.keyErrors.join('; ')})` : '';
        return fail(new ConnectError('auth-failed', `${host.alias}: authentication failed as ${host.user}${detail}`));
      }
      const extra = proxyStderr();
      const kind: ConnectFailureKind = err.level === 'client-timeout' ? 'timeout' : 'unreachable';
      // A ProxyCommand that complained on stderr failed by itself: not a MaxStartups drop worth retrying.
      fail(Object.assign(new ConnectError(kind, `${host.alias}: ${err.message}${extra ? ` (ProxyCommand: ${extra})` : ''}`), { level: err.level, proxyFailed: !!extra }));
    });
    client.on('close', () => {
      cleanupTransport();
      resolveClosed();
      if (!settled) {
        const extra = proxyStderr();
        fail(Object.assign(
          new ConnectError('unreachable', `${host.alias}: connection closed during handshake${extra ? ` (ProxyCommand: ${extra})` : ''}`),
          { proxyFailed: !!extra },
        ));
      }
    });
    const keepalive = host.serverAliveInterval > 0 ? host.serverAliveInterval * 1000 : (deps.defaultKeepaliveMs ?? 15_000);
    try {
      client.connect({
        sock,
        username: host.user,
        hostVerifier,
        authHandler: auth.handler as never,
        readyTimeout: 24 * 3600 * 1000, // our own pausable deadline governs; see PausableDeadline
        keepaliveInterval: keepalive,
        keepaliveCountMax: host.serverAliveCountMax,
        algorithms,
        ...(debug ? { debug } : {}),
      });
    } catch (err) {
      return fail(err as Error);
    }
    skipHostKeyProofs(client);
    try {
      serverSigAlgs = observeServerSigAlgs(client);
    } catch (err) {
      if (!(err instanceof Ssh2InternalsMissing)) throw err;
      const source = host.options.get('pubkeyacceptedalgorithms')?.source;
      // Without the server's list ssh2's RSA choice is unknown: only a configured list needs it.
      if (source) fail(new ConnectError('unreachable', `${host.alias}: PubkeyAcceptedAlgorithms (${source.file}:${source.line}) cannot be applied: ${err.message}`));
    }
  });
}
