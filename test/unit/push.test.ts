import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diffEntries, itemize, settleHashed } from '../../src/core/push/plan';
import { listingScript, parseListing, setAsideTemps } from '../../src/core/push/remoteList';
import { DestinationError, parseDestination, shellWord } from '../../src/core/push/remotePath';
import { scanLocal } from '../../src/core/push/scan';
import { CHUNK_BYTES, joinShared, produce } from '../../src/core/push/tarBatch';
import { END_OF_ARCHIVE, entryHeader, padding } from '../../src/core/push/tarStream';
import { changeableInSameSecond, type LocalEntry, type PlanItem, type RemoteEntry, type ScanResult } from '../../src/core/push/types';

let root: string;
let outside: string;
const servers: Server[] = [];

beforeEach(() => {
  const base = mkdtempSync(join(tmpdir(), 'flotilla-push-unit-'));
  root = join(base, 'ws');
  outside = join(base, 'outside');
  mkdirSync(root);
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret.txt'), 'secret');
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  rmSync(join(root, '..'), { recursive: true, force: true });
});

const put = (rel: string, text = rel) => {
  mkdirSync(join(root, rel, '..'), { recursive: true });
  writeFileSync(join(root, rel), text);
};

describe('push scan', () => {
  it('keeps links inside the tree as links and skips links that leave it, dangle or are absolute', async () => {
    put('src/app.js');
    symlinkSync('src/app.js', join(root, 'inside-link'));
    symlinkSync('src', join(root, 'dir-link'));
    symlinkSync('../outside', join(root, 'secrets'));
    symlinkSync('../../etc/passwd', join(root, 'src', 'passwd'));
    symlinkSync('nowhere', join(root, 'dangling'));
    symlinkSync(join(root, 'src/app.js'), join(root, 'absolute'));
    // A link whose text stays inside but resolves outside through another link.
    symlinkSync('secrets/secret.txt', join(root, 'via-link'));
    const scan = await scanLocal(root);
    expect(scan.entries.get('inside-link')).toMatchObject({ type: 'symlink', linkTarget: 'src/app.js' });
    expect(scan.entries.get('dir-link')).toMatchObject({ type: 'symlink', linkTarget: 'src' });
    const skipped = Object.fromEntries(scan.skipped.map((s) => [s.path, s.reason]));
    expect(Object.keys(skipped).sort()).toEqual(['absolute', 'dangling', 'secrets', 'src/passwd', 'via-link']);
    expect(skipped.dangling).toMatch(/dangling/);
    expect(skipped.secrets).toMatch(/outside/);
    expect(skipped['via-link']).toMatch(/outside/);
    expect([...scan.entries.keys()].some((k) => k.startsWith('dir-link/'))).toBe(false);
    expect(scan.errors).toEqual([]);
  });

  it('skips FIFOs and sockets with a reason', async () => {
    put('a.txt');
    execFileSync('mkfifo', [join(root, 'pipe')]);
    const server = createServer();
    servers.push(server);
    await new Promise<void>((r) => server.listen(join(root, 'sock'), r));
    const scan = await scanLocal(root);
    expect(scan.skipped).toEqual([
      { path: 'pipe', reason: 'FIFO (named pipe) skipped' },
      { path: 'sock', reason: 'socket skipped' },
    ]);
    expect([...scan.entries.keys()]).toEqual(['a.txt']);
  });

  it('honours nested .gitignore with negation, .flotillaignore, excludes, and always skips .git', async () => {
    put('.gitignore', '*.log\nbuild/\n');
    put('keep.log');
    put('app.ts');
    put('build/out.js');
    put('sub/.gitignore', '!important.log\n');
    put('sub/important.log');
    put('sub/other.log');
    put('.flotillaignore', 'secret.env\n');
    put('secret.env');
    put('tmp/x.tmp');
    put('.git/config');
    const scan = await scanLocal(root, { exclude: ['tmp/'] });
    expect([...scan.entries.keys()].sort()).toEqual(['.flotillaignore', '.gitignore', 'app.ts', 'sub', 'sub/.gitignore', 'sub/important.log']);
    expect(scan.isExcluded('build/anything', false)).toBe(true);
    expect(scan.isExcluded('remote-only.log', false)).toBe(true);
    expect(scan.isExcluded('sub/important.log', false)).toBe(false);
    expect(scan.isExcluded('.git/HEAD', false)).toBe(true);
    expect(scan.isExcluded('app2.ts', false)).toBe(false);
  });

  it('refuses names with control characters or backslashes as errors', async () => {
    put('ok.txt');
    put('bad\nname');
    put('back\\slash');
    const scan = await scanLocal(root);
    expect([...scan.entries.keys()]).toEqual(['ok.txt']);
    expect(scan.errors.map((e) => e.path).sort()).toEqual(['back\\slash', 'bad\nname']);
  });

  it('reports NFC/NFD and case collisions as warnings (both files kept)', async () => {
    put('caf\u00e9.txt', 'nfc');
    put('cafe\u0301.txt', 'nfd');
    put('README');
    put('readme');
    const scan = await scanLocal(root);
    expect(scan.entries.size).toBe(4);
    const reasons = scan.warnings.map((w) => w.reason).sort();
    expect(reasons).toEqual([expect.stringMatching(/^Unicode normalisation/), expect.stringMatching(/^case collision/)]);
  });
});

