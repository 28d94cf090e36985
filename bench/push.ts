// Push benchmark: flotilla vs `rsync -a` over ssh, 5 lab hosts in parallel, ~5,000 files / ~60 MB.
// Run: npx tsx bench/push.ts. The measurement runs in a child process whose preload blocks ssh2's native
// crypto binding (sshcrypto.node), because VS Code's extension host cannot load it: we measure pure-JS ssh2.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CHILD_FLAG = '--push-bench-child';
const HOSTS = 5;
const REPEATS = 3;

/** CommonJS preload: any require of sshcrypto.node fails, so ssh2 falls back to its pure-JS paths. */
const BLOCK_NATIVE_CRYPTO = `
const Module = require('module');
const load = Module._load;
Module._load = function (request, parent, isMain) {
  if (/sshcrypto\\.node$/.test(request)) throw new Error('native ssh2 crypto disabled for the benchmark');
  return load.call(this, request, parent, isMain);
};
`;

function generateTree(root: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  const add = (rel: string, size: number) => {
    const path = join(root, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, randomBytes(size));
    files++;
    bytes += size;
  };
  // Source-tree-like mix: many small files, some medium, a few large.
  for (let i = 0; i < 4000; i++) add(`src/m${i % 40}/s${i % 8}/f${i}.txt`, 512 + ((i * 7919) % 6144));
  for (let i = 0; i < 960; i++) add(`assets/a${i % 12}/img${i}.bin`, 16_384 + ((i * 104_729) % 49_152));
  for (let i = 0; i < 40; i++) add(`vendor/blob${i}.bin`, 128 * 1024 + ((i * 15_485_863) % (256 * 1024)));
  return { files, bytes };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

function rsyncAll(sshConfig: string, aliases: readonly string[], local: string, dest: string): Promise<void> {
  return Promise.all(aliases.map((alias) => new Promise<void>((resolve, reject) => {
    execFile('rsync', ['-a', '-e', `ssh -F ${sshConfig} -o BatchMode=yes`, `${local}/`, `${alias}:${dest}/`], (err, _out, stderr) =>
      (err ? reject(new Error(`rsync to ${alias}: ${stderr || err.message}`)) : resolve()));
  }))).then(() => undefined);
}

async function measure(): Promise<string[]> {
  const { startLab } = await import('../test/lab/lab');
  const { resolveHost } = await import('../src/core/config/sshConfig');
  const { Pool } = await import('../src/core/ssh/pool');
  const { refusingPrompter } = await import('../src/core/types');
  const { push } = await import('../src/core/push/push');
  const nativeLoaded = Object.keys(createRequire(import.meta.url).cache).some((k) => k.endsWith('sshcrypto.node'));

  const dir = mkdtempSync(join(tmpdir(), 'flotilla-bench-push-'));
  const lab = await startLab({ dir, hosts: HOSTS, plain: true, isolated: true });
  const pool = new Pool({
    resolve: (alias) => resolveHost(alias, { configFile: lab.info.sshConfig }),
    prompter: refusingPrompter,
    env: { SSH_AUTH_SOCK: undefined },
  });
  const aliases = lab.info.hosts.map((h) => h.alias);
  const local = join(dir, 'workspace');
  const lines: string[] = [];
  try {
    const tree = generateTree(local);
    // Warm pooled connections, as in the extension (the pool lives as long as the window).
    await Promise.all(aliases.map((a) => pool.connection(a)));
    const flotillaPush = async (dest: string) => {
      const run = await push(pool, aliases, local, dest);
      const bad = run.results!.filter((r) => r.state !== 'ok');
      if (bad.length) throw new Error(`flotilla push failed: ${JSON.stringify(bad.map((b) => [b.host, b.state, b.reason]))}`);
    };
    const first = { flotilla: [] as number[], rsync: [] as number[] };
    const noop = { flotilla: [] as number[], rsync: [] as number[] };
    const one = { flotilla: [] as number[], rsync: [] as number[] };
    for (let rep = 0; rep < REPEATS; rep++) {
      // Fresh destination names every repetition (this ext4 is slow to refill a just-emptied tree; ssh-traps §6).
      const fDest = `~/bench-flotilla-${rep}-${randomBytes(3).toString('hex')}`;
      const rDest = `~/bench-rsync-${rep}-${randomBytes(3).toString('hex')}`;
      const order = rep % 2 === 0 ? ['flotilla', 'rsync'] : ['rsync', 'flotilla'];
      for (const who of order) {
        if (who === 'flotilla') first.flotilla.push(await timed(() => flotillaPush(fDest)));
        else first.rsync.push(await timed(() => rsyncAll(lab.info.sshConfig, aliases, local, rDest)));
      }
      noop.flotilla.push(await timed(() => flotillaPush(fDest)));
      noop.rsync.push(await timed(() => rsyncAll(lab.info.sshConfig, aliases, local, rDest)));
      writeFileSync(join(local, 'src/m1/s1/f1.txt'), `changed ${rep} ${Date.now()}\n`);
      one.flotilla.push(await timed(() => flotillaPush(fDest)));
      one.rsync.push(await timed(() => rsyncAll(lab.info.sshConfig, aliases, local, rDest)));
    }
    const line = (name: string, m: { flotilla: number[]; rsync: number[] }) => {
      const f = median(m.flotilla);
      const r = median(m.rsync);
      return `${name}: flotilla ${Math.round(f)} ms, rsync ${Math.round(r)} ms, ratio ${(f / r).toFixed(2)}`;
    };
    lines.push(`# push: ${tree.files} files, ${(tree.bytes / 1e6).toFixed(1)} MB, ${HOSTS} hosts in parallel, median of ${REPEATS}; ` +
      `ssh2 ${nativeLoaded ? 'WITH native crypto binding' : 'pure JS (sshcrypto.node blocked)'}, pooled connections warm; ` +
      'rsync -a with a fresh OpenSSH connection per host per run (default kex); fresh destination directories on ext4');
    lines.push(line('push-first', first), line('push-noop', noop), line('push-one-file', one));
  } finally {
    await pool.dispose();
    await lab.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return lines;
}

/** Runs the benchmark in a child process with the native ssh2 crypto binding blocked; returns its figure lines. */
export async function runPushBench(): Promise<string[]> {
  const preloadDir = mkdtempSync(join(tmpdir(), 'flotilla-bench-preload-'));
  const preload = join(preloadDir, 'block-sshcrypto.cjs');
  writeFileSync(preload, BLOCK_NATIVE_CRYPTO);
  const self = fileURLToPath(import.meta.url);
  const tsx = createRequire(import.meta.url).resolve('tsx');
  try {
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--require', preload, '--import', tsx, self, CHILD_FLAG], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      child.once('error', reject);
      child.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`push benchmark child exited with ${code}`))));
    });
    return output.split('\n').filter((l) => l.trim() !== '');
  } finally {
    rmSync(preloadDir, { recursive: true, force: true });
  }
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain && process.argv.includes(CHILD_FLAG)) {
  measure().then((lines) => { for (const l of lines) process.stdout.write(`${l}\n`); }, (err) => { console.error(err); process.exit(1); });
} else if (isMain) {
  runPushBench().then((lines) => { for (const l of lines) console.log(l); }, (err) => { console.error(err); process.exit(1); });
}
