// Builds the ordered list of ssh2 authentication attempts for one host, the way OpenSSH orders them:
// agent keys (filtered to the IdentityFiles when IdentitiesOnly is set), then IdentityFiles in order,
// then keyboard-interactive and password through the Prompter.
import { createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { AnyAuthMethod, AuthenticationType, ParsedKey } from 'ssh2';
import { ssh2, type BaseAgent, type Ssh2 } from './ssh2';
import type { Prompter, ResolvedHost } from '../types';
import type { PubkeyPolicy } from './pubkeyAlgorithms';

export class KeyError extends Error {}

const MAX_PASSPHRASE_ATTEMPTS = 3;

/** Decrypted keys kept in memory for the life of the pool, so a passphrase is asked once per key. */
export class KeyCache {
  private readonly keys = new Map<string, ParsedKey>();
  get(path: string): ParsedKey | undefined { return this.keys.get(path); }
  set(path: string, key: ParsedKey): void { this.keys.set(path, key); }
}

function isEncryptedKeyError(err: Error): boolean {
  return /no passphrase given|bad passphrase|integrity check failed|Encrypted|bad decrypt/i.test(err.message);
}

function parseOne(parsed: ParsedKey | ParsedKey[] | Error): ParsedKey | Error {
  return Array.isArray(parsed) ? parsed[0]! : parsed;
}

/** PKCS#8 keys (`BEGIN PRIVATE KEY`) are not understood by ssh2; re-export them as PKCS#1/SEC1 PEM. */
function convertPkcs8(text: string, passphrase: string | undefined): string | undefined {
  if (!/BEGIN (ENCRYPTED )?PRIVATE KEY/.test(text)) return undefined;
  const encrypted = /BEGIN ENCRYPTED PRIVATE KEY/.test(text);
  if (encrypted && passphrase === undefined) throw new Error('Encrypted PKCS#8 private key detected, but no passphrase given');
  let key;
  try {
    key = createPrivateKey({ key: text, format: 'pem', passphrase });
  } catch (err) {
    // OpenSSL says "bad decrypt" (or "interrupted or cancelled") for a wrong passphrase.
    if (encrypted) throw new Error('Encrypted PKCS#8 private key: bad passphrase?');
    throw err;
  }
  if (key.asymmetricKeyType === 'rsa') return key.export({ type: 'pkcs1', format: 'pem' }).toString();
  if (key.asymmetricKeyType === 'ec') return key.export({ type: 'sec1', format: 'pem' }).toString();
  throw new KeyError(`${key.asymmetricKeyType} keys in PKCS#8 format are not supported; convert with: ssh-keygen -p -f KEY`);
}

function tryParse(text: string, passphrase: string | undefined): ParsedKey | Error {
  if (/^PuTTY-User-Key-File-3/m.test(text)) {
    return new KeyError('PuTTY PPK v3 keys are not supported; convert with: puttygen KEY -O private-openssh -o KEY.openssh');
  }
  try {
    const pem = convertPkcs8(text, passphrase);
    if (pem !== undefined) return parseOne(ssh2().parseKey(pem));
  } catch (err) {
    if (err instanceof KeyError) return err;
    return err instanceof Error ? err : new Error(String(err));
  }
  return parseOne(ssh2().parseKey(text, passphrase));
}

/** Loads a private key, asking for its passphrase (re-asking after a wrong one) through the prompter. */
export async function loadIdentity(
  path: string,
  prompter: Prompter,
  cache: KeyCache,
  onPrompt?: (prompting: boolean) => void,
): Promise<ParsedKey | undefined> {
  const cached = cache.get(path);
  if (cached) return cached;
  const text = readFileSync(path, 'utf8');
  let result = tryParse(text, undefined);
  for (let attempt = 1; result instanceof Error && !(result instanceof KeyError) && isEncryptedKeyError(result); attempt++) {
    if (attempt > MAX_PASSPHRASE_ATTEMPTS) {
      throw new KeyError(`${path}: wrong passphrase (${MAX_PASSPHRASE_ATTEMPTS} attempts); key not used`);
    }
    onPrompt?.(true);
    let passphrase: string | undefined;
    try {
      passphrase = await prompter.passphrase(path, attempt);
    } finally {
      onPrompt?.(false);
    }
    if (passphrase === undefined) return undefined;
    result = tryParse(text, passphrase);
    passphrase = undefined;
  }
  if (result instanceof KeyError) throw result;
  if (result instanceof Error) throw new KeyError(`cannot use identity file ${path}: ${result.message}`);
  if (!result.isPrivateKey()) throw new KeyError(`${path} is not a private key`);
  cache.set(path, result);
  return result;
}

/** The public key (base64 wire blob) of an IdentityFile: from `FILE.pub`, else from the key if it is unencrypted. */
function publicBlobOf(identityFile: string, cache: KeyCache): string | undefined {
  try {
    const pub = `${identityFile}.pub`;
    if (existsSync(pub)) return readFileSync(pub, 'utf8').trim().split(/\s+/)[1];
    const cached = cache.get(identityFile);
    if (cached) return cached.getPublicSSH().toString('base64');
    if (!existsSync(identityFile)) return undefined;
    const parsed = tryParse(readFileSync(identityFile, 'utf8'), undefined);
    return parsed instanceof Error ? undefined : parsed.getPublicSSH().toString('base64');
  } catch {
    return undefined;
  }
}

const AGENT_LIST_TIMEOUT_MS = 2_000;
const AGENT_SIGN_TIMEOUT_MS = 60_000;

/**
 * Wraps the real agent: listing keys times out quickly (a dead or wedged SSH_AUTH_SOCK must not hang the
 * connect; ssh2 then moves on to the IdentityFiles), signing may take a human confirmation (`ssh-add -c`,
 * a hardware token) so it pauses the connect deadline and has a long timeout. With `allowed` set
 * (IdentitiesOnly) only those public keys are offered.
 */
function defineGuardedAgent(Base: Ssh2['BaseAgent']) {
  return class GuardedAgent extends Base<ParsedKey> {
    offered: number | undefined;
    total: number | undefined;
    constructor(
      private readonly inner: BaseAgent,
      private readonly allowed: ReadonlySet<string> | undefined,
      private readonly notes: string[],
      private readonly onPrompt?: (prompting: boolean) => void,
      private readonly policy?: PubkeyPolicy,
    ) { super(); }
    override getIdentities(cb: (err: Error | undefined, keys?: ParsedKey[]) => void): void {
      let done = false;
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        this.notes.push(`agent did not answer within ${AGENT_LIST_TIMEOUT_MS} ms`);
        cb(new Error('agent did not answer'));
      }, AGENT_LIST_TIMEOUT_MS);
      this.inner.getIdentities((err, keys) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (err || !keys) {
          this.notes.push(`agent unusable: ${err?.message ?? 'no keys returned'}`);
          return cb(err ?? new Error('agent returned no keys'));
        }
        const parsed = keys.map((k) => parseOne(ssh2().parseKey(k as Buffer))).filter((k): k is ParsedKey => !(k instanceof Error));
        const named = this.allowed ? parsed.filter((k) => this.allowed!.has(k.getPublicSSH().toString('base64'))) : parsed;
        const usable = named.filter((k) => {
          const refused = this.policy?.refuse(k.type, `agent key ${k.comment || k.type}`);
          if (refused) this.notes.push(refused);
          return !refused;
        });
        this.total = parsed.length;
        this.offered = usable.length;
        if (this.allowed && usable.length < parsed.length) {
          this.notes.push(`agent: ${usable.length} of ${parsed.length} keys offered (IdentitiesOnly: only keys named by IdentityFile)`);
        } else {
          this.notes.push(`agent: ${usable.length} key(s) offered`);
        }
        cb(undefined, usable);
      });
    }
    override sign(pubKey: ParsedKey, data: Buffer, options: unknown, cb?: unknown): void {
      const callback = (typeof options === 'function' ? options : cb) as (err: Error | undefined, sig?: Buffer) => void;
      const opts = typeof options === 'function' ? undefined : options;
      let done = false;
      this.onPrompt?.(true);
      const finish = (err: Error | undefined, sig?: Buffer) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.onPrompt?.(false);
        callback(err, sig);
      };
      const timer = setTimeout(() => finish(new Error('agent did not sign in time')), AGENT_SIGN_TIMEOUT_MS);
      try {
        (this.inner.sign as (...a: unknown[]) => void).call(this.inner, pubKey, data, opts, finish);
      } catch (err) {
        finish(err instanceof Error ? err : new Error(String(err)));
      }
    }
  };
}

