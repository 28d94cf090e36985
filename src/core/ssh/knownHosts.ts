// OpenSSH known_hosts lookup and append (no npm package does this; see ssh-traps §2.2).
// checkHostKey is synchronous on purpose: it runs inside ssh2's hostVerifier, and an async
// verifier makes ssh2 accept every key.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { matchPatternList } from '../config/patterns';
import { shQuote } from './quote';

export interface KnownHostEntryRef {
  file: string;
  /** 1-based. */
  line: number;
  keyType: string;
  fingerprint: string;
  marker?: 'revoked' | 'cert-authority';
  /** The lookup name this line matched (for `ssh-keygen -R`). */
  matchedName?: string;
}

export type HostKeyVerdict =
  | { kind: 'known'; entry: KnownHostEntryRef }
  | { kind: 'unknown'; note?: string }
  | { kind: 'changed'; presented: { keyType: string; fingerprint: string }; previous: KnownHostEntryRef[] }
  | { kind: 'revoked'; presented: { keyType: string; fingerprint: string }; entry: KnownHostEntryRef };

export const CERT_AUTHORITY_NOTE =
  'only a @cert-authority line matches this host; Flotilla (ssh2) cannot verify host certificates, ' +
  'so the plain host key must be accepted separately';

/** The name a host is recorded under: `host` for port 22, else `[host]:port` (as ssh does, lower-cased). */
export function lookupName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/** Parse an SSH wire-format public key blob (uint32 length + type name first). */
export function parseKeyBlob(blob: Buffer): { keyType: string; base64: string; fingerprint: string } {
  return { keyType: keyTypeOf(blob), base64: blob.toString('base64'), fingerprint: fingerprintOf(blob) };
}

function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) throw new Error('host key blob too short');
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) throw new Error('host key blob has an invalid type field');
  const keyType = blob.toString('latin1', 4, 4 + len);
  if (!/^[A-Za-z0-9@._+-]+$/.test(keyType)) throw new Error('host key blob has an invalid type name');
  return keyType;
}

/** `SHA256:` + unpadded base64, exactly as `ssh-keygen -l` prints it. */
function fingerprintOf(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

interface ParsedLine {
  marker?: 'revoked' | 'cert-authority';
  hosts: string;
  keyType: string;
  blob: Buffer;
}

/** One known_hosts line, or undefined for comments, blanks and anything malformed. */
function parseLine(raw: string): ParsedLine | undefined {
  const line = raw.trim();
  if (line === '' || line.startsWith('#')) return undefined;
  const fields = line.split(/[ \t]+/);
  let marker: ParsedLine['marker'];
  if (fields[0]!.startsWith('@')) {
    const m = fields.shift()!;
    if (m === '@revoked') marker = 'revoked';
    else if (m === '@cert-authority') marker = 'cert-authority';
    else return undefined; // unknown marker: OpenSSH skips the line too
  }
  const [hosts, keyType, b64] = fields;
  if (hosts === undefined || keyType === undefined || b64 === undefined) return undefined;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return undefined;
  const blob = Buffer.from(b64, 'base64');
  try {
    if (keyTypeOf(blob) !== keyType) return undefined;
  } catch {
    return undefined;
  }
  return { marker, hosts, keyType, blob };
}

function matchHashed(name: string, field: string): boolean {
  // |1|base64(salt)|base64(HMAC-SHA1(salt, name))
  const parts = field.split('|');
  if (parts.length !== 4 || parts[0] !== '' || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2]!, 'base64');
  const want = Buffer.from(parts[3]!, 'base64');
  if (salt.length === 0 || want.length !== 20) return false;
  return createHmac('sha1', salt).update(name).digest().equals(want);
}

/** The first of `names` the hosts field matches. */
function matchedName(field: string, names: readonly string[]): string | undefined {
  if (field.startsWith('|')) return names.find((n) => matchHashed(n, field));
  return names.find((n) => matchPatternList(n, field, true) /* case-insensitive, as OpenSSH's match_hostname */);
}