describe('push destination validation', () => {
  it('accepts absolute and ~/ paths, normalised', () => {
    expect(parseDestination('/srv/app/').spec).toBe('/srv/app');
    expect(parseDestination('~/work//app/.').spec).toBe('~/work/app');
    expect(shellWord(parseDestination("~/it's"))).toBe(`"$HOME"/'it'\\''s'`);
  });
  it.each(['/', '~', '~/', '//', '', 'relative/dir', '~root/x', '/srv/../etc', '~/a/../../b', '/tmp/a\nb'])('refuses %j', (raw) => {
    expect(() => parseDestination(raw)).toThrow(DestinationError);
  });
  it('enforces a configured root', () => {
    expect(parseDestination('~/work/app', { root: '~/work' }).spec).toBe('~/work/app');
    expect(() => parseDestination('~/work', { root: '~/work' })).toThrow(/outside the configured push root/);
    expect(() => parseDestination('/etc/x', { root: '~/work' })).toThrow(/outside/);
    expect(() => parseDestination('~/workshop', { root: '~/work' })).toThrow(/outside/);
  });
});

function scanOf(entries: Record<string, Partial<LocalEntry>>, extra: Partial<ScanResult> = {}): ScanResult {
  const map = new Map<string, LocalEntry>();
  for (const [k, v] of Object.entries(entries)) map.set(k, { type: 'file', size: 10, mtimeMs: 1_700_000_000_500, mode: 0o644, ...v });
  return { root: '/nowhere', entries: map, skipped: [], errors: [], ...extra };
}
const remoteOf = (entries: Record<string, Partial<RemoteEntry>>) =>
  new Map(Object.entries(entries).map(([k, v]) => [k, { kind: 'f', size: 10, mtime: 1_700_000_000, mtimeNsec: 500_000_000, mode: 0o644, ...v }]));