type GuardedAgent = InstanceType<ReturnType<typeof defineGuardedAgent>>;
let guardedAgentClass: ReturnType<typeof defineGuardedAgent> | undefined;

function guardedAgent(...args: ConstructorParameters<ReturnType<typeof defineGuardedAgent>>): GuardedAgent {
  guardedAgentClass ??= defineGuardedAgent(ssh2().BaseAgent);
  return new guardedAgentClass(...args);
}

export function agentPath(host: ResolvedHost, env: Record<string, string | undefined>): string | undefined {
  const configured = host.identityAgent;
  if (configured === 'none') return undefined;
  if (configured === undefined || configured === 'SSH_AUTH_SOCK') {
    return env.SSH_AUTH_SOCK || (process.platform === 'win32' ? '\\\\.\\pipe\\openssh-ssh-agent' : undefined);
  }
  return configured;
}

export interface AuthPlanDeps {
  prompter: Prompter;
  keys: KeyCache;
  env: Record<string, string | undefined>;
  /** Called with true while a human is being asked something, so connect timers can pause. */
  onPrompt?: (prompting: boolean) => void;
  /** PubkeyAcceptedAlgorithms: which keys may be offered. */
  pubkeyPolicy?: PubkeyPolicy;
}

/** The key type named in `FILE.pub` (first field), if there is one. */
function publicKeyTypeOf(identityFile: string): string | undefined {
  try {
    return readFileSync(`${identityFile}.pub`, 'utf8').trim().split(/\s+/)[0];
  } catch {
    return undefined;
  }
}