interface MatchedEntry extends ParsedLine {
  ref: KnownHostEntryRef;
}

/** A host field of literal names only (no wildcard, negation or hash): looked up by name, not matched line by line. */
const LITERAL_NAMES = /^[^*?!|]+$/;

/** One known_hosts file parsed: its lines, literal names indexed, the rest (patterns, hashed names) listed. */
interface ParsedFile {
  lines: { line: number; parsed: ParsedLine }[];
  byName: Map<string, number[]>;
  others: number[];
}

/**
 * Parsed files, kept while the file's inode, size and mtime stay the same: every connect reads known_hosts
 * (twice: algorithm order, then the verdict), and a 500-host file parsed per host is quadratic.
 */
const parsedFiles = new Map<string, { ino: number; size: number; mtimeMs: number; file: ParsedFile }>();

function parsedFile(file: string): ParsedFile | undefined {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    parsedFiles.delete(file);
    return undefined; // missing or unreadable files are skipped, as ssh does
  }
  const cached = parsedFiles.get(file);
  if (cached && cached.ino === st.ino && cached.size === st.size && cached.mtimeMs === st.mtimeMs) return cached.file;
  let content: string;
  try {
    content = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const parsed: ParsedFile = { lines: [], byName: new Map(), others: [] };
  const raw = content.split('\n');
  for (let i = 0; i < raw.length; i++) {
    const p = parseLine(raw[i]!);
    if (!p) continue;
    const at = parsed.lines.push({ line: i + 1, parsed: p }) - 1;
    if (!LITERAL_NAMES.test(p.hosts)) {
      parsed.others.push(at);
      continue;
    }
    for (const name of new Set(p.hosts.toLowerCase().split(','))) {
      const list = parsed.byName.get(name);
      if (list) list.push(at);
      else parsed.byName.set(name, [at]);
    }
  }
  // The size read before the content may be older than it; only a file that did not change meanwhile is kept.
  if (Buffer.byteLength(content) === st.size) parsedFiles.set(file, { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, file: parsed });
  return parsed;
}

function* matchingEntries(files: readonly string[], names: readonly string[]): Generator<MatchedEntry> {
  for (const file of files) {
    const parsed = parsedFile(file);
    if (!parsed) continue;
    // candidates in file order: the lines naming one of `names` literally, and every pattern or hashed line
    const candidates = new Set(parsed.others);
    for (const n of names) for (const at of parsed.byName.get(n.toLowerCase()) ?? []) candidates.add(at);
    for (const at of [...candidates].sort((x, y) => x - y)) {
      const { line, parsed: p } = parsed.lines[at]!;
      const name = matchedName(p.hosts, names);
      if (name === undefined) continue;
      const ref: KnownHostEntryRef = { file, line, keyType: p.keyType, fingerprint: fingerprintOf(p.blob), matchedName: name };
      if (p.marker) ref.marker = p.marker;
      yield { ...p, ref };
    }
  }
}

/**
 * Verdict for a presented host key. `names` are all lookup names to try (HostKeyAlias or
 * `[host]:port`, plus the CheckHostIP name). Precedence: revoked > known > changed > unknown.
 */
export function checkHostKey(files: readonly string[], names: readonly string[], blob: Buffer): HostKeyVerdict {
  const presentedKey = parseKeyBlob(blob);
  const presented = { keyType: presentedKey.keyType, fingerprint: presentedKey.fingerprint };
  let known: KnownHostEntryRef | undefined;
  const previous: KnownHostEntryRef[] = [];
  let certAuthorityOnly = false;
  for (const e of matchingEntries(files, names)) {
    const same = e.blob.equals(blob);
    if (e.marker === 'revoked') {
      if (same) return { kind: 'revoked', presented, entry: e.ref };
      continue;
    }
    if (e.marker === 'cert-authority') {
      certAuthorityOnly = true;
      continue;
    }
    if (same) known ??= e.ref;
    else if (e.keyType === presented.keyType) previous.push(e.ref);
  }
  if (known) return { kind: 'known', entry: known };
  if (previous.length > 0) return { kind: 'changed', presented, previous };
  return certAuthorityOnly ? { kind: 'unknown', note: CERT_AUTHORITY_NOTE } : { kind: 'unknown' };
}

