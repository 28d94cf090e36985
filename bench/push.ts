// Push benchmark: flotilla vs `rsync -a` over ssh, 5 lab hosts in parallel, ~5,000 files / ~60 MB.
// Run: npx tsx bench/push.ts. The measurement runs in a child process whose preload blocks ssh2's native
// crypto binding (sshcrypto.node), because VS Code's extension host cannot load it: we measure pure-JS ssh2.
// flotilla pushes over pooled connections that are already open (as in the extension). rsync is measured twice:
// cold (a new OpenSSH connection per host per run, OpenSSH's default kex) — the `push-*` lines — and warm,
// over OpenSSH ControlMaster connections opened before timing — the `push-*-warm` lines — so that the
// transfer itself is compared with no connection setup on either side.
// `--cpu-prof DIR` also profiles warm first, no-op and one-file pushes and prints their top costs as
// `# profile` lines. What they showed (issue #20, 5 lab hosts on 2 cores, so the hosts' `find` and sshd
// share the CPU with Flotilla):
// - no-op / one-file: before, a third of Flotilla's samples were idle — the scan's promise readdir (a
//   thread-pool round trip per directory) and a new exec channel per host per push (on the host: session,
//   login shell, /bin/sh; ~4 ms CPU each); now the local scan's 5,054 lstat calls lead (~30-35 % of
//   samples, slowed by the hosts' finds on the same cores), then parsing the listings (~10-13 %) and the
//   diff (~9 %; the first diff against a fresh scan is the slowest), GC ~6-8 %. On the hosts, each
//   listing's `find -printf` costs ~18 ms CPU (~21 with the -name test it no longer runs on every entry;
//   rsync's walk does the same).
// - one-file (after the first repetition its edit keeps the file's size: a same-size change, content
//   compared): it used to wait, after the plan, for the kept SFTP channel's check, then statvfs, and for a
//   sha256sum process in the lock's shell: 10 profiled one-file pushes took 228 ms
//   each against 137 for a no-op. Now the channel and the free space are taken while the listing runs, and
//   a small same-size file is compared by its bytes over SFTP: ~104 ms against ~102.
// - first push: socket writev ~16-18 %, GC ~13-16 % (external-memory pressure, mostly ssh2's per-packet
//   buffers), AES-GCM (native) ~15-17 %, reading the files ~7 %, ssh2's channelData ~2 %; building the
//   tar chunks ~3 %.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CHILD_FLAG = '--push-bench-child';
const PROF_FLAG = '--cpu-prof';
const HOSTS = 5;
const REPEATS = 3;
/** No-op and one-file pushes run under the profiler with --cpu-prof (after the timed ones, not timed). */
const PROFILED_PUSHES = 10;

/** Runs `fn` under the V8 CPU profiler (this process only) and writes the .cpuprofile to `file`. */
async function profiled(file: string, fn: () => Promise<void>): Promise<void> {
  const session = new Session();
  session.connect();
  const post = (method: string) => new Promise<unknown>((res, rej) => session.post(method, (err, r) => (err ? rej(err) : res(r))));
  try {
    await post('Profiler.enable');
    await post('Profiler.start');
    await fn();
    const { profile } = (await post('Profiler.stop')) as { profile: unknown };
    writeFileSync(file, JSON.stringify(profile));
  } finally {
    session.disconnect();
  }
}

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

function rsyncAll(ssh: string, aliases: readonly string[], local: string, dest: string): Promise<void> {
  return Promise.all(aliases.map((alias) => new Promise<void>((resolve, reject) => {
    execFile('rsync', ['-a', '-e', ssh, `${local}/`, `${alias}:${dest}/`], (err, _out, stderr) =>
      (err ? reject(new Error(`rsync to ${alias}: ${stderr || err.message}`)) : resolve()));
  }))).then(() => undefined);
}

