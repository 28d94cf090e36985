// Push against real sshd hosts, for what can go wrong around a push: destinations the plan must predict as
// failing (no permission, too little space), nested and single-file destinations, two pushes to one
// destination at once, a disk that fills during the push, a push killed with SIGKILL, a BusyBox-style host
// without `sha256sum -z`, sub-second mtimes and --checksum. Two isolated hosts (own /home each); small
// filesystems and tool shims are mounted inside one host's own mount namespace only.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, readlinkSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { itemizedFromPlan, type HostPushResult } from '../../src/core/push/apply';
import { isMetadataOnly } from '../../src/core/push/plan';
import { applySession, planSession, push, type PushEvent } from '../../src/core/push/push';
import type { Pool } from '../../src/core/ssh/pool';
import { bundleCli, spawnCli } from './cliProcess';
import { countingChannels } from './countingPool';
import { startFleet, waitUntil, type TestFleet } from './fleet';

const canRunLab = process.getuid?.() === 0;
const HOSTS = ['lab-1', 'lab-2'];
const run = promisify(execFile);

let fleet: TestFleet;
let pool: Pool;
let base: string;
let local: string;
let tag: string;
let flotilla: { uid: number; gid: number };

const hostOf = (alias: string) => fleet.lab.info.hosts.find((h) => h.alias === alias)!;
/** `~flotilla` of a host, as this machine sees it (outside that host's extra mounts). */
const home = (alias: string) => join(hostOf(alias).isolatedHome!, 'flotilla');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function sshdPid(alias: string): string {
  const config = join(dirname(hostOf(alias).sshdLog!), 'sshd_config');
  // sshd rewrites its process title, but the title keeps the -f argument.
  const pid = readdirSync('/proc').filter((n) => /^\d+$/.test(n)).find((p) => {
    try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').includes(` ${config}`); } catch { return false; }
  });
  if (!pid) throw new Error(`no sshd for ${alias}`);
  return pid;
}

/** Processes in a host's mount namespace whose command line contains `text`. */
function processesIn(alias: string, text: string): string[] {
  const ns = readlinkSync(`/proc/${sshdPid(alias)}/ns/mnt`);
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).filter((p) => {
    try { return readlinkSync(`/proc/${p}/ns/mnt`) === ns && readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(text); } catch { return false; }
  });
}

/** A shell command inside a host's mount namespace (where its private mounts are visible). */
function inHost(alias: string, script: string): string {
  return execFileSync('nsenter', ['-t', sshdPid(alias), '-m', '--', 'sh', '-c', script]).toString();
}

function put(root: string, rel: string, content: string | Buffer): void {
  mkdirSync(join(root, rel, '..'), { recursive: true });
  writeFileSync(join(root, rel), content);
}

/** Every regular file under a directory: rel path → sha256. */
function tree(dir: string, rel = ''): Map<string, string> {
  const out = new Map<string, string>();
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const r = rel ? `${rel}/${name}` : name;
    const st = lstatSync(p);
    if (st.isDirectory()) for (const [k, v] of tree(p, r)) out.set(k, v);
    else if (st.isFile()) out.set(r, sha(readFileSync(p)));
  }
  return out;
}

/** Builds a local tree of `n` files under `root` (sizes vary), returns rel → sha256. */
function makeTree(root: string, n: number, seed: string, sizeOf = (i: number) => 200 + (i * 37) % 3000): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < n; i++) {
    const rel = `d${i % 20}/f${i}.txt`;
    const data = Buffer.concat([Buffer.from(`${seed} ${i}\n`), randomBytes(sizeOf(i))]);
    put(root, rel, data);
    out.set(rel, sha(data));
  }
  return out;
}

function mountTmpfs(alias: string, rel: string, size: string): void {
  inHost(alias, `mkdir -p /home/flotilla/${rel} && mount -t tmpfs -o size=${size},mode=0755,uid=${flotilla.uid},gid=${flotilla.gid} tmpfs /home/flotilla/${rel}`);
}

