// Push and pull against a real sshd fleet (isolated: each host has its own /home and /tmp, so pushing the
// same destination to three hosts writes three different directories).
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync, chownSync, existsSync, lchownSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync,
  rmSync, symlinkSync, utimesSync, writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { applyAll, itemizedFromApply, itemizedFromPlan } from '../../src/core/push/apply';
import { planPush } from '../../src/core/push/plan';
import { pull } from '../../src/core/push/pull';
import { push } from '../../src/core/push/push';
import { runScript } from '../../src/core/ssh/script';
import { listRemote } from '../../src/core/push/remoteList';
import { STDIN_SHELL } from '../../src/core/ssh/quote';
import { parseDestination } from '../../src/core/push/remotePath';
import { scanLocal } from '../../src/core/push/scan';
import type { LocalEntry, ScanResult } from '../../src/core/push/types';
import type { Pool } from '../../src/core/ssh/pool';
import { execOn, startFleet, type TestFleet } from './fleet';
import { countingChannels } from './countingPool';

const canRunLab = process.getuid?.() === 0;
const HOSTS = ['lab-1', 'lab-2', 'lab-3'];
const run = promisify(execFile);

let fleet: TestFleet;
let pool: Pool;
let flotilla: { uid: number; gid: number };
let local: string;
let destName: string;

/** Where `~flotilla/<rel>` of a host lives on this machine. */
function remoteHome(alias: string): string {
  const host = fleet.lab.info.hosts.find((h) => h.alias === alias)!;
  return join(host.isolatedHome!, 'flotilla');
}
const remote = (alias: string, rel = '') => join(remoteHome(alias), destName, rel);

function put(rel: string, content: string | Buffer = rel, mode?: number): void {
  mkdirSync(join(local, rel, '..'), { recursive: true });
  writeFileSync(join(local, rel), content);
  if (mode !== undefined) chmodSync(join(local, rel), mode);
}

/** Every regular file under a remote destination: rel path → content. */
function remoteFiles(dir: string, rel = ''): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const r = rel ? `${rel}/${name}` : name;
    const st = lstatSync(p);
    if (st.isDirectory()) for (const [k, v] of remoteFiles(p, r)) out.set(k, v);
    else if (st.isFile()) out.set(r, readFileSync(p));
  }
  return out;
}

function allModes(dir: string): number[] {
  const modes = [lstatSync(dir).mode & 0o7777];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = lstatSync(p);
    if (st.isDirectory()) modes.push(...allModes(p));
    else if (!st.isSymbolicLink()) modes.push(st.mode & 0o7777);
  }
  return modes;
}

function asFlotilla(path: string): void {
  lchownSync(path, flotilla.uid, flotilla.gid);
}

