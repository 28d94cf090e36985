// exec benchmarks: warm (pooled connections) and cold (connect+auth+exec) `true` on 50 lab hosts,
// against parallel-ssh over OpenSSH ControlMasters (warm) and parallel-ssh with curve25519 kex (cold).
// Flotilla is measured in a child process in which ssh2's native sshcrypto.node cannot load: that is
// the pure-JS path VS Code's extension host runs (the binding is built for another ABI there).
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { resolveHost } from '../src/core/config/sshConfig';
import { startRun } from '../src/core/exec/run';
import { Pool } from '../src/core/ssh/pool';
import { refusingPrompter } from '../src/core/types';
import { startLab, stopLab, type Lab } from '../test/lab/lab';

const run = promisify(execFile);
const NATIVE = resolve(__dirname, '../node_modules/ssh2/lib/protocol/crypto/build/Release/sshcrypto.node');

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
export const line = (name: string, ours: number, peerName: string, peer: number) =>
  `${name}: flotilla ${ours.toFixed(0)} ms, ${peerName} ${peer.toFixed(0)} ms, ratio ${(ours / peer).toFixed(2)}`;

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
  const file = join(dir, `bench-${connectTimeout}.ssh_config`);
  writeFileSync(file, `Host *\n  ConnectTimeout ${connectTimeout}\n  BatchMode yes\n\n${extra}${original}`);
  return file;
}

/**
 * Runs `bench/<script> --child <args>` in a node whose require() of sshcrypto.node throws, and returns
 * the JSON it prints. The preload lives in a scratch dir made for this run.
 */
