// Shared pieces of `npm run bench`: the figure line, medians, and the pure-JS worker process that every
// ssh2 measurement runs in (ssh2's native sshcrypto.node blocked, as in VS Code's extension host, which
// cannot load it). The worker stays up between calls so Flotilla rounds and peer rounds can alternate:
// both then see the same background load.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startLab, stopLab, type Lab } from '../test/lab/lab';

const NATIVE = resolve(__dirname, '../node_modules/ssh2/lib/protocol/crypto/build/Release/sshcrypto.node');

export const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
export const spread = (xs: readonly number[]) => `min ${Math.min(...xs).toFixed(0)} max ${Math.max(...xs).toFixed(0)}`;

/** `NAME: flotilla X UNIT, PEER Y UNIT, ratio Z` (ratio = flotilla ÷ peer). */
export function line(name: string, ours: number, peerName: string, peer: number, unit = 'ms', digits = unit === 'ms' ? 0 : 2): string {
  return `${name}: flotilla ${ours.toFixed(digits)} ${unit}, ${peerName} ${peer.toFixed(digits)} ${unit}, ratio ${(ours / peer).toFixed(2)}`;
}

export async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** ssh_config = `Host * ConnectTimeout N` + the lab's config + aliases cloned from existing blocks. */
export function benchConfig(lab: Lab, dir: string, connectTimeout: number, clones: Record<string, string> = {}): string {
  const original = readFileSync(lab.info.sshConfig, 'utf8');
  const blocks = new Map<string, string>();
  for (const part of original.split(/\n(?=Host )/)) {
    const m = /^Host (\S+)\n/.exec(part);
    if (m) blocks.set(m[1]!, part.slice(m[0].length));
  }
  let extra = '';
  for (const [alias, from] of Object.entries(clones)) extra += `Host ${alias}\n${blocks.get(from)!.replace(/\n*$/, '\n')}\n`;
  const file = join(dir, `bench-${connectTimeout}-${Object.keys(clones).length}.ssh_config`);
  writeFileSync(file, `Host *\n  ConnectTimeout ${connectTimeout}\n  BatchMode yes\n\n${extra}${original}`);
  return file;
}

/** The lab's agent start can race (ssh-add before the agent listens): one retry in a fresh dir. */
export async function startLabRetry(opts: Parameters<typeof startLab>[0]): Promise<Lab> {
  try {
    return await startLab(opts);
  } catch (err) {
    console.error(`# lab start failed (${(err as Error).message.split('\n')[0]}); retrying once`);
    await stopLab(opts.dir).catch(() => {});
    return await startLab(opts);
  }
}

export const aliases = (n: number, from = 1) => Array.from({ length: n }, (_, i) => `lab-${i + from}`);

/** A preload that makes require() of sshcrypto.node fail: ssh2 then runs its pure-JS paths. */
export function writeNoNativePreload(dir: string): string {
  const preload = join(dir, 'no-native-ssh2.cjs');
  writeFileSync(preload, `const M = require('module'); const load = M._load;
M._load = function (request) {
  if (/sshcrypto\\.node$/.test(request)) { const e = new Error('blocked for the pure-JS benchmark'); e.code = 'MODULE_NOT_FOUND'; throw e; }
  return load.apply(this, arguments);
};\n`);
  return preload;
}

export const PURE_JS_NOTE = existsSync(NATIVE)
  ? 'pure-JS ssh2 (sshcrypto.node present but blocked by a --require preload in the measuring process)'
  : 'pure-JS ssh2 (no sshcrypto.node built)';

export interface Worker {
  call<T>(op: string, ...args: unknown[]): Promise<T>;
  stop(): Promise<void>;
}

/** Starts bench/worker.ts in a pure-JS node (with --expose-gc; `nodeArgs` e.g. --cpu-prof). */
export function pureJsWorker(nodeArgs: string[] = []): Worker {
  const scratch = mkdtempSync(join(tmpdir(), 'flotilla-bench-'));
  const preload = writeNoNativePreload(scratch);
  const child: ChildProcess = spawn(process.execPath, [...process.execArgv, '--expose-gc', ...nodeArgs, '--require', preload, join(__dirname, 'worker.ts')], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let next = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let exited: string | undefined;
  child.on('message', (m: { id: number; ok?: unknown; err?: string }) => {
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (m.err !== undefined) p?.reject(new Error(m.err));
    else p?.resolve(m.ok);
  });
  child.on('exit', (code, signal) => {
    exited = `worker exited (${signal ?? code})`;
    for (const p of pending.values()) p.reject(new Error(exited));
    pending.clear();
    rmSync(scratch, { recursive: true, force: true });
  });
  return {
    call<T>(op: string, ...args: unknown[]): Promise<T> {
      if (exited) return Promise.reject(new Error(exited));
      const id = next++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ id, op, args });
      });
    },
    async stop() {
      if (exited) return;
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      child.send({ id: -1, op: 'exit', args: [] });
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(t);
    },
  };
}
