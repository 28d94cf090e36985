// Builds the ordered list of ssh2 authentication attempts for one host, the way OpenSSH orders them:
// agent keys (filtered to the IdentityFiles when IdentitiesOnly is set), then IdentityFiles in order,
// then keyboard-interactive and password through the Prompter.
import { createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { BaseAgent, createAgent, utils, type AnyAuthMethod, type AuthenticationType, type ParsedKey } from 'ssh2';
import type { Prompter, ResolvedHost } from '../types';

export class KeyError extends Error {}

const MAX_PASSPHRASE_ATTEMPTS = 3;

/** Decrypted keys kept in memory for the life of the pool, so a passphrase is asked once per key. */
export class KeyCache {
  private readonly keys = new Map<string, ParsedKey>();
  get(path: string): ParsedKey | undefined { return this.keys.get(path); }
  set(path: string, key: ParsedKey): void { this.keys.set(path, key); }
}

function isEncryptedKeyError(err: Error): boolean {
  return /no passphrase given|bad passphrase|integrity check failed|Bad passphrase|Encrypted/i.test(err.message);
}

function parseOne(parsed: ParsedKey | ParsedKey[] | Error): ParsedKey | Error {
  return Array.isArray(parsed) ? parsed[0]! : parsed;
}

/** PKCS#8 keys (`BEGIN PRIVATE KEY`) are not understood by ssh2; re-export them as PKCS#1/SEC1 PEM. */
function convertPkcs8(text: string, passphrase: string | undefined): string | undefined {
  if (!/BEGIN (ENCRYPTED )?PRIVATE KEY/.test(text)) return undefined;
  const key = createPrivateKey({ key: text, format: 'pem', passphrase });
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
    if (pem !== undefined) return parseOne(utils.parseKey(pem));
  } catch (err) {
    if (err instanceof KeyError) return err;
    return err instanceof Error ? err : new Error(String(err));
  }
  return parseOne(utils.parseKey(text, passphrase));
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
    if (attempt > MAX_PASSPHRASE_ATTEMPTS) return undefined;
    onPrompt?.(true);
    let passphrase: string | undefined;
    try {
      passphrase = await prompter.passphrase(path, attempt);
    } finally {
      onPrompt?.(false);
    }
    if (passphrase === undefined) return undefined;
    result = tryParse(text, passphrase);
  }
  if (result instanceof KeyError) throw result;
  if (result instanceof Error) throw new KeyError(`cannot use identity file ${path}: ${result.message}`);
  if (!result.isPrivateKey()) throw new KeyError(`${path} is not a private key`);
  cache.set(path, result);
  return result;
}

function publicBlobOf(identityFile: string): string | undefined {
  const pub = `${identityFile}.pub`;
  if (!existsSync(pub)) return undefined;
  const field = readFileSync(pub, 'utf8').trim().split(/\s+/)[1];
  return field;
}

/** An agent that only offers the keys named by IdentityFile (OpenSSH's IdentitiesOnly with an agent). */
class FilteredAgent extends BaseAgent<ParsedKey> {
  constructor(private readonly inner: BaseAgent, private readonly allowed: ReadonlySet<string>) { super(); }
  override getIdentities(cb: (err: Error | undefined, keys?: ParsedKey[]) => void): void {
    this.inner.getIdentities((err, keys) => {
      if (err || !keys) return cb(err ?? undefined);
      const parsed = keys.map((k) => parseOne(utils.parseKey(k as Buffer))).filter((k): k is ParsedKey => !(k instanceof Error));
      cb(undefined, parsed.filter((k) => this.allowed.has(k.getPublicSSH().toString('base64'))));
    });
  }
  override sign(pubKey: ParsedKey, data: Buffer, options: unknown, cb?: unknown): void {
    (this.inner.sign as (...a: unknown[]) => void).call(this.inner, pubKey, data, options, cb);
  }
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
}

/**
 * Returns an ssh2 authHandler. Methods are produced lazily: a passphrase is only asked when the agent
 * (tried first) has not already succeeded.
 */
export function createAuthHandler(host: ResolvedHost, deps: AuthPlanDeps) {
  const steps: Array<() => Promise<AnyAuthMethod | undefined>> = [];
  const username = host.user;
  const sock = agentPath(host, deps.env);
  if (sock && (process.platform === 'win32' || existsSync(sock))) {
    steps.push(async () => {
      const agent = createAgent(sock);
      if (!host.identitiesOnly) return { type: 'agent', username, agent };
      const allowed = new Set(host.identityFiles.map(publicBlobOf).filter((b): b is string => !!b));
      return allowed.size ? { type: 'agent', username, agent: new FilteredAgent(agent, allowed) } : undefined;
    });
  }
  for (const file of host.identityFiles) {
    steps.push(async () => {
      if (!existsSync(file)) return undefined;
      const key = await loadIdentity(file, deps.prompter, deps.keys, deps.onPrompt);
      return key ? { type: 'publickey', username, key } : undefined;
    });
  }
  let kbdTried = false;
  let passwordTried = false;
  const errors: string[] = [];

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
            deps.prompter
              .keyboardInteractive(username, host.hostname, prompts.map((p) => ({ prompt: p.prompt, echo: !!p.echo })))
              .then((answers) => finish(answers ?? []), () => finish([]))
              .finally(() => deps.onPrompt?.(false));
          },
        });
      }
      if (!passwordTried && allows('password')) {
        passwordTried = true;
        deps.onPrompt?.(true);
        const password = await deps.prompter.password(username, host.hostname).finally(() => deps.onPrompt?.(false));
        if (password !== undefined) return next({ type: 'password', username, password });
      }
      next(false);
    };
    void advance();
  };
  return { handler, keyErrors: errors };
}
