// The flotilla CLI as a real process: bundled like dist/cli.js into a scratch dir, run with node.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import * as esbuild from 'esbuild';

export interface CliResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number }

export async function bundleCli(dir: string): Promise<string> {
  const cli = join(dir, 'cli.js');
  await esbuild.build({
    entryPoints: ['src/cli/main.ts'], outfile: cli, bundle: true, platform: 'node', target: 'node20', format: 'cjs',
    logLevel: 'warning', external: ['vscode', 'cpu-features', './crypto/build/Release/sshcrypto.node'],
  });
  return cli;
}

export interface SpawnCliOptions {
  onSpawn?: (pid: number) => void;
  stdin?: string;
  env?: Record<string, string>;
}

export function spawnCli(cli: string, args: readonly string[], opts: SpawnCliOptions = {}): Promise<CliResult> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], {
      stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, SSH_AUTH_SOCK: '', FLOTILLA_SSH_CONFIG: '', ...opts.env },
    });
    if (opts.stdin !== undefined) child.stdin!.end(opts.stdin);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 }));
    opts.onSpawn?.(child.pid!);
  });
}