describe.skipIf(!canRunLab)('push (lab)', () => {
  beforeAll(async () => {
    fleet = await startFleet({ hosts: 3, plain: true, isolated: true });
    pool = fleet.pool();
    const [uid, gid] = execFileSync('id', ['-u', 'flotilla']).toString().trim() + ':' + execFileSync('id', ['-g', 'flotilla']).toString().trim();
    void uid; void gid;
    flotilla = {
      uid: Number(execFileSync('id', ['-u', 'flotilla']).toString().trim()),
      gid: Number(execFileSync('id', ['-g', 'flotilla']).toString().trim()),
    };
  });
  afterAll(async () => {
    await fleet?.stop();
  });
  beforeEach(() => {
    const base = mkdtempSync(join(tmpdir(), 'flotilla-push-it-'));
    chmodSync(base, 0o755);
    local = join(base, 'ws');
    mkdirSync(local);
    chmodSync(local, 0o755);
    destName = `flotilla-test-${randomBytes(4).toString('hex')}`;
  });

  const dest = () => `~/${destName}`;

  it('13: links out of the tree are never followed or uploaded; inside links stay links; dry-run lists them', async () => {
    const outside = join(local, '..', 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'id_ed25519'), 'PRIVATE');
    put('app.js', 'console.log(1)');
    put('sub/lib.js', 'lib');
    symlinkSync(outside, join(local, 'secrets'));
    symlinkSync('../../etc/passwd', join(local, 'link'));
    symlinkSync('missing-file', join(local, 'dangling'));
    symlinkSync('sub', join(local, 'dirlink'));
    symlinkSync('../outside/id_ed25519', join(local, 'sub', 'up'));

    const dry = await push(pool, HOSTS, local, dest(), { dryRun: true });
    expect(dry.results).toBeUndefined();
    for (const plan of dry.plans) {
      expect(plan.skipped.map((s) => s.path).sort()).toEqual(['dangling', 'link', 'secrets', 'sub/up']);
      expect(plan.create.map((i) => i.path).sort()).toEqual(['app.js', 'dirlink', 'sub', 'sub/lib.js']);
    }
    expect(existsSync(remote('lab-1'))).toBe(false);

    const real = await push(pool, HOSTS, local, dest());
    for (const h of HOSTS) {
      expect(real.results!.find((r) => r.host === h)!.state).toBe('ok');
      expect([...remoteFiles(remote(h))].map(([k, v]) => [k, v.toString()])).toEqual([['app.js', 'console.log(1)'], ['sub/lib.js', 'lib']]);
      expect(readlinkSync(remote(h, 'dirlink'))).toBe('sub');
      for (const name of ['secrets', 'link', 'dangling', 'sub/up']) expect(existsSync(remote(h, name)) || isLink(remote(h, name))).toBe(false);
      expect(JSON.stringify([...remoteFiles(remoteHome(h))].filter(([, v]) => v.toString() === 'PRIVATE'))).toBe('[]');
    }
  });

  it('14: FIFO, socket and device node are skipped with a warning; the push completes', async () => {
    put('a.txt', 'a');
    execFileSync('mkfifo', [join(local, 'fifo')]);
    execFileSync('mknod', [join(local, 'null-dev'), 'c', '1', '3']);
    const server: Server = createServer();
    await new Promise<void>((r) => server.listen(join(local, 'sock'), r));
    try {
      const res = await push(pool, HOSTS, local, dest());
      for (const [i, plan] of res.plans.entries()) {
        expect(plan.skipped.map((s) => s.reason).sort()).toEqual(['FIFO (named pipe) skipped', 'device node skipped', 'socket skipped']);
        expect(res.results![i]!.state, JSON.stringify(res.results![i]!.results.filter((r) => !r.ok))).toBe('ok');
        expect(readdirSync(remote(plan.host))).toEqual(['a.txt']);
      }
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('15: a symlink planted at the destination is replaced, not written through', async () => {
    put('app.js', 'new app');
    const bashrc = join(remoteHome('lab-1'), '.bashrc');
    const before = readFileSync(bashrc);
    mkdirSync(remote('lab-1'));
    asFlotilla(remote('lab-1'));
    symlinkSync(bashrc, remote('lab-1', 'app.js'));
    asFlotilla(remote('lab-1', 'app.js'));
    const res = await push(pool, ['lab-1'], local, dest());
    expect(res.plans[0]!.update.map((i) => i.path)).toEqual(['app.js']);
    expect(res.results![0]!.state).toBe('ok');
    expect(lstatSync(remote('lab-1', 'app.js')).isFile()).toBe(true);
    expect(readFileSync(remote('lab-1', 'app.js'), 'utf8')).toBe('new app');
    expect(readFileSync(bashrc)).toEqual(before);
  });

  it('16: a connection killed mid-push leaves no truncated final file; the next run cleans temps and converges', async () => {
    for (let i = 0; i < 400; i++) put(`d${i % 10}/f${i}.bin`, randomBytes(4096 + (i % 7) * 8192));
    put('big.bin', randomBytes(6 * 1024 * 1024));
    const scan = await scanLocal(local);
    const plans = await planPush(pool, ['lab-1'], scan, dest());
    let killed = false;
    let killing: Promise<unknown> | undefined;
    const [first] = await applyAll(pool, plans, {
      window: 8,
      noTar: true, // the SFTP window path; the tar path is interrupted in the next test
      onProgress: (e) => {
        if (!killed && e.done >= e.total / 2) {
          killed = true;
          // The exec's shell is a child of this connection's sshd session process: killing it drops the connection.
          killing = runScript(pool, 'lab-1', 'kill -KILL "$PPID"').catch(() => undefined);
        }
      },
    });
    await killing;
    expect(killed).toBe(true);
    expect(first!.state).toBe('failed');
    expect(first!.results.some((r) => r.ok)).toBe(true);
    expect(first!.results.some((r) => !r.ok)).toBe(true);
    const present = remoteFiles(remote('lab-1'));
    expect(present.size).toBeGreaterThan(0);
    const temps = [...present.keys()].filter((k) => k.includes('.flotilla-tmp-'));
    for (const [rel, content] of present) {
      if (rel.includes('.flotilla-tmp-')) continue;
      expect(content.equals(readFileSync(join(local, rel))), rel).toBe(true);
    }
    console.log(`push killed at 50%: ${present.size - temps.length} complete files, ${temps.length} temp files left`);

    const again = await push(pool, ['lab-1'], local, dest());
    expect(again.results![0]!.state).toBe('ok');
    const after = remoteFiles(remote('lab-1'));
    expect([...after.keys()].filter((k) => k.includes('.flotilla-tmp-'))).toEqual([]);
    expect(after.size).toBe(401);
    for (const [rel, content] of after) expect(content.equals(readFileSync(join(local, rel))), rel).toBe(true);
    const dry = await push(pool, ['lab-1'], local, dest(), { dryRun: true });
    expect(itemizedFromPlan(dry.plans[0]!)).toEqual({ create: [], update: [], delete: [] });
  });

  it('first push to a new destination goes through one tar stream; interrupted, nothing appears at the destination', async () => {
    for (let i = 0; i < 300; i++) put(`src/p${i % 9}/f${i}.txt`, `content ${i}`.repeat(i % 50 + 1), i % 3 === 0 ? 0o600 : 0o644);
    put('bin/run.sh', '#!/bin/sh', 0o755);
    symlinkSync('src', join(local, 'src-link'));
    put(`${'long-name-'.repeat(15)}/caf\u00e9 \u2603.txt`, 'pax');
    // Enough data for several 1 MiB chunks (shared between the hosts), one file longer than a chunk.
    for (let i = 0; i < 12; i++) put(`blobs/b${i}.bin`, randomBytes(150_000 + i * 50_000));
    put('blobs/large.bin', randomBytes(2_500_000));
    const scan = await scanLocal(local);

    const interrupted = await planPush(pool, ['lab-1'], scan, dest());
    const abort = new AbortController();
    const [cut] = await applyAll(pool, interrupted, { signal: abort.signal, onProgress: (e) => { if (e.done === 150) abort.abort(); } });
    expect(cut!.state).toBe('cancelled');
    expect(existsSync(remote('lab-1'))).toBe(false);

    const plans = await planPush(pool, HOSTS, scan, dest());
    const results = await applyAll(pool, plans);
    for (const [i, plan] of plans.entries()) {
      expect(results[i]!.state).toBe('ok');
      expect(itemizedFromApply(results[i]!)).toEqual(itemizedFromPlan(plan));
      const files = remoteFiles(remote(plan.host));
      expect(files.size).toBe(315);
      for (const [rel, content] of files) expect(content.equals(readFileSync(join(local, rel))), rel).toBe(true);
      expect(lstatSync(remote(plan.host, 'src/p0/f0.txt')).mode & 0o7777).toBe(0o600);
      expect(lstatSync(remote(plan.host, 'bin/run.sh')).mode & 0o7777).toBe(0o755);
      expect(readlinkSync(remote(plan.host, 'src-link'))).toBe('src');
      expect(readdirSync(join(remote(plan.host), '..')).filter((n) => n.includes('.flotilla-tmp-'))).toEqual([]);
    }
    const again = await planPush(pool, HOSTS, scan, dest(), { dryRun: true });
    for (const p of again) expect(itemizedFromPlan(p)).toEqual({ create: [], update: [], delete: [] });
  });

  it('17: one unwritable remote file → partial with a per-file error; everything else lands', async () => {
    for (let i = 0; i < 20; i++) put(`ok/f${i}.txt`, `file ${i}`);
    put('ro/locked.txt', 'new content');
    put('ro/also.txt', 'x');
    chmodSync(join(local, 'ro'), 0o755);
    mkdirSync(remote('lab-2', 'ro'), { recursive: true });
    asFlotilla(remote('lab-2'));
    chmodSync(remote('lab-2', 'ro'), 0o755); // root-owned directory
    writeFileSync(remote('lab-2', 'ro/locked.txt'), 'old');
    chmodSync(remote('lab-2', 'ro/locked.txt'), 0o444);
    const res = await push(pool, ['lab-2'], local, dest());
    const result = res.results![0]!;
    expect(result.state).toBe('partial');
    expect(result.results.filter((r) => !r.ok).map((r) => [r.path, r.error])).toEqual([
      ['ro/also.txt', 'permission denied'],
      ['ro/locked.txt', 'permission denied'],
    ]);
    expect(readFileSync(remote('lab-2', 'ro/locked.txt'), 'utf8')).toBe('old');
    expect(remoteFiles(remote('lab-2', 'ok')).size).toBe(20);
    expect(readdirSync(remote('lab-2', 'ro'))).toEqual(['locked.txt']);
  });

  it('18: extraneous files survive without delete; delete lists first, is blocked by scan errors and maxDelete', async () => {
    for (let i = 0; i < 12; i++) put(`keep/f${i}.txt`, `f${i}`);
    put('locked/secret.txt', 's');
    const h = 'lab-3';
    expect((await push(pool, [h], local, dest())).results![0]!.state).toBe('ok');
    for (const name of ['old1.txt', 'old2.txt', 'keep/old3.txt']) {
      writeFileSync(remote(h, name), 'stale');
      asFlotilla(remote(h, name));
    }
    const stale = ['keep/old3.txt', 'old1.txt', 'old2.txt'];

    const noDelete = await push(pool, [h], local, dest());
    expect(noDelete.plans[0]!.delete).toEqual([]);
    for (const s of stale) expect(existsSync(remote(h, s))).toBe(true);

    const dry = await push(pool, [h], local, dest(), { delete: true, dryRun: true });
    expect(dry.plans[0]!.delete.map((i) => i.path).sort()).toEqual(stale);
    for (const s of stale) expect(existsSync(remote(h, s))).toBe(true);

    // Root reads any directory, so the unreadable-directory scan runs as user nobody in a child process.
    chmodSync(join(local, 'locked'), 0o000);
    const scan = await scanAsNobody(local);
    chmodSync(join(local, 'locked'), 0o755);
    expect(scan.errors.map((e) => e.path)).toEqual(['locked']);
    const blockedPlans = await planPush(pool, [h], scan, dest(), { delete: true });
    expect(blockedPlans[0]!.delete.map((i) => i.path).sort()).toEqual(stale);
    expect(blockedPlans[0]!.deleteBlocked).toMatch(/scan had 1 error/);
    const blocked = await applyAll(pool, blockedPlans);
    expect(blocked[0]!.state).toBe('partial');
    for (const s of stale) expect(existsSync(remote(h, s))).toBe(true);
    expect(existsSync(remote(h, 'locked/secret.txt'))).toBe(true); // unreadable locally: never deleted

    const overMax = await push(pool, [h], local, dest(), { delete: true, maxDelete: 2 });
    expect(overMax.plans[0]!.deleteBlocked).toMatch(/exceed the limit of 2/);
    for (const s of stale) expect(existsSync(remote(h, s))).toBe(true);

    const done = await push(pool, [h], local, dest(), { delete: true });
    expect(done.results![0]!.state).toBe('ok');
    expect(itemizedFromApply(done.results![0]!).delete).toEqual(stale);
    for (const s of stale) expect(existsSync(remote(h, s))).toBe(false);
  });

  it('19: modes 0600/0755 are kept; nothing ends up group/world-writable', async () => {
    put('secret.key', 'k', 0o600);
    put('run.sh', '#!/bin/sh\n', 0o755);
    put('open.txt', 'o', 0o666);
    put('wide/x', 'x');
    chmodSync(join(local, 'wide'), 0o777);
    put('private/y', 'y');
    chmodSync(join(local, 'private'), 0o700);
    const res = await push(pool, HOSTS, local, dest());
    for (const h of HOSTS) {
      expect(res.results!.find((r) => r.host === h)!.state).toBe('ok');
      expect(lstatSync(remote(h, 'secret.key')).mode & 0o7777).toBe(0o600);
      expect(lstatSync(remote(h, 'run.sh')).mode & 0o7777).toBe(0o755);
      expect(lstatSync(remote(h, 'open.txt')).mode & 0o7777).toBe(0o644);
      expect(lstatSync(remote(h, 'wide')).mode & 0o7777).toBe(0o755);
      expect(lstatSync(remote(h, 'private')).mode & 0o7777).toBe(0o700);
      expect(allModes(remote(h)).filter((m) => m & 0o022)).toEqual([]);
    }
    const again = await push(pool, HOSTS, local, dest(), { dryRun: true });
    for (const p of again.plans) expect(itemizedFromPlan(p)).toEqual({ create: [], update: [], delete: [] });
  });

  it('plan equals what apply does (create, update, metadata-only, delete)', async () => {
    for (let i = 0; i < 30; i++) put(`src/m${i}.ts`, `export const v = ${i};`);
    put('README.md', 'hello');
    expect((await push(pool, HOSTS, local, dest())).results!.every((r) => r.state === 'ok')).toBe(true);
    put('src/m1.ts', 'export const v = "changed, longer";');
    put('src/new.ts', 'new');
    execFileSync('touch', ['-d', '2001-01-01', join(local, 'README.md')]); // same content, new mtime: metadata only
    chmodSync(join(local, 'src/m2.ts'), 0o600);
    rmSync(join(local, 'src/m3.ts'));
    rmSync(join(local, 'src/m4.ts'));
    const scan = await scanLocal(local);
    const plans = await planPush(pool, HOSTS, scan, dest(), { delete: true });
    const results = await applyAll(pool, plans);
    for (const [i, plan] of plans.entries()) {
      expect(itemizedFromPlan(plan)).toEqual({ create: ['src/new.ts'], update: ['README.md', 'src', 'src/m1.ts', 'src/m2.ts'], delete: ['src/m3.ts', 'src/m4.ts'] });
      expect(itemizedFromApply(results[i]!)).toEqual(itemizedFromPlan(plan));
    }
    const after = await planPush(pool, HOSTS, scan, dest(), { delete: true, dryRun: true });
    for (const p of after) expect(itemizedFromPlan(p)).toEqual({ create: [], update: [], delete: [] });
  });

  it('no-op push is one listing command per host, in the listing shell the last push left, and opens no channel (after a tar first push too: nothing is hashed)', async () => {
    // Half the files were last changed long ago (the tar stream gives them whole seconds), half just now
    // (they keep their exact mtimes): neither kind needs a content check on the re-push.
    const old = Math.floor(Date.now() / 1000) - 100 + 0.3;
    for (let i = 0; i < 100; i++) {
      put(`d${i % 4}/f${i}`, `${i}`);
      if (i % 2) utimesSync(join(local, `d${i % 4}/f${i}`), old, old);
    }
    for (const sftpFirst of [false, true]) {
      const where = `${dest()}-${sftpFirst ? 'sftp' : 'tar'}`;
      const own = fleet.pool(); // what is kept on its connections is this loop's alone
      const first = await push(own, HOSTS, local, where, { noTar: sftpFirst });
      expect(first.results!.map((r) => r.state)).toEqual(['ok', 'ok', 'ok']);
      const { counting, opened } = countingChannels(own);
      const res = await push(counting, HOSTS, local, where);
      expect(res.results!.every((r) => r.state === 'ok' && r.results.length === 0)).toBe(true);
      expect(res.plans.map((p) => p.contentCheck)).toEqual([undefined, undefined, undefined]);
      // The first push's listing shells are parked on the pooled connections: the no-op push reuses them,
      // and the SFTP channels an SFTP push kept (the free space is measured on them during the listing):
      // given back unused, they are there for the next push.
      expect(opened).toEqual({ sftp: 0, exec: 0, reused: HOSTS.length * (sftpFirst ? 2 : 1) });
      if (sftpFirst) {
        const again = countingChannels(own);
        await push(again.counting, HOSTS, local, where);
        expect(again.opened).toEqual({ sftp: 0, exec: 0, reused: 2 * HOSTS.length });
      }
      // Once the push has returned, every host's lock file is gone (the next push never waits for it).
      for (const host of HOSTS) expect(readdirSync(remoteHome(host)).filter((n) => n.startsWith('.flotilla-push-'))).toEqual([]);
      await own.dispose();
    }
    // Touched, not changed (a name with a quote and a space too), and one same-size edit: the small files are
    // compared by their bytes over the SFTP channel the last push kept, the large one hashed in the shell that
    // holds the lock, so the listing is still the only command; only metadata is fixed, but for the edit.
    put("d0/it's here", 'same');
    put('d2/large.bin', randomBytes(100 * 1024));
    put('d3/edited', 'v1');
    await push(pool, HOSTS, local, `${dest()}-tar`);
    put('d3/edited', 'v2');
    const later = Math.floor(Date.now() / 1000) - 30 + 0.6;
    for (const rel of ['d0/f0', 'd1/f1', "d0/it's here", 'd2/large.bin', 'd3/edited']) utimesSync(join(local, rel), later, later);
    const { counting, opened, commands } = countingChannels(pool);
    const touched = await push(counting, HOSTS, local, `${dest()}-tar`);
    // The listing shells and the SFTP channels the last push kept are used again: nothing is opened.
    expect(opened).toEqual({ sftp: 0, exec: 0, reused: 2 * HOSTS.length });
    // No login shell parses anything new: the listing, the hashes and the exact mtimes go on the kept shell's stdin.
    expect(commands).toEqual([]);
    // A fresh pool has no shell to reuse: the login shell parses one fixed command.
    const fresh = fleet.pool();
    const firstOnFresh = countingChannels(fresh);
    await push(firstOnFresh.counting, HOSTS, local, `${dest()}-tar`);
    expect(firstOnFresh.commands).toEqual(HOSTS.map(() => STDIN_SHELL));
    await fresh.dispose();
    for (const [i, p] of touched.plans.entries()) {
      expect(p.contentCheck).toBe('sha256sum -z (small files: bytes read over SFTP)');
      expect(p.update.map((u) => [u.path, !!u.changes.content, !!u.changes.time]).sort()).toEqual([
        ['d0/f0', false, true], ["d0/it's here", false, true], ['d1/f1', false, true], ['d2/large.bin', false, true], ['d3/edited', true, true],
      ]);
      expect([touched.results![i]!.state, touched.results![i]!.bytes]).toEqual(['ok', 2]);
      expect(readFileSync(join(remoteHome(HOSTS[i]!), `${dest()}-tar`.replace(/^~\//, ''), 'd3/edited'), 'utf8')).toBe('v2');
    }
    // Only small files: all compared by their bytes.
    utimesSync(join(local, 'd3/edited'), later - 10, later - 10);
    const small = await push(pool, HOSTS, local, `${dest()}-tar`);
    expect(small.plans.map((p) => [p.contentCheck, p.update.map((u) => [u.path, !!u.changes.content])])).toEqual(HOSTS.map(() => ['bytes read over SFTP', [['d3/edited', false]]]));
  });

  it('the listing shell kept between pushes never holds a slot a request waits for nor an idle connection open, and a kept shell or SFTP channel that died is replaced', async () => {
    put('kept/a.txt', 'a');
    const where = `${dest()}-kept`;
    // Two channels per connection: the push's listing shell and its transfer.
    const two = fleet.pool({ maxChannelsPerConnection: 2 });
    try {
      expect((await push(two, ['lab-1'], local, where)).results!.map((r) => r.state)).toEqual(['ok']);
      const held = await two.exec('lab-1', 'cat'); // the other slot, taken until its stdin ends
      // The parked shell is let go for this command (without that it would wait for `cat` for ever).
      expect((await execOn(two, 'lab-1', 'echo through')).out.trim()).toBe('through');
      held.channel.end();
    } finally {
      await two.dispose();
    }
    // Nor does it keep an idle connection open.
    const idle = fleet.pool({ idleCloseMs: 300 });
    try {
      const conn = await idle.connection('lab-1');
      expect((await push(idle, ['lab-1'], local, where)).results!.map((r) => r.state)).toEqual(['ok']);
      await conn.closed;
      expect(idle.isConnected('lab-1')).toBe(false);
    } finally {
      await idle.dispose();
    }
    // A kept shell that ends on the host (killed here) is replaced by a new one: the push goes on.
    const listing = await listRemote(pool, 'lab-1', { dest: parseDestination(where) }, { lock: { waitSeconds: 5 } });
    const pid = (await listing.lock!.run('printf %s $$'))!.toString();
    expect(pid).toMatch(/^\d+$/);
    await listing.lock!.release();
    expect((await execOn(pool, 'lab-1', `kill ${pid}`)).code).toBe(0);
    put('kept/b.txt', 'b');
    const { counting, opened } = countingChannels(pool);
    const res = await push(counting, ['lab-1'], local, where);
    expect(res.results!.map((r) => r.state)).toEqual(['ok']);
    expect(opened.exec).toBe(1);
    expect(readFileSync(join(remoteHome('lab-1'), where.replace(/^~\//, ''), 'kept/b.txt'), 'utf8')).toBe('b');
    // So is a kept SFTP channel whose server side has ended (its session process killed here: with
    // internal-sftp, the sshd child beside the listing shell under the connection's sshd).
    const again = await listRemote(pool, 'lab-1', { dest: parseDestination(where) }, { lock: { waitSeconds: 5 } });
    const sftpPid = (await again.lock!.run(`ps -o pid=,comm= --ppid $PPID | awk '$1 != '$$' { print $1 }'`))!.toString().trim();
    await again.lock!.release();
    expect(sftpPid).toMatch(/^\d+$/);
    expect((await execOn(pool, 'lab-1', `kill ${sftpPid}`)).code).toBe(0);
    put('kept/c.txt', 'c');
    const after = countingChannels(pool);
    expect((await push(after.counting, ['lab-1'], local, where)).results!.map((r) => r.state)).toEqual(['ok']);
    expect(after.opened.sftp).toBe(1);
    expect(readFileSync(join(remoteHome('lab-1'), where.replace(/^~\//, ''), 'kept/c.txt'), 'utf8')).toBe('c');
  });

  it('pull copies into <dest>/<host>/<name>, keeps modes, refuses links that leave the tree', async () => {
    put('conf/app.yaml', 'a: 1', 0o640);
    put('bin/tool', '#!/bin/sh', 0o755);
    await push(pool, HOSTS, local, dest());
    for (const h of HOSTS) {
      symlinkSync('/etc/shadow', remote(h, 'evil'));
      symlinkSync('conf/app.yaml', remote(h, 'good'));
      writeFileSync(remote(h, 'host.txt'), h);
    }
    const into = mkdtempSync(join(tmpdir(), 'flotilla-pull-it-'));
    try {
      const results = await pull(pool, HOSTS, dest(), into);
      for (const r of results) {
        expect(r.state).toBe('ok');
        const base = join(into, r.host, destName);
        expect(r.localPath).toBe(base);
        expect(readFileSync(join(base, 'host.txt'), 'utf8')).toBe(r.host);
        expect(readFileSync(join(base, 'conf/app.yaml'), 'utf8')).toBe('a: 1');
        expect(lstatSync(join(base, 'conf/app.yaml')).mode & 0o7777).toBe(0o640);
        expect(lstatSync(join(base, 'bin/tool')).mode & 0o7777).toBe(0o755);
        expect(readlinkSync(join(base, 'good'))).toBe('conf/app.yaml');
        expect(existsSync(join(base, 'evil')) || isLink(join(base, 'evil'))).toBe(false);
        expect(r.skipped.map((s) => s.path)).toEqual(['evil']);
      }
      const single = await pull(pool, ['lab-1'], `${dest()}/host.txt`, into);
      expect(single[0]!.state).toBe('ok');
      expect(readFileSync(join(into, 'lab-1', 'host.txt'), 'utf8')).toBe('lab-1');
    } finally {
      rmSync(into, { recursive: true, force: true });
    }
  });
});

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Runs the scan in a child process as `nobody`, where EACCES is real (root would read anything). */
async function scanAsNobody(dir: string): Promise<ScanResult> {
  const scanModule = join(__dirname, '../../src/core/push/scan.ts');
  const code = `import(${JSON.stringify(scanModule)}).then(async (m) => { const s = await (m.scanLocal ?? m.default.scanLocal)(${JSON.stringify(dir)}); ` +
    'process.stdout.write(JSON.stringify({ root: s.root, entries: [...s.entries], skipped: s.skipped, errors: s.errors })); })';
  const tsx = join(__dirname, '../../node_modules/.bin/tsx');
  const { stdout } = await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'env', 'HOME=/tmp', tsx, '--eval', code], { cwd: tmpdir() });
  const parsed = JSON.parse(stdout) as { root: string; entries: [string, LocalEntry][]; skipped: ScanResult['skipped']; errors: ScanResult['errors'] };
  return { ...parsed, entries: new Map(parsed.entries) };
}

// chownSync is kept for fixtures that need root-owned remote files.
void chownSync;