describe('push plan diff', () => {
  it('a remote that keeps whole seconds only: a same-second, same-size file is compared by content, not taken as unchanged', () => {
    const scan = scanOf({ edited: {}, kept: {} });
    const remote = remoteOf({ edited: { mtimeNsec: 0 }, kept: { mtimeNsec: 0 } });
    const d = diffEntries(scan, remote);
    expect(d.needHash.map((i) => i.path)).toEqual(['edited', 'kept']);
    const settled = settleHashed(d.needHash, scan, remote, new Map([['edited', 'new'], ['kept', 'h']]), new Map([['edited', 'old'], ['kept', 'h']]));
    expect(settled.map((i) => [i.path, !!i.changes.content, !!i.changes.time])).toEqual([['edited', true, false], ['kept', false, false]]);
    // no hash tool on the host: size+mtime decides, as it did
    expect(settleHashed(d.needHash, scan, remote, new Map(), new Map()).map((i) => !!i.changes.content)).toEqual([false, false]);
  });

  it('a remote filesystem that keeps fractions elsewhere: a whole-second mtime in the same second is trusted (no content check)', () => {
    const scan = scanOf({ dir: { type: 'dir', mode: 0o755 }, 'dir/old': {} });
    const remote = remoteOf({ dir: { kind: 'd', size: 0, mode: 0o755 }, 'dir/old': { mtimeNsec: 0 } });
    const d = diffEntries(scan, remote);
    expect([d.needHash.length, d.update.length, d.unchanged]).toEqual([0, 0, 2]);
  });

  it('a file is changeable in the same second when modified in the second before the scan began, or later', () => {
    const scan = { ...scanOf({}), startedMs: 1_700_000_010_300 };
    const at = (mtimeMs: number) => changeableInSameSecond(scan, { type: 'file', size: 1, mode: 0o644, mtimeMs });
    expect([at(1_700_000_008_999), at(1_700_000_009_000), at(1_700_000_010_900), at(1_700_000_020_000)]).toEqual([false, true, true, true]);
    expect(changeableInSameSecond(scanOf({}), { type: 'file', size: 1, mode: 0o644, mtimeMs: 0 })).toBe(true); // scan time unknown
  });

  it('the tar stream carries an exact mtime in a pax record when asked, whole seconds otherwise (GNU tar restores both)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-pax-'));
    try {
      const data = Buffer.from('hello');
      writeFileSync(join(dir, 'a.tar'), Buffer.concat([
        entryHeader('d', { type: 'dir', size: 0, mode: 0o755, mtime: 1_700_000_001, mtimeNsec: 5 }),
        entryHeader('d/exact', { type: 'file', size: data.length, mode: 0o644, mtime: 1_700_000_000, mtimeNsec: 123_456_789 }), data, padding(data.length),
        entryHeader('d/whole', { type: 'file', size: data.length, mode: 0o644, mtime: 1_700_000_000 }), data, padding(data.length),
        END_OF_ARCHIVE,
      ]));
      mkdirSync(join(dir, 'x'));
      execFileSync('tar', ['-x', '-p', '--no-same-owner', '-f', join(dir, 'a.tar'), '-C', join(dir, 'x')]);
      const ns = (rel: string) => statSync(join(dir, 'x', rel), { bigint: true }).mtimeNs;
      expect([ns('d/exact'), ns('d/whole'), ns('d')]).toEqual([1_700_000_000_123_456_789n, 1_700_000_000_000_000_000n, 1_700_000_001_000_000_005n]);
      expect(readFileSync(join(dir, 'x/d/exact'), 'utf8')).toBe('hello');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('hosts pushing one scan at once send the same archive chunks, built once; each archive extracts to the tree', async () => {
    for (let i = 0; i < 40; i++) put(`small/s${i}.txt`, `small ${i} `.repeat(i * 40));
    for (let i = 0; i < 6; i++) put(`mid/m${i}.bin`, randomBytes(300_000 + i * 70_000).toString('latin1'));
    writeFileSync(join(root, 'big.bin'), randomBytes(CHUNK_BYTES + 300_000)); // split across chunks
    put('tail.txt', 'last');
    const scan = await scanLocal(root);
    const items = [...scan.entries.keys()].sort().map((path): PlanItem => ({ path, action: 'create', type: scan.entries.get(path)!.type, size: 0, changes: {} }));
    // A file that grew after the scan: its header promises the bytes actually read.
    writeFileSync(join(root, 'tail.txt'), 'last, and longer');
    const build = async (n: number) => {
      const joined = Array.from({ length: n }, () => joinShared(scan));
      const chunks = await Promise.all(joined.map(async ({ shared }) => {
        const got: Buffer[] = [];
        // Each host yields between chunks, as a channel write does, so the others run meanwhile.
        expect(await produce(scan, shared, items, async (chunk) => { got.push(chunk); await new Promise((r) => setImmediate(r)); return true; })).toBe(true);
        return got;
      }));
      for (const j of joined) j.leave();
      return chunks;
    };
    const [alone] = await build(1);
    const hosts = await build(3);
    expect(alone!.length).toBeGreaterThan(4);
    for (const chunks of hosts) expect(Buffer.concat(chunks).equals(Buffer.concat(alone!))).toBe(true);
    // Every chunk but those around the split file was built once and sent by all three.
    const sharedChunks = hosts[0]!.filter((c, i) => hosts[1]![i] === c && hosts[2]![i] === c).length;
    expect(sharedChunks).toBeGreaterThanOrEqual(alone!.length - 2);
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-chunks-'));
    try {
      writeFileSync(join(dir, 'a.tar'), Buffer.concat([...hosts[2]!, END_OF_ARCHIVE]));
      mkdirSync(join(dir, 'x'));
      execFileSync('tar', ['-x', '-p', '--no-same-owner', '-f', join(dir, 'a.tar'), '-C', join(dir, 'x')]);
      for (const rel of ['small/s39.txt', 'mid/m5.bin', 'big.bin', 'tail.txt']) {
        expect(readFileSync(join(dir, 'x', rel)).equals(readFileSync(join(root, rel))), rel).toBe(true);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('classifies create / update / unchanged / hash / delete', () => {
    const scan = scanOf({
      dir: { type: 'dir', mode: 0o755 },
      'dir/new': {},
      same: {},
      bigger: { size: 20 },
      touched: {},
      chmodded: { mode: 0o755 },
      link: { type: 'symlink', linkTarget: 'same' },
    });
    const remote = remoteOf({
      dir: { kind: 'd', mode: 0o755 },
      same: {},
      bigger: {},
      touched: { mtime: 1_600_000_000 },
      chmodded: {},
      link: { kind: 'l', linkTarget: 'other' },
      extra: {},
      'olddir': { kind: 'd', mode: 0o755 },
      'olddir/x': {},
    });
    const d = diffEntries(scan, remote, { delete: true });
    expect(d.create.map((i) => i.path)).toEqual(['dir/new']);
    expect(d.update.map((i) => [i.path, itemize(i)])).toEqual([
      ['bigger', '>f.s.......'],
      ['chmodded', '.f...p.....'],
      ['link', 'cL.........'],
    ]);
    expect(d.needHash.map((i) => i.path)).toEqual(['touched']);
    expect(d.unchanged).toBe(2);
    expect(d.delete.map((i) => i.path)).toEqual(['olddir/x', 'extra', 'olddir']);
    expect(diffEntries(scan, remote).delete).toEqual([]);
  });

  it('hash equal → metadata-only update; hash different → content update', () => {
    const scan = scanOf({ a: {}, b: {} });
    const remote = remoteOf({ a: { mtime: 1 }, b: { mtime: 1 } });
    const d = diffEntries(scan, remote);
    const settled = settleHashed(d.needHash, scan, remote, new Map([['a', 'h1'], ['b', 'h2']]), new Map([['a', 'h1'], ['b', 'zz']]));
    expect(settled.map((i) => itemize(i))).toEqual(['.f..t......', '>fc.t......']);
  });

  it('never deletes excluded, skipped or unreadable paths, and flags a remote dir in the way', () => {
    const scan = { ...scanOf({ f: {} }, { skipped: [{ path: 'fifo', reason: 'FIFO' }], errors: [{ path: 'locked', message: 'EACCES' }] }), isExcluded: (p: string) => p.startsWith('node_modules') };
    const remote = remoteOf({ f: { kind: 'd' }, fifo: {}, 'locked': { kind: 'd' }, 'locked/a': {}, node_modules: { kind: 'd' }, 'node_modules/x': {}, gone: {} });
    const d = diffEntries(scan, remote, { delete: true });
    expect(d.delete.map((i) => i.path)).toEqual(['gone']);
    expect(d.replaceDirs).toEqual(['f']);
    expect(diffEntries(scan, remote).conflicts[0]!.message).toMatch(/remote directory is in the way/);
  });

  it('new files/dirs/links itemize like rsync', () => {
    const d = diffEntries(scanOf({ d: { type: 'dir' }, 'd/f': {}, l: { type: 'symlink', linkTarget: 'd' } }), new Map());
    expect(d.create.map(itemize)).toEqual(['cd+++++++++', '>f+++++++++', 'cL+++++++++']);
  });
});

describe('push remote listing', () => {
  it('parses NUL-separated find output with any file name, sub-second mtimes, the probe and leftovers', () => {
    const df = 'Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/x 1000 10 990 2% /';
    const out = Buffer.from(`H/home/u\0W1\0P/home/u/x\0F${df}\0D\0d 4096 1700000000.1234567890 755 dir\0\0f 5 1700000001.9 600 dir/we ird\nname\0\0` +
      'l 3 1700000002.0 777 ln\0dir\0T 0 0 0 dir/.a.flotilla-tmp-0011\0\0S 0 0 0 .x.flotilla-tmp-aa\0\0E0\0', 'utf8');
    const parsed = parseListing(out)!;
    expect(parsed.home).toBe('/home/u');
    expect(parsed.state).toBe('dir');
    expect(parsed.probe).toEqual({ nearest: '/home/u/x', writable: true, freeBytes: 990 * 1024 });
    expect([...parsed.entries]).toEqual([
      ['dir', { kind: 'd', size: 4096, mtime: 1_700_000_000, mtimeNsec: 123_456_789, mode: 0o755 }],
      ['dir/we ird\nname', { kind: 'f', size: 5, mtime: 1_700_000_001, mtimeNsec: 900_000_000, mode: 0o600 }],
      ['ln', { kind: 'l', size: 3, mtime: 1_700_000_002, mtimeNsec: 0, mode: 0o777, linkTarget: 'dir' }],
    ]);
    expect(parsed.leftovers).toEqual(['dir/.a.flotilla-tmp-0011', '../.x.flotilla-tmp-aa']);
    expect(parseListing(Buffer.from('H/root\0W0\0P/root\0F\0M\0E0\0'))!.state).toBe('missing');
    expect(parseListing(Buffer.from('H/root\0W0\0P/root\0F\0D\0f 1 2 644 a\0'))).toBeUndefined(); // end marker not there yet
    // A malformed record is skipped with its link field; names are UTF-8; an entry named like the end marker is an entry.
    const odd = parseListing(Buffer.from('H/r\0W1\0P/r\0F\0D\0f x 1 644 bad\0\0f 7 5 648 bad-mode\0\0f 2 3 644 caf\u00e9 \u2603\0\0f 1 4 644 E0\0\0E1\0', 'utf8'))!;
    expect([...odd.entries.keys()]).toEqual(['caf\u00e9 \u2603', 'E0']);
    expect(odd.rc).toBe(1);
  });
  it('sets temp names aside as leftovers, and lists nothing below a temp-named directory (the listing script run by sh here)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-temps-'));
    try {
      for (const rel of ['a.txt', '.a.txt.flotilla-tmp-0011', 'd/.b.flotilla-tmp-22', '.flotilla-tmp-not-ours', 'd/x.flotilla-tmp-nor-this', '.s.flotilla-tmp-33/inner/f']) {
        mkdirSync(join(dir, rel, '..'), { recursive: true });
        writeFileSync(join(dir, rel), 'x');
      }
      symlinkSync('a.txt', join(dir, 'd/.l.flotilla-tmp-44'));
      const out = execFileSync('sh', ['-s'], { input: listingScript({ dest: parseDestination(dir) }) });
      const parsed = parseListing(out)!;
      const leftovers = setAsideTemps(parsed.entries);
      expect(leftovers.sort()).toEqual(['.a.txt.flotilla-tmp-0011', '.s.flotilla-tmp-33', 'd/.b.flotilla-tmp-22', 'd/.l.flotilla-tmp-44']);
      expect([...parsed.entries.keys()].sort()).toEqual(['.flotilla-tmp-not-ours', 'a.txt', 'd', 'd/x.flotilla-tmp-nor-this']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('never deletes while listing; only a real push takes the lock', () => {
    const dry = listingScript({ dest: parseDestination('~/x') });
    expect(dry).not.toMatch(/rm |-exec|-delete/);
    expect(dry).not.toMatch(/flotilla-push-.*\.lock/);
    expect(listingScript({ dest: parseDestination('~/x') }, { waitSeconds: 1 })).toMatch(/flotilla-push-.*\.lock/);
  });
  it('probes find for -printf only while the connection has not shown it (one process fewer per listing after that)', () => {
    const probe = "find \"$d\" -maxdepth 0 -printf ''";
    expect(listingScript({ dest: parseDestination('~/x') })).toContain(probe);
    const known = listingScript({ dest: parseDestination('~/x') }, { waitSeconds: 1 }, { findPrintf: true });
    expect(known).not.toContain(probe);
    expect(known).toMatch(/elif \[ ! -d "\$d" \]; then printf 'O\\0'/);
  });
});

describe('push scan mtime', () => {
  it('reports mtime and mode from lstat', async () => {
    put('f.txt');
    utimesSync(join(root, 'f.txt'), 1_700_000_000, 1_700_000_000);
    const scan = await scanLocal(root);
    expect(scan.entries.get('f.txt')).toMatchObject({ type: 'file', size: 5, mtimeMs: 1_700_000_000_000 });
  });
});