/** Runs ssh to completion; stdio is ignored because a ControlPersist master keeps inherited pipes open. */
function ssh(args: readonly string[]): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const child = spawn('ssh', args, { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ssh ${args.join(' ')} exited with ${code}`))));
  });
}

/** Counts of the key exchange and client→server cipher each sshd negotiated (its DEBUG1 log), for the header. */
function negotiated(labDir: string, aliases: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const alias of aliases) {
    const log = join(labDir, 'hosts', alias, 'sshd.log');
    if (!existsSync(log)) continue;
    for (const m of readFileSync(log, 'utf8').matchAll(/kex: (algorithm|client->server cipher): (\S+)/g)) {
      counts.set(m[2]!, (counts.get(m[2]!) ?? 0) + 1);
    }
  }
  return [...counts].map(([k, n]) => `${k} ×${n}`).join(', ') || 'unknown';
}

async function measure(cpuProf: string | undefined): Promise<string[]> {
  const { startLab } = await import('../test/lab/lab');
  const { resolveHost } = await import('../src/core/config/sshConfig');
  const { Pool } = await import('../src/core/ssh/pool');
  const { refusingPrompter } = await import('../src/core/types');
  const { push } = await import('../src/core/push/push');
  const { topCosts } = await import('./profile');
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
    const sshBase = `ssh -F ${lab.info.sshConfig} -o BatchMode=yes`;
    const controlPath = join(dir, 'cm-%C');
    const sshWarm = `${sshBase} -o ControlMaster=no -o ControlPath=${controlPath}`;
    await Promise.all(aliases.map((a) => ssh(['-F', lab.info.sshConfig, '-o', 'BatchMode=yes', '-o', 'ControlMaster=yes',
      '-o', 'ControlPersist=yes', '-o', `ControlPath=${controlPath}`, a, 'true'])));
    type Figures = { flotilla: number[]; rsync: number[]; warm: number[] };
    const first: Figures = { flotilla: [], rsync: [], warm: [] };
    const noop: Figures = { flotilla: [], rsync: [], warm: [] };
    const one: Figures = { flotilla: [], rsync: [], warm: [] };
    const profileLines: string[] = [];
    try {
      for (let rep = 0; rep < REPEATS; rep++) {
        // Fresh destination names every repetition (this ext4 is slow to refill a just-emptied tree; ssh-traps §6).
        const tag = `${rep}-${randomBytes(3).toString('hex')}`;
        const dests = { flotilla: `~/bench-flotilla-${tag}`, rsync: `~/bench-rsync-${tag}`, warm: `~/bench-rsyncwarm-${tag}` };
        const run = (who: keyof Figures) => (who === 'flotilla' ? flotillaPush(dests.flotilla)
          : rsyncAll(who === 'rsync' ? sshBase : sshWarm, aliases, local, dests[who]));
        const order: Array<keyof Figures> = (['flotilla', 'rsync', 'warm'] as const).map((_, i, all) => all[(i + rep) % all.length]!);
        for (const who of order) first[who].push(await timed(() => run(who)));
        for (const who of order) noop[who].push(await timed(() => run(who)));
        writeFileSync(join(local, 'src/m1/s1/f1.txt'), `changed ${rep} ${Date.now()}\n`);
        for (const who of order) one[who].push(await timed(() => run(who)));
      }
      if (cpuProf) {
        // Each warm kind again under the profiler (not timed): first pushes into fresh destinations, then
        // no-op and one-file pushes into the last of them.
        const fresh = () => `~/bench-flotilla-profile-${randomBytes(3).toString('hex')}`;
        let dest = fresh();
        const kinds = [
          ['push-first-warm', 2, async () => flotillaPush((dest = fresh()))],
          ['push-noop-warm', PROFILED_PUSHES, async () => flotillaPush(dest)],
          ['push-one-file-warm', PROFILED_PUSHES, async (i: number) => {
            writeFileSync(join(local, 'src/m1/s1/f1.txt'), `profiled ${i} ${Date.now()}\n`);
            await flotillaPush(dest);
          }],
        ] as const;
        for (const [name, pushes, once] of kinds) {
          mkdirSync(cpuProf, { recursive: true });
          const file = join(cpuProf, `${name}-${Date.now()}.cpuprofile`);
          await profiled(file, async () => { for (let i = 0; i < pushes; i++) await once(i); });
          for (const l of topCosts(file)) profileLines.push(`# profile ${name} (${pushes} pushes): ${l}`);
        }
      }
    } finally {
      await Promise.all(aliases.map((a) => ssh(['-o', `ControlPath=${controlPath}`, '-O', 'exit', a]).catch(() => undefined)));
    }
    const line = (name: string, m: Figures, against: 'rsync' | 'warm') => {
      const f = median(m.flotilla);
      const r = median(m[against]);
      return `${name}: flotilla ${Math.round(f)} ms, rsync ${Math.round(r)} ms, ratio ${(f / r).toFixed(2)}`;
    };
    lines.push(`# push: ${tree.files} files, ${(tree.bytes / 1e6).toFixed(1)} MB, ${HOSTS} hosts in parallel, median of ${REPEATS}; ` +
      `ssh2 ${nativeLoaded ? 'WITH native crypto binding' : 'pure JS (sshcrypto.node blocked)'}, pooled connections warm; ` +
      'push-*: rsync -a with a fresh OpenSSH connection per host per run; push-*-warm: rsync -a over ControlMaster ' +
      'connections opened before timing; fresh destination directories on ext4');
    lines.push(`# negotiated (sshd logs, all connections): ${negotiated(dir, aliases)}`);
    lines.push(line('push-first', first, 'rsync'), line('push-noop', noop, 'rsync'), line('push-one-file', one, 'rsync'));
    lines.push(line('push-first-warm', first, 'warm'), line('push-noop-warm', noop, 'warm'), line('push-one-file-warm', one, 'warm'));
    lines.push(...profileLines);
  } finally {
    await pool.dispose();
    await lab.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return lines;
}

/**
 * Runs the benchmark in a child process with the native ssh2 crypto binding blocked; returns its figure lines.
 * `cpuProf`: a directory; warm no-op and one-file pushes are then also profiled and their top costs printed.
 */
export async function runPushBench(cpuProf?: string): Promise<string[]> {
  const preloadDir = mkdtempSync(join(tmpdir(), 'flotilla-bench-preload-'));
  const preload = join(preloadDir, 'block-sshcrypto.cjs');
  writeFileSync(preload, BLOCK_NATIVE_CRYPTO);
  const self = fileURLToPath(import.meta.url);
  const tsx = createRequire(import.meta.url).resolve('tsx');
  try {
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--require', preload, '--import', tsx, self, CHILD_FLAG, ...(cpuProf ? [PROF_FLAG, cpuProf] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
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
const argAfter = (flag: string) => { const i = process.argv.indexOf(flag); return i < 0 ? undefined : process.argv[i + 1]; };
if (isMain && process.argv.includes(CHILD_FLAG)) {
  measure(argAfter(PROF_FLAG)).then((lines) => { for (const l of lines) process.stdout.write(`${l}\n`); }, (err) => { console.error(err); process.exit(1); });
} else if (isMain) {
  runPushBench(argAfter(PROF_FLAG)).then((lines) => { for (const l of lines) console.log(l); }, (err) => { console.error(err); process.exit(1); });
}