describe.skipIf(!canRunLab)('push safety (lab)', () => {
  beforeAll(async () => {
    fleet = await startFleet({ hosts: 2, plain: true, isolated: true });
    pool = fleet.pool();
    flotilla = {
      uid: Number(execFileSync('id', ['-u', 'flotilla']).toString().trim()),
      gid: Number(execFileSync('id', ['-g', 'flotilla']).toString().trim()),
    };
  });
  afterAll(async () => {
    await fleet?.stop();
  });
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'flotilla-push-safety-'));
    chmodSync(base, 0o755);
    local = join(base, 'ws');
    mkdirSync(local);
    tag = randomBytes(3).toString('hex');
  });

  it('the dry run predicts the apply: an unwritable destination and a too-small filesystem fail per host, nothing is written', async () => {
    makeTree(local, 20, 'a', () => 64 * 1024);
    mountTmpfs('lab-2', `small-${tag}`, '512k');

    const denied = await push(pool, HOSTS, local, `/etc/flot-${tag}`, { dryRun: true });
    for (const plan of denied.plans) {
      expect(plan.fatal, plan.host).toMatch(/cannot create \/etc\/flot-.*: \/etc is not writable by the login user/);
      expect(plan.create.length).toBe(40); // still shows what it would have sent
    }
    const small = await push(pool, HOSTS, local, `~/small-${tag}/proj`, { dryRun: true });
    const [one, two] = small.plans;
    expect(one!.fatal).toBeUndefined();
    expect(one!.parents).toEqual([`/home/flotilla/small-${tag}`]);
    expect(two!.fatal).toMatch(/not enough space on \/home\/flotilla\/small-.*: the push needs about [\d.]+ MiB, 512\.0 KiB free/);

    // The real pushes fail the same way, before writing anything there.
    const real = await push(pool, HOSTS, local, `/etc/flot-${tag}`);
    expect(real.results!.map((r) => r.state)).toEqual(['failed', 'failed']);
    expect(real.results![0]!.reason).toMatch(/not writable/);
    for (const h of HOSTS) expect(inHost(h, `ls -A /etc | grep -c flot-${tag} || true`).trim()).toBe('0');
    const realSmall = await push(pool, HOSTS, local, `~/small-${tag}/proj`);
    expect(realSmall.results!.map((r) => r.state)).toEqual(['ok', 'failed']);
    expect(inHost('lab-2', `ls -A /home/flotilla/small-${tag}`).trim()).toBe('');
    expect(tree(join(home('lab-1'), `small-${tag}/proj`)).size).toBe(20);
  });

  it('an update too big for its filesystem fails in the plan, on the free space the kept SFTP channel measured during the listing; without a kept channel the apply measures it first; nothing is written', async () => {
    mountTmpfs('lab-2', `tiny-${tag}`, '1m');
    makeTree(local, 3, 't');
    const dest = `~/tiny-${tag}/proj`;
    const own = fleet.pool();
    try {
      expect((await push(own, ['lab-2'], local, dest)).results![0]!.state).toBe('ok'); // SFTP path: its channel is kept
      put(local, 'd0/big.bin', randomBytes(2 * 1024 * 1024));
      const { counting, opened } = countingChannels(own);
      const kept = await push(counting, ['lab-2'], local, dest);
      expect(kept.plans[0]!.fatal).toMatch(/not enough space on \/home\/flotilla\/tiny-.*\/proj: the push needs about 2\.\d MiB, [\d.]+ KiB free/);
      expect(kept.results![0]!.state).toBe('failed');
      // The listing shell and the SFTP channel the first push kept; no channel opened.
      expect(opened).toEqual({ sftp: 0, exec: 0, reused: 2 });
    } finally {
      await own.dispose();
    }
    const fresh = fleet.pool();
    try {
      const cold = await push(fresh, ['lab-2'], local, dest);
      expect(cold.plans[0]!.fatal).toBeUndefined(); // no kept channel: the listing did not measure
      expect(cold.results![0]!.state).toBe('failed');
      expect(cold.results![0]!.reason).toMatch(/not enough space on \/home\/flotilla\/tiny-.*\/proj/);
    } finally {
      await fresh.dispose();
    }
    expect(inHost('lab-2', `find /home/flotilla/tiny-${tag} -name '*big*' | wc -l`).trim()).toBe('0');
  });

  it('nested destinations are created (mkdir -p); a single file goes into a directory or to its own path, per host', async () => {
    makeTree(local, 70, 'n');
    const nested = await push(pool, HOSTS, local, `~/n-${tag}/a/b/c`);
    for (const [i, h] of HOSTS.entries()) {
      expect(nested.results![i]!.state, nested.results![i]!.reason).toBe('ok');
      expect(tree(join(home(h), `n-${tag}/a/b/c`)).size).toBe(70);
      expect(statSync(join(home(h), `n-${tag}/a`)).mode & 0o777).toBe(0o755); // umask 022 of the login
    }
    const smallTree = join(base, 'small');
    makeTree(smallTree, 3, 's');
    const viaSftp = await push(pool, HOSTS, smallTree, `~/n2-${tag}/x/y`); // the SFTP path creates parents too
    expect(viaSftp.results!.map((r) => r.state)).toEqual(['ok', 'ok']);

    const file = join(base, 'one.txt');
    writeFileSync(file, 'one file\n');
    const intoDir = await push(pool, HOSTS, file, `~/f-${tag}/inbox/`);
    expect(intoDir.results!.map((r) => r.state)).toEqual(['ok', 'ok']);
    expect(readFileSync(join(home('lab-1'), `f-${tag}/inbox/one.txt`), 'utf8')).toBe('one file\n');
    const asPath = await push(pool, HOSTS, file, `~/f-${tag}/etc/renamed.conf`);
    expect(asPath.results!.map((r) => r.state)).toEqual(['ok', 'ok']);
    expect(readFileSync(join(home('lab-2'), `f-${tag}/etc/renamed.conf`), 'utf8')).toBe('one file\n');
    // REMOTE exists as a directory on lab-1 only: the file goes into it there, and to that path on lab-2.
    mkdirSync(join(home('lab-1'), `mixed-${tag}`));
    execFileSync('chown', [`${flotilla.uid}:${flotilla.gid}`, join(home('lab-1'), `mixed-${tag}`)]);
    const mixed = await push(pool, HOSTS, file, `~/mixed-${tag}`);
    expect(mixed.results!.map((r) => r.state)).toEqual(['ok', 'ok']);
    expect(readFileSync(join(home('lab-1'), `mixed-${tag}/one.txt`), 'utf8')).toBe('one file\n');
    expect(readFileSync(join(home('lab-2'), `mixed-${tag}`), 'utf8')).toBe('one file\n');
    const again = await push(pool, HOSTS, file, `~/mixed-${tag}`, { dryRun: true });
    for (const p of again.plans) expect(itemizedFromPlan(p)).toEqual({ create: [], update: [], delete: [] });
  });

  /** Two pushes of trees A and B to one destination; B starts when `startB` says so. */
  async function concurrent(dest: string, startB: (e: PushEvent, start: () => void) => void) {
    const a = join(base, `A-${randomBytes(2).toString('hex')}`);
    const b = join(base, `B-${randomBytes(2).toString('hex')}`);
    const treeA = makeTree(a, 600, 'A');
    const treeB = makeTree(b, 600, 'B', (i) => 100 + (i * 53) % 2000);
    for (let i = 0; i < 200; i++) put(b, `only-b/g${i}.txt`, `b ${i}`), treeB.set(`only-b/g${i}.txt`, sha(Buffer.from(`b ${i}`)));
    const order: string[] = [];
    let resolveB!: (r: Promise<Awaited<ReturnType<typeof push>>>) => void;
    const bStarted = new Promise<Promise<Awaited<ReturnType<typeof push>>>>((r) => { resolveB = r; });
    let started = false;
    const start = () => {
      if (started) return;
      started = true;
      resolveB(push(pool, ['lab-1'], b, dest, { on: (e) => { if (e.kind === 'applied') order.push('B'); } }));
    };
    const runA = push(pool, ['lab-1'], a, dest, { on: (e) => { if (e.kind === 'applied') order.push('A'); startB(e, start); } });
    const resA = await runA;
    start();
    const resB = await (await bStarted);
    return { treeA, treeB, resA: resA.results![0]!, resB: resB.results![0]!, order };
  }

  /** Honest outcomes: every push that says ok left its whole tree (the later one wins shared names). */
  function checkOutcome(dest: string, r: Awaited<ReturnType<typeof concurrent>>) {
    const remoteTree = tree(join(home('lab-1'), dest.slice(2)));
    expect([...remoteTree.keys()].filter((k) => k.includes('.flotilla-tmp-'))).toEqual([]);
    const [first, second] = r.order[0] === 'A' ? [r.treeA, r.treeB] : [r.treeB, r.treeA];
    const [firstRes, secondRes] = r.order[0] === 'A' ? [r.resA, r.resB] : [r.resB, r.resA];
    for (const res of [r.resA, r.resB]) expect(['ok', 'failed']).toContain(res.state);
    if (secondRes.state === 'ok') for (const [k, v] of second) expect(remoteTree.get(k), `later push's ${k}`).toBe(v);
    if (firstRes.state === 'ok') for (const [k, v] of first) if (!second.has(k) || secondRes.state !== 'ok') expect(remoteTree.get(k), `first push's ${k}`).toBe(v);
    expect(r.resA.state === 'ok' || r.resB.state === 'ok').toBe(true);
  }

  it('two concurrent first pushes of different trees to one new destination, at several offsets: one whole tree, honest outcomes', async () => {
    const offsets: Array<[string, (e: PushEvent, start: () => void) => void]> = [
      ['together', (_e, start) => start()],
      ['when A holds the lock', (e, start) => { if (e.kind === 'planned') start(); }],
      ['when A is half sent', (e, start) => { if (e.kind === 'progress' && e.done >= e.total / 2) start(); }],
    ];
    for (const [name, startB] of offsets) {
      const dest = `~/race-${tag}-${offsets.findIndex(([n]) => n === name)}`;
      const r = await concurrent(dest, startB);
      expect(r.resA.state, `${name}: A ${r.resA.reason}`).toBe('ok');
      expect(r.resB.state, `${name}: B ${r.resB.reason}`).toBe('ok');
      checkOutcome(dest, r);
    }
  });

  it('two concurrent update pushes of different trees to one destination: whole trees, honest outcomes', async () => {
    const dest = `~/race-upd-${tag}`;
    const first = join(base, 'C');
    makeTree(first, 600, 'C');
    expect((await push(pool, ['lab-1'], first, dest)).results![0]!.state).toBe('ok');
    for (const [name, startB] of [
      ['together', (_e: PushEvent, start: () => void) => start()],
      ['when A is a quarter sent', (e: PushEvent, start: () => void) => { if (e.kind === 'progress' && e.done >= e.total / 4) start(); }],
    ] as const) {
      const r = await concurrent(dest, startB);
      expect(r.resA.state, `${name}: A ${r.resA.reason}`).toBe('ok');
      expect(r.resB.state, `${name}: B ${r.resB.reason}`).toBe('ok');
      checkOutcome(dest, r);
    }
  });

  it('a remote filesystem that fills during the push is one clear error per host, with bounded output (tar and SFTP paths)', async () => {
    mountTmpfs('lab-2', `full-${tag}`, '8m');
    makeTree(local, 80, 'full', () => 64 * 1024);
    const fill = () => inHost('lab-2', `dd if=/dev/zero of=/home/flotilla/full-${tag}/filler bs=64k 2>/dev/null; true`);
    let filled = false;
    const onFirstChunk = (e: PushEvent) => { if (!filled && e.kind === 'progress' && e.host === 'lab-2') { filled = true; fill(); } };
    const check = (r: HostPushResult) => {
      expect(r.state, `${r.reason} ${JSON.stringify(r.results.filter((x) => !x.ok).slice(0, 3))}`).toBe('failed');
      expect(r.reason).toMatch(/remote filesystem full \(no space left on device\)/);
      expect(JSON.stringify({ ...r, applied: undefined }).length).toBeLessThan(16 * 1024);
      expect(new Set(r.results.map((x) => x.error)).size).toBeLessThanOrEqual(2);
    };
    const first = await push(pool, ['lab-2'], local, `~/full-${tag}/proj`, { on: onFirstChunk });
    expect(filled).toBe(true);
    check(first.results![0]!);
    expect(inHost('lab-2', `ls -A /home/flotilla/full-${tag}`).trim()).toBe('filler'); // no half tree, no staging

    inHost('lab-2', `rm -f /home/flotilla/full-${tag}/filler`);
    expect((await push(pool, ['lab-2'], local, `~/full-${tag}/proj`)).results![0]!.state).toBe('ok');
    // 20 files change: the SFTP update path, one file at a time so the disk fills between two of them.
    for (let i = 0; i < 20; i++) put(local, `d${i % 20}/f${i}.txt`, randomBytes(64 * 1024));
    filled = false;
    const update = await push(pool, ['lab-2'], local, `~/full-${tag}/proj`, { on: onFirstChunk, window: 1 });
    expect(filled).toBe(true);
    check(update.results![0]!);
    const names = inHost('lab-2', `find /home/flotilla/full-${tag}/proj -name '*.flotilla-tmp-*' | wc -l`).trim();
    expect(names).toBe('0'); // failed uploads removed their temp files
  });

  it('SIGKILL mid-push of 2,000 files: no final file with partial content; the dry run shows leftovers; a re-push converges', async () => {
    const dest = `~/killed-${tag}`;
    const old = makeTree(local, 2000, 'old', (i) => 300 + (i % 13) * 100);
    expect((await push(pool, ['lab-1'], local, dest)).results![0]!.state).toBe('ok');
    const fresh = makeTree(local, 2000, 'new', (i) => 350 + (i % 11) * 150);

    const code = `
      const load = async (p) => { const m = await import(p); return m.default ?? m; };
      const { push } = await load(${JSON.stringify(join(__dirname, '../../src/core/push/push.ts'))});
      const { Pool } = await load(${JSON.stringify(join(__dirname, '../../src/core/ssh/pool.ts'))});
      const { resolveHost } = await load(${JSON.stringify(join(__dirname, '../../src/core/config/sshConfig.ts'))});
      const { refusingPrompter } = await load(${JSON.stringify(join(__dirname, '../../src/core/types.ts'))});
      const pool = new Pool({ resolve: (a) => resolveHost(a, { configFile: ${JSON.stringify(fleet.lab.info.sshConfig)} }), prompter: refusingPrompter, env: { SSH_AUTH_SOCK: undefined } });
      await push(pool, ['lab-1'], ${JSON.stringify(local)}, ${JSON.stringify(dest)}, { window: 8, on: (e) => { if (e.kind === 'progress') process.stdout.write('progress ' + e.done + '\\n'); } });
      process.stdout.write('finished\\n');
    `;
    const tsx = join(__dirname, '../../node_modules/.bin/tsx');
    // Its own process group: tsx runs node as a child, and the whole client must die at once.
    const child = spawn(tsx, ['--eval', `(async () => { ${code} })()`], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
    const exited = new Promise((r) => child.once('exit', r));
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const done = [...out.matchAll(/progress (\d+)/g)].map((m) => Number(m[1]));
        if (done.length && done[done.length - 1]! >= 600) { process.kill(-child.pid!, 'SIGKILL'); resolve(); }
        if (out.includes('finished')) reject(new Error('the push finished before it could be killed'));
      });
      child.once('exit', () => resolve());
    });
    await exited;
    // The killed client's sftp-server may still finish a request or two: wait until lab-1 has none left.
    await waitUntil(() => processesIn('lab-1', 'sftp-server').length === 0, 15_000, 'the killed push\'s sftp-server to exit');

    const after = tree(join(home('lab-1'), dest.slice(2)));
    const temps = [...after.keys()].filter((k) => k.includes('.flotilla-tmp-'));
    let updated = 0;
    for (const [rel, hash] of after) {
      if (rel.includes('.flotilla-tmp-')) continue;
      expect([old.get(rel), fresh.get(rel)], rel).toContain(hash); // whole old or whole new, never a mix
      if (hash === fresh.get(rel)) updated++;
    }
    expect(updated).toBeGreaterThan(0);
    expect(updated).toBeLessThan(2000);
    expect(temps.length).toBeGreaterThan(0); // in-flight uploads of the killed client
    const dry = await push(pool, ['lab-1'], local, dest, { dryRun: true });
    expect([...dry.plans[0]!.leftovers].sort(), JSON.stringify(temps)).toEqual(temps.sort());
    // The lock of the killed push is released by its remote shell when the connection drops: no waiting.
    const again = await push(pool, ['lab-1'], local, dest, { lockWaitSeconds: 10 });
    expect(again.results![0]!.state, again.results![0]!.reason).toBe('ok');
    const final = tree(join(home('lab-1'), dest.slice(2)));
    expect(final).toEqual(fresh);
    const quiet = await push(pool, ['lab-1'], local, dest, { dryRun: true });
    expect(itemizedFromPlan(quiet.plans[0]!)).toEqual({ create: [], update: [], delete: [] });
    expect(quiet.plans[0]!.leftovers).toEqual([]);
  });

  it('a BusyBox-style host without `sha256sum -z` still gets a no-op re-push of touched files (and says which check it used)', async () => {
    const lab = fleet.lab.info.dir;
    copyFileSync('/usr/bin/sha256sum', join(lab, `real-sha256sum-${tag}`));
    writeFileSync(join(lab, `sha256sum-${tag}`), `#!/bin/sh\nfor a; do [ "$a" = -z ] && { echo "sha256sum: unrecognized option: z" >&2; exit 1; }; done\nexec ${join(lab, `real-sha256sum-${tag}`)} "$@"\n`, { mode: 0o755 });
    inHost('lab-2', `mount --bind ${join(lab, `sha256sum-${tag}`)} /usr/bin/sha256sum`);
    try {
      expect(() => inHost('lab-2', 'printf x | sha256sum -z')).toThrow();
      makeTree(local, 30, 'bb');
      const dest = `~/bb-${tag}`;
      expect((await push(pool, HOSTS, local, dest)).results!.map((r) => r.state)).toEqual(['ok', 'ok']);
      const later = Date.now() / 1000 + 100;
      for (const rel of tree(local).keys()) utimesSync(join(local, rel), later, later);
      const dry = await push(pool, HOSTS, local, dest, { dryRun: true });
      expect(dry.plans.map((p) => p.contentCheck)).toEqual(['sha256sum -z', 'sha256sum']);
      for (const p of dry.plans) {
        expect(p.update.filter((i) => i.type === 'file').length).toBe(30);
        expect(p.update.every((i) => isMetadataOnly(i)), p.host).toBe(true);
      }
      const real = await push(pool, HOSTS, local, dest);
      expect(real.results!.map((r) => [r.state, r.bytes])).toEqual([['ok', 0], ['ok', 0]]);
      const quiet = await push(pool, HOSTS, local, dest, { dryRun: true });
      for (const p of quiet.plans) expect(itemizedFromPlan(p)).toEqual({ create: [], update: [], delete: [] });
    } finally {
      inHost('lab-2', 'umount /usr/bin/sha256sum');
    }
  });

  it('a same-size change within the same second is re-sent (sub-second mtimes); --checksum finds a remote edit size+mtime cannot see', async () => {
    const dest = `~/mt-${tag}`;
    put(local, 'a.txt', 'version 1');
    const t = Math.floor(Date.now() / 1000) - 50;
    utimesSync(join(local, 'a.txt'), t + 0.2, t + 0.2);
    expect((await push(pool, ['lab-1'], local, dest)).results![0]!.state).toBe('ok');
    const remoteFile = join(home('lab-1'), `mt-${tag}/a.txt`);
    const localNs = () => statSync(join(local, 'a.txt'), { bigint: true }).mtimeNs;
    expect(statSync(remoteFile, { bigint: true }).mtimeNs).toBe(localNs());
    put(local, 'a.txt', 'version 2');
    utimesSync(join(local, 'a.txt'), t + 0.7, t + 0.7);
    const dry = await push(pool, ['lab-1'], local, dest, { dryRun: true });
    expect(dry.plans[0]!.update.map((i) => [i.path, !!i.changes.content])).toEqual([['a.txt', true]]);
    await push(pool, ['lab-1'], local, dest);
    expect(readFileSync(remoteFile, 'utf8')).toBe('version 2');

    // Someone edits the remote copy and puts its mtime back: only --checksum notices.
    writeFileSync(remoteFile, 'version X');
    const ns = localNs();
    await run('touch', ['-m', '-d', `@${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`, remoteFile]);
    expect(itemizedFromPlan((await push(pool, ['lab-1'], local, dest, { dryRun: true })).plans[0]!).update).toEqual([]);
    const paranoid = await push(pool, ['lab-1'], local, dest, { dryRun: true, checksum: true });
    expect(paranoid.plans[0]!.update.map((i) => [i.path, !!i.changes.content])).toEqual([['a.txt', true]]);
  });

  it('the editor flow (plan, then apply) re-checks local files and refuses a destination that changed since the plan', async () => {
    makeTree(local, 10, 'ed');
    const dest = `~/ed-${tag}`;
    const session = await planSession(pool, HOSTS, local, dest);
    put(local, 'late.txt', 'late');
    const refused = await applySession(pool, session);
    expect(refused).toEqual({ kind: 'local-changed', paths: ['late.txt'] });
    const session2 = await planSession(pool, HOSTS, local, dest, { delete: true, allowMassDelete: true });
    put(home('lab-1'), `ed-${tag}/extra.txt`, 'someone else');
    execFileSync('chown', ['-R', `${flotilla.uid}:${flotilla.gid}`, join(home('lab-1'), `ed-${tag}`)]);
    const applied = await applySession(pool, session2);
    expect(applied.kind).toBe('applied');
    if (applied.kind !== 'applied') return;
    expect(applied.results[0]!.state).toBe('failed');
    expect(applied.results[0]!.reason).toMatch(/the destination changed since the plan \(extra\.txt\); nothing was written/);
    expect(applied.results[1]!.state).toBe('ok');
  });

  it('CLI: `push TARGET FILE REMOTE` with the single-file REMOTE rules, --checksum, and the plan\'s failures in --json', async () => {
    const cli = await bundleCli(base);
    const flotilla = (args: string[]) => spawnCli(cli, ['--ssh-config', fleet.lab.info.sshConfig, '--history-dir', join(base, 'history'), ...args], { env: { FLOTILLA_GROUPS: join(base, 'none.yaml') } });
    const file = join(base, 'app.conf');
    writeFileSync(file, 'port=1\n');
    const into = await flotilla(['push', 'lab-1,lab-2', file, `~/cli-${tag}/conf/`, '--json']);
    expect(into.code, into.stderr).toBe(0);
    expect(JSON.parse(into.stdout).hosts.map((h: { state: string; plan: { create: string[] } }) => [h.state, h.plan.create])).toEqual([['ok', ['app.conf']], ['ok', ['app.conf']]]);
    expect(readFileSync(join(home('lab-2'), `cli-${tag}/conf/app.conf`), 'utf8')).toBe('port=1\n');
    const renamed = await flotilla(['push', 'lab-1', file, `~/cli-${tag}/conf/live.conf`]);
    expect(renamed.code, renamed.stderr).toBe(0);
    expect(readFileSync(join(home('lab-1'), `cli-${tag}/conf/live.conf`), 'utf8')).toBe('port=1\n');
    const paranoid = await flotilla(['push', 'lab-1', file, `~/cli-${tag}/conf/`, '--dry-run', '--checksum', '--json']);
    expect(paranoid.code, paranoid.stderr).toBe(0);
    expect(JSON.parse(paranoid.stdout).hosts[0]).toMatchObject({ state: 'ok', contentCheck: 'sha256sum -z', plan: { create: [], update: [], unchanged: 1 } });
    const denied = await flotilla(['push', 'lab-1', file, `/etc/cli-${tag}/`, '--dry-run', '--json']);
    expect(denied.code).toBe(2);
    expect(JSON.parse(denied.stdout).hosts[0]).toMatchObject({ state: 'failed', reason: expect.stringMatching(/not writable by the login user/) });
    const missing = await flotilla(['push', 'lab-1', join(base, 'nope.txt'), '~/x/']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nope\.txt does not exist/);
  });
});