export async function pureJsChild<T>(script: string, args: string[]): Promise<{ result: T; note: string }> {
  const scratch = mkdtempSync(join(tmpdir(), 'flotilla-bench-'));
  const preload = join(scratch, 'no-native-ssh2.cjs');
  writeFileSync(preload, `const M = require('module'); const load = M._load;
M._load = function (request) {
  if (/sshcrypto\\.node$/.test(request)) { const e = new Error('blocked for the pure-JS benchmark'); e.code = 'MODULE_NOT_FOUND'; throw e; }
  return load.apply(this, arguments);
};\n`);
  try {
    const out = await new Promise<string>((res, rej) => {
      const child = spawn(process.execPath, [...process.execArgv, '--require', preload, join(__dirname, script), '--child', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text += d.toString()));
      child.on('error', rej);
      child.on('close', (code) => (code === 0 ? res(text) : rej(new Error(`${script} --child ${args.join(' ')} exited ${code}`))));
    });
    const last = out.trim().split('\n').pop()!;
    return { result: JSON.parse(last) as T, note: existsSync(NATIVE) ? 'pure-JS ssh2: sshcrypto.node present but blocked by a --require preload in the measuring process' : 'pure-JS ssh2: no sshcrypto.node built' };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** In the child: fail loudly if the native binding got loaded after all. */
export function assertPureJs(): void {
  if (Object.keys(require.cache).some((k) => k.endsWith('sshcrypto.node'))) throw new Error('sshcrypto.node was loaded');
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

export function benchPool(config: string): Pool {
  return new Pool({ resolve: (a) => resolveHost(a, { configFile: config }), prompter: refusingPrompter, env: { SSH_AUTH_SOCK: undefined }, connectTimeoutMs: 10_000 });
}

async function childMain(mode: string, config: string, hostsCsv: string, rounds: number): Promise<void> {
  const hosts = hostsCsv.split(',');
  const times: number[] = [];
  const check = (rec: Awaited<ReturnType<typeof startRun>['done']>) => {
    const bad = rec.results.filter((r) => r.state !== 'ok');
    if (bad.length) throw new Error(`not ok: ${bad.map((r) => `${r.host} ${r.state} ${r.reason ?? ''}`).join('; ')}`);
  };
  if (mode === 'warm') {
    const pool = benchPool(config);
    await Promise.all(hosts.map((h) => pool.connection(h)));
    for (let i = 0; i < 3; i++) check(await startRun(hosts, { command: 'true', origin: 'test' }, pool).done);
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now();
      check(await startRun(hosts, { command: 'true', origin: 'test' }, pool).done);
      times.push(performance.now() - t0);
    }
    await pool.dispose();
  } else {
    for (let i = 0; i < rounds + 1; i++) {
      const pool = benchPool(config);
      const t0 = performance.now();
      check(await startRun(hosts, { command: 'true', origin: 'test' }, pool).done);
      if (i > 0) times.push(performance.now() - t0); // first round warms the JIT and the key cache of the OS
      await pool.dispose();
    }
  }
  assertPureJs();
  process.stdout.write(JSON.stringify({ median: median(times), times }) + '\n');
}

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

export async function runExecBench(log: (s: string) => void = console.log): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-bench-exec-'));
  const lab = await startLabRetry({ hosts: 50, dir, plain: true });
  const cm = join(dir, 'cm');
  const hosts = Array.from({ length: 50 }, (_, i) => `lab-${i + 1}`);
  let mastersUp = false;
  try {
    const config = benchConfig(lab, dir, 5);
    const hostsFile = join(dir, 'pssh-hosts');
    writeFileSync(hostsFile, hosts.join('\n') + '\n');
    const ctlPath = `${cm}-%C`;
    const pssh = (extra: string) => run('parallel-ssh', ['-p', '50', '-t', '30', '-h', hostsFile, '-x', `-F ${config} ${extra}`, 'true'], { maxBuffer: 1 << 24 });

    // warm
    const warm = await pureJsChild<{ median: number }>('exec.ts', ['warm', config, hosts.join(','), '15']);
    mastersUp = true;
    await Promise.all(hosts.map((h) => run('ssh', ['-F', config, '-o', `ControlPath=${ctlPath}`, '-M', '-N', '-f', h])));
    await pssh(`-o ControlPath=${ctlPath} -o ControlMaster=no`);
    const peerWarm: number[] = [];
    for (let i = 0; i < 7; i++) peerWarm.push(await timeIt(() => pssh(`-o ControlPath=${ctlPath} -o ControlMaster=no`)));
    await Promise.all(hosts.map((h) => run('ssh', ['-F', config, '-o', `ControlPath=${ctlPath}`, '-O', 'exit', h]).catch(() => {})));
    mastersUp = false;
    log(`# ${warm.note}; peer: parallel-ssh -p 50 over 50 established OpenSSH ControlMasters; medians of 15 / 7 runs`);
    log(line('exec-warm-50', warm.result.median, 'parallel-ssh', median(peerWarm)));

    // cold
    const cold = await pureJsChild<{ median: number }>('exec.ts', ['cold', config, hosts.join(','), '5']);
    await pssh('-o KexAlgorithms=curve25519-sha256 -o ControlMaster=no -o ControlPath=none');
    const peerCold: number[] = [];
    for (let i = 0; i < 5; i++) peerCold.push(await timeIt(() => pssh('-o KexAlgorithms=curve25519-sha256 -o ControlMaster=no -o ControlPath=none')));
    log(`# cold: connect+auth+exec; flotilla (ssh2) negotiates curve25519-sha256, parallel-ssh forced to -o KexAlgorithms=curve25519-sha256 (OpenSSH's default sntrup761 is slower); medians of 5`);
    log(line('exec-cold-50', cold.result.median, 'parallel-ssh', median(peerCold)));
  } finally {
    if (mastersUp) await Promise.all(hosts.map((h) => run('ssh', ['-F', join(dir, 'bench-5.ssh_config'), '-o', `ControlPath=${cm}-%C`, '-O', 'exit', h]).catch(() => {})));
    await lab.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const main = args[0] === '--child' ? childMain(args[1]!, args[2]!, args[3]!, Number(args[4])) : runExecBench();
  main.then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
}