/**
 * The host key types recorded for a host in known_hosts, in file order (ssh-rsa as the three algorithms that
 * verify it); algorithms.ts's hostKeyAlgorithmOrder puts them first, as OpenSSH does.
 */
export function recordedHostKeyAlgorithms(files: readonly string[], names: readonly string[]): string[] {
  const recorded: string[] = [];
  for (const e of matchingEntries(files, names)) {
    if (e.marker) continue;
    const algos = e.keyType === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [e.keyType];
    for (const a of algos) if (!recorded.includes(a)) recorded.push(a);
  }
  return recorded;
}

// A name written to known_hosts must be one literal host, never something that reads as a pattern list.
const UNSAFE_NAME = /[\s,*?!#|\\\x00-\x1f\x7f]/;

function formatLine(name: string, blob: Buffer, hash: boolean): string {
  const { keyType, base64 } = parseKeyBlob(blob);
  let hostField = name;
  if (hash) {
    const salt = randomBytes(20);
    const mac = createHmac('sha1', salt).update(name).digest();
    hostField = `|1|${salt.toString('base64')}|${mac.toString('base64')}`;
  }
  return `${hostField} ${keyType} ${base64}\n`;
}

/**
 * Append one OpenSSH-format line. Existing lines are never rewritten: the file is opened with
 * O_APPEND (so concurrent `ssh` writers interleave whole lines) and fsynced.
 */
export function appendKnownHost(file: string, name: string, blob: Buffer, opts: { hash: boolean }): void {
  if (name === '' || UNSAFE_NAME.test(name) || name.startsWith('@')) {
    throw new Error(`refusing to record host key under unsafe name ${JSON.stringify(name)}`);
  }
  const line = formatLine(name, blob, opts.hash);
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const existed = fs.existsSync(file);
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o600);
  try {
    const size = fs.fstatSync(fd).size;
    let prefix = '';
    if (size > 0) {
      // A last line without newline would otherwise be merged with ours.
      const last = Buffer.alloc(1);
      fs.readSync(fd, last, 0, 1, size - 1);
      if (last[0] !== 0x0a) prefix = '\n';
    }
    fs.writeSync(fd, prefix + line);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  if (!existed) fsyncDir(dir);
}

function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Not supported on every platform/filesystem; the file itself is already synced.
  }
}

/** A human message for the user; `alias` is the name they know the host by. */
export function describeVerdict(v: HostKeyVerdict, alias: string): string {
  switch (v.kind) {
    case 'known':
      return `${alias}: host key ${v.entry.keyType} ${v.entry.fingerprint} matches ${v.entry.file}:${v.entry.line}.`;
    case 'unknown':
      return `${alias}: the host key is not known.` + (v.note ? ` Note: ${v.note}.` : '');
    case 'revoked':
      return (
        `${alias}: REFUSED — the presented ${v.presented.keyType} key ${v.presented.fingerprint} is marked ` +
        `@revoked in ${v.entry.file}:${v.entry.line}.`
      );
    case 'changed': {
      const old = v.previous
        .map((p) => `${p.keyType} ${p.fingerprint} (${p.file}:${p.line})`)
        .join(', ');
      const first = v.previous[0]!;
      return (
        `${alias}: WARNING — REMOTE HOST IDENTIFICATION HAS CHANGED. Someone could be intercepting the ` +
        `connection (man-in-the-middle), or the host key was replaced. Presented: ${v.presented.keyType} ` +
        `${v.presented.fingerprint}; recorded: ${old}. Not connecting. If you have verified the new key ` +
        `out of band, remove the old entry with: ssh-keygen -R ${shQuote(first.matchedName ?? alias)} ` +
        `-f ${shQuote(first.file)} ` +
        `(or delete line ${first.line} of ${first.file}) and connect again.`
      );
    }
  }
}
