import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostKeyAlgorithmOrder } from '../../src/core/ssh/algorithms';
import {
  appendKnownHost,
  checkHostKey,
  CERT_AUTHORITY_NOTE,
  describeVerdict,
  lookupName,
  parseKeyBlob,
  recordedHostKeyAlgorithms,
} from '../../src/core/ssh/knownHosts';

interface TestKey {
  pubFile: string;
  type: string;
  b64: string;
  blob: Buffer;
}

let dir: string;
const keys: Record<string, TestKey> = {};

function makeKey(name: string, type: string): TestKey {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-f', file, '-N', '', '-C', name]);
  const [keyType, b64] = fs.readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/);
  return { pubFile: `${file}.pub`, type: keyType!, b64: b64!, blob: Buffer.from(b64!, 'base64') };
}

let fileCounter = 0;
function khFile(lines: string[]): string {
  const file = path.join(dir, `kh-${++fileCounter}`);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

function line(hosts: string, k: TestKey, marker?: string): string {
  return `${marker ? marker + ' ' : ''}${hosts} ${k.type} ${k.b64}`;
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flotilla-kh-'));
  keys.ed = makeKey('ed', 'ed25519');
  keys.ed2 = makeKey('ed2', 'ed25519');
  keys.ecdsa = makeKey('ecdsa', 'ecdsa');
  keys.rsa = makeKey('rsa', 'rsa');
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('lookupName / parseKeyBlob', () => {
  it('uses [host]:port only for non-22 ports', () => {
    expect(lookupName('Lab-1.example', 22)).toBe('lab-1.example');
    expect(lookupName('10.0.0.5', 2222)).toBe('[10.0.0.5]:2222');
  });

  it('fingerprints like ssh-keygen -lf for every key type', () => {
    for (const k of Object.values(keys)) {
      const out = execFileSync('ssh-keygen', ['-lf', k.pubFile], { encoding: 'utf8' }).split(/\s+/)[1];
      const parsed = parseKeyBlob(k.blob);
      expect(parsed.fingerprint).toBe(out);
      expect(parsed.keyType).toBe(k.type);
      expect(parsed.base64).toBe(k.b64);
    }
  });

  it('rejects garbage blobs', () => {
    expect(() => parseKeyBlob(Buffer.alloc(2))).toThrow();
    expect(() => parseKeyBlob(Buffer.from([0, 0, 1, 0, 65]))).toThrow();
  });
});

describe('checkHostKey', () => {
  it('finds plain entries, including comma lists and case differences', () => {
    const f = khFile(['# comment', '', line('other,LAB1,10.0.0.1', keys.ed!)]);
    const v = checkHostKey([f], ['lab1'], keys.ed!.blob);
    expect(v).toMatchObject({ kind: 'known', entry: { file: f, line: 3, keyType: 'ssh-ed25519' } });
  });

  it('returns unknown for no file, missing files and non-matching hosts', () => {
    const f = khFile([line('elsewhere', keys.ed!)]);
    expect(checkHostKey([], ['lab1'], keys.ed!.blob)).toEqual({ kind: 'unknown' });
    expect(checkHostKey([path.join(dir, 'missing', 'kh')], ['lab1'], keys.ed!.blob)).toEqual({ kind: 'unknown' });
    expect(checkHostKey([f], ['lab1'], keys.ed!.blob)).toEqual({ kind: 'unknown' });
  });

  it('skips malformed lines without throwing', () => {
    const f = khFile([
      'lab1',
      'lab1 ssh-ed25519',
      'lab1 ssh-ed25519 !!!notbase64!!!',
      `lab1 ssh-rsa ${keys.ed!.b64}`, // type field disagrees with the blob
      '@bogus lab1 ssh-ed25519 ' + keys.ed!.b64,
      'lab1 1024 35 1234567890', // SSH1 RSA
      '|1|broken lab1',
      '\u0000\u0001\u00ff',
      line('lab1', keys.ed!),
    ]);
    expect(checkHostKey([f], ['lab1'], keys.ed!.blob)).toMatchObject({ kind: 'known', entry: { line: 9 } });
  });

  it('matches wildcards and honours negation as a veto', () => {
    const f = khFile([line('*.lab,!bad.lab', keys.ed!), line('web-?', keys.ecdsa!)]);
    expect(checkHostKey([f], ['good.lab'], keys.ed!.blob).kind).toBe('known');
    expect(checkHostKey([f], ['bad.lab'], keys.ed!.blob).kind).toBe('unknown');
    expect(checkHostKey([f], ['web-1'], keys.ecdsa!.blob).kind).toBe('known');
    expect(checkHostKey([f], ['web-10'], keys.ecdsa!.blob).kind).toBe('unknown');
    // A line with only negated patterns never matches.
    const g = khFile([line('!bad.lab', keys.ed!)]);
    expect(checkHostKey([g], ['good.lab'], keys.ed!.blob).kind).toBe('unknown');
  });

  it('treats [host]:port brackets literally', () => {
    const f = khFile([line('[10.0.0.5]:2222', keys.ed!), line('[*.lab]:*', keys.ecdsa!)]);
    expect(checkHostKey([f], ['[10.0.0.5]:2222'], keys.ed!.blob).kind).toBe('known');
    // As a regex/glob class `[10.0.0.5]` would match the single character "1".
    expect(checkHostKey([f], ['1:2222'], keys.ed!.blob).kind).toBe('unknown');
    expect(checkHostKey([f], ['[a.lab]:2200'], keys.ecdsa!.blob).kind).toBe('known');
  });

  it('reports a changed key with the old entry (adversarial #2)', () => {
    const f = khFile([line('lab1', keys.rsa!), line('lab1', keys.ed!)]);
    const v = checkHostKey([f], ['lab1'], keys.ed2!.blob);
    expect(v.kind).toBe('changed');
    if (v.kind !== 'changed') return;
    expect(v.presented).toEqual({ keyType: 'ssh-ed25519', fingerprint: parseKeyBlob(keys.ed2!.blob).fingerprint });
    expect(v.previous).toHaveLength(1);
    expect(v.previous[0]).toMatchObject({ file: f, line: 2, fingerprint: parseKeyBlob(keys.ed!.blob).fingerprint });
    const msg = describeVerdict(v, 'lab1');
    expect(msg).toContain(parseKeyBlob(keys.ed2!.blob).fingerprint);
    expect(msg).toContain(parseKeyBlob(keys.ed!.blob).fingerprint);
    expect(msg).toContain(`${f}:2`);
    expect(msg).toContain(`ssh-keygen -R lab1 -f ${f}`);
    // The advice works: after it the host is unknown, not changed.
    execFileSync('ssh-keygen', ['-R', 'lab1', '-f', f], { stdio: 'ignore' });
    expect(checkHostKey([f], ['lab1'], keys.ed2!.blob)).toEqual({ kind: 'unknown' });
  });

  it('prefers a matching key over a same-type mismatch (several keys per host)', () => {
    const f = khFile([line('lab1', keys.ed2!), line('lab1', keys.ed!)]);
    expect(checkHostKey([f], ['lab1'], keys.ed!.blob)).toMatchObject({ kind: 'known', entry: { line: 2 } });
  });

  it('is unknown when only other key types are recorded', () => {
    const f = khFile([line('lab1', keys.rsa!), line('lab1', keys.ecdsa!)]);
    expect(checkHostKey([f], ['lab1'], keys.ed!.blob)).toEqual({ kind: 'unknown' });
  });

  it('refuses a @revoked key even when a normal line also matches (adversarial #3)', () => {
    const f = khFile([line('lab1', keys.ed!)]);
    const g = khFile([line('*', keys.ed!, '@revoked')]);
    const v = checkHostKey([f, g], ['lab1'], keys.ed!.blob);
    expect(v).toMatchObject({ kind: 'revoked', entry: { file: g, line: 1, marker: 'revoked' } });
    expect(describeVerdict(v, 'lab1')).toContain('@revoked');
    // A revoked line for a different key does not affect this one.
    const h = khFile([line('*', keys.ed2!, '@revoked'), line('lab1', keys.ed!)]);
    expect(checkHostKey([h], ['lab1'], keys.ed!.blob).kind).toBe('known');
  });

  it('hashed entry for [host]:2222 vs a port-22-only entry (adversarial #4)', () => {
    const f = khFile([line('[127.0.0.5]:2222', keys.ed!), line('127.0.0.6', keys.ed!)]);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', f], { stdio: 'ignore' });
    const text = fs.readFileSync(f, 'utf8');
    expect(text).not.toContain('127.0.0');
    expect(text).toMatch(/^\|1\|/);
    expect(checkHostKey([f], [lookupName('127.0.0.5', 2222)], keys.ed!.blob)).toMatchObject({
      kind: 'known',
      entry: { line: 1 },
    });
    expect(checkHostKey([f], [lookupName('127.0.0.6', 22)], keys.ed!.blob).kind).toBe('known');
    expect(checkHostKey([f], [lookupName('127.0.0.6', 2222)], keys.ed!.blob)).toEqual({ kind: 'unknown' });
    expect(checkHostKey([f], [lookupName('127.0.0.5', 22)], keys.ed!.blob)).toEqual({ kind: 'unknown' });
  });

  it('plain port-22 entry does not cover other ports', () => {
    const f = khFile([line('lab1', keys.ed!)]);
    expect(checkHostKey([f], [lookupName('lab1', 2222)], keys.ed!.blob)).toEqual({ kind: 'unknown' });
  });

  it('host known only through @cert-authority is unknown with a note (adversarial #5)', () => {
    const f = khFile([line('*.lab', keys.rsa!, '@cert-authority')]);
    const v = checkHostKey([f], ['a.lab'], keys.ed!.blob);
    expect(v).toEqual({ kind: 'unknown', note: CERT_AUTHORITY_NOTE });
    expect(describeVerdict(v, 'a')).toContain('cert-authority');
    // Even if the CA key equals the presented key, it is not a host key entry.
    const g = khFile([line('*.lab', keys.ed!, '@cert-authority')]);
    expect(checkHostKey([g], ['a.lab'], keys.ed!.blob).kind).toBe('unknown');
  });

  it('matches any of several candidate names (HostKeyAlias / CheckHostIP)', () => {
    const f = khFile([line('10.1.2.3', keys.ed!)]);
    expect(checkHostKey([f], ['alias-x', '10.1.2.3'], keys.ed!.blob)).toMatchObject({
      kind: 'known',
      entry: { matchedName: '10.1.2.3' },
    });
  });
});

describe('parsed known_hosts files', () => {
  it('see every change: an appended line, a rewrite of another size, a replaced file, a removed one', () => {
    const ed = keys.ed!, other = keys.ed2!;
    const file = khFile([line('a.example', ed)]);
    expect(checkHostKey([file], ['b.example'], ed.blob).kind).toBe('unknown');
    fs.appendFileSync(file, line('b.example', ed) + '\n');
    expect(checkHostKey([file], ['b.example'], ed.blob).kind).toBe('known');
    fs.writeFileSync(file, line('b.example,c.example', other) + '\n');
    expect(checkHostKey([file], ['b.example'], ed.blob).kind).toBe('changed');
    const next = `${file}.new`;
    fs.writeFileSync(next, line('*.example', ed) + '\n');
    fs.renameSync(next, file);
    expect(checkHostKey([file], ['B.Example'], ed.blob).kind).toBe('known');
    fs.rmSync(file);
    expect(checkHostKey([file], ['b.example'], ed.blob).kind).toBe('unknown');
  });

  it('keep file order between literal names and patterns (the first matching key is the one reported)', () => {
    const ed = keys.ed!;
    const file = khFile([line('*.example', ed), line('X.example', ed)]);
    const v = checkHostKey([file], ['x.example'], ed.blob);
    expect(v.kind === 'known' && v.entry.line).toBe(1);
    const file2 = khFile([line('X.example', ed), line('*.example', ed)]);
    const v2 = checkHostKey([file2], ['x.example'], ed.blob);
    expect(v2.kind === 'known' && v2.entry.line).toBe(1);
  });
});

describe('appendKnownHost', () => {
  it('creates dir 0700 and file 0600 and writes a plain line ssh-keygen -F finds', () => {
    const file = path.join(dir, 'newdir', 'sub', 'known_hosts');
    appendKnownHost(file, 'lab9', keys.ed!.blob, { hash: false });
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(file, 'utf8')).toBe(`lab9 ssh-ed25519 ${keys.ed!.b64}\n`);
    const found = execFileSync('ssh-keygen', ['-F', 'lab9', '-f', file], { encoding: 'utf8' });
    expect(found).toContain(keys.ed!.b64);
  });

  it('hashed line is found by ssh-keygen -F and by checkHostKey', () => {
    const file = khFile(['# keep me', line('*', keys.rsa!, '@cert-authority')]);
    const before = fs.readFileSync(file, 'utf8');
    appendKnownHost(file, '[127.0.0.5]:2222', keys.ecdsa!.blob, { hash: true });
    const after = fs.readFileSync(file, 'utf8');
    expect(after.startsWith(before)).toBe(true);
    expect(after).not.toContain('127.0.0.5');
    const found = execFileSync('ssh-keygen', ['-F', '[127.0.0.5]:2222', '-f', file], { encoding: 'utf8' });
    expect(found).toContain(keys.ecdsa!.b64);
    expect(checkHostKey([file], ['[127.0.0.5]:2222'], keys.ecdsa!.blob)).toMatchObject({
      kind: 'known',
      entry: { line: 3 },
    });
  });

  it('never merges with a last line lacking a newline', () => {
    const file = path.join(dir, 'no-newline');
    fs.writeFileSync(file, line('old', keys.rsa!));
    appendKnownHost(file, 'new', keys.ed!.blob, { hash: false });
    expect(fs.readFileSync(file, 'utf8').split('\n')).toEqual([line('old', keys.rsa!), line('new', keys.ed!), '']);
    expect(checkHostKey([file], ['old'], keys.rsa!.blob).kind).toBe('known');
    expect(checkHostKey([file], ['new'], keys.ed!.blob).kind).toBe('known');
  });

  it('refuses names that would read as patterns or break the line', () => {
    const file = path.join(dir, 'unsafe');
    for (const bad of ['', 'a,b', '*', 'a b', 'x\ny', '!x', '@revoked', '|1|x']) {
      expect(() => appendKnownHost(file, bad, keys.ed!.blob, { hash: false })).toThrow(/unsafe name/);
    }
    expect(fs.existsSync(file)).toBe(false);
  });
});

describe('host key algorithm order', () => {
  it('puts recorded types first and expands ssh-rsa', () => {
    const f = khFile([line('lab1', keys.rsa!), line('lab1', keys.ecdsa!), line('other', keys.ed!)]);
    expect(recordedHostKeyAlgorithms([f], ['lab1'])).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa', keys.ecdsa!.type]);
    const algos = hostKeyAlgorithmOrder(recordedHostKeyAlgorithms([f], ['lab1']));
    expect(algos.slice(0, 4)).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa', keys.ecdsa!.type]);
    expect(algos).toContain('ssh-ed25519');
    expect(new Set(algos).size).toBe(algos.length);
  });

  it('is ssh2 default order when nothing is recorded', () => {
    expect(recordedHostKeyAlgorithms([], ['x'])).toEqual([]);
    expect(hostKeyAlgorithmOrder([])[0]).toBe('ssh-ed25519');
  });

  it('leaves out recorded types ssh2 does not implement', () => {
    expect(hostKeyAlgorithmOrder(['ssh-xmss@openssh.com', 'ecdsa-sha2-nistp256'])[0]).toBe('ecdsa-sha2-nistp256');
    expect(hostKeyAlgorithmOrder(['ssh-xmss@openssh.com'])).not.toContain('ssh-xmss@openssh.com');
  });
});