/**
 * Returns an ssh2 authHandler. Methods are produced lazily: a passphrase is only asked when the agent
 * (tried first) has not already succeeded.
 */
export function createAuthHandler(host: ResolvedHost, deps: AuthPlanDeps) {
  const steps: Array<() => Promise<AnyAuthMethod | undefined>> = [];
  const username = host.user;
  const sock = agentPath(host, deps.env);
  const errors: string[] = [];
  const policy = deps.pubkeyPolicy;
  if (policy?.nothingUsable) errors.push(policy.nothingUsable);
  if (sock && (process.platform === 'win32' || existsSync(sock))) {
    steps.push(async () => {
      const allowed = host.identitiesOnly
        ? new Set(host.identityFiles.map((f) => publicBlobOf(f, deps.keys)).filter((b): b is string => !!b))
        : undefined;
      if (allowed && allowed.size === 0) {
        errors.push('agent not used (IdentitiesOnly, and no IdentityFile public key to match)');
        return undefined;
      }
      return { type: 'agent', username, agent: guardedAgent(ssh2().createAgent(sock), allowed, errors, deps.onPrompt, policy) };
    });
  } else if (sock) {
    errors.push(`agent socket ${sock} does not exist`);
  }
  for (const file of host.identityFiles) {
    steps.push(async () => {
      if (!existsSync(file)) return undefined;
      // Checked before decrypting when FILE.pub names the type, so no passphrase is asked for a key not offered.
      const declaredType = publicKeyTypeOf(file);
      const refusedEarly = declaredType ? policy?.refuse(declaredType, file) : undefined;
      if (refusedEarly) {
        errors.push(refusedEarly);
        return undefined;
      }
      // Decrypting a key is local work (pure-JS bcrypt takes seconds) plus prompts: not the server's time.
      deps.onPrompt?.(true);
      let key: ParsedKey | undefined;
      try {
        key = await loadIdentity(file, deps.prompter, deps.keys, deps.onPrompt);
      } finally {
        deps.onPrompt?.(false);
      }
      const refused = key ? policy?.refuse(key.type, file) : undefined;
      if (refused) {
        errors.push(refused);
        return undefined;
      }
      if (!key) errors.push(`${file}: no passphrase given; key not used`);
      else errors.push(`${file} offered`);
      return key ? { type: 'publickey', username, key } : undefined;
    });
  }
  let kbdTried = false;
  let passwordTried = false;

  const handler = (methodsLeft: AuthenticationType[] | null, _partial: boolean, next: (m: AnyAuthMethod | false) => void) => {
    const allows = (m: AuthenticationType) => !methodsLeft || methodsLeft.includes(m);
    const advance = async (): Promise<void> => {
      while (steps.length) {
        const step = steps.shift()!;
        try {
          const method = await step();
          if (method && allows(method.type === 'agent' ? 'publickey' : method.type)) return next(method);
        } catch (err) {
          errors.push(err instanceof Error ? err.message : String(err));
        }
      }
      if (!kbdTried && allows('keyboard-interactive')) {
        kbdTried = true;
        return next({
          type: 'keyboard-interactive',
          username,
          prompt: (_name, _instructions, _lang, prompts, finish) => {
            if (!prompts.length) return finish([]);
            deps.onPrompt?.(true);
            Promise.resolve()
              .then(() => deps.prompter.keyboardInteractive(username, host.hostname, prompts.map((p) => ({ prompt: p.prompt, echo: !!p.echo }))))
              .then((answers) => finish(answers ?? []), () => finish([]))
              .finally(() => deps.onPrompt?.(false));
          },
        });
      }
      if (!passwordTried && allows('password')) {
        passwordTried = true;
        deps.onPrompt?.(true);
        let password: string | undefined;
        try {
          password = await deps.prompter.password(username, host.hostname);
        } catch {
          password = undefined;
        } finally {
          deps.onPrompt?.(false);
        }
        if (password !== undefined) return next({ type: 'password', username, password });
      }
      next(false);
    };
    advance().catch(() => next(false));
  };
  return { handler, keyErrors: errors };
}
