// Remote output is attacker-controlled (ssh-traps §4.6). Everything shown outside the tmux terminal
// goes through sanitizeForView, which keeps only printable text, `\n` and `\t`.

const ESC = 0x1b;
const BEL = 0x07;
const CAN = 0x18;
const SUB = 0x1a;
const C1_ST = 0x9c;
const C1_CSI = 0x9b;
/** C1 introducers of string sequences: DCS, SOS, OSC, PM, APC. */
const C1_STRING_STARTS = new Set([0x90, 0x98, 0x9d, 0x9e, 0x9f]);
/** Second byte after ESC that opens a string sequence: P (DCS), X (SOS), ] (OSC), ^ (PM), _ (APC). */
const ESC_STRING_STARTS = new Set([0x50, 0x58, 0x5d, 0x5e, 0x5f]);

/** Bidi overrides/isolates: they can make a line render differently from its text. */
function isBidiControl(c: number): boolean {
  return (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

class Sanitizer {
  private out: string[] = [];
  private runStart = 0;
  /** Once no string terminator exists after some index, none exists after any later index. */
  private noTerminatorFrom = Infinity;

  constructor(private readonly s: string) {}

  run(): string {
    const s = this.s;
    let i = 0;
    while (i < s.length) {
      const c = s.charCodeAt(i);
      if (c >= 0x20 && c < 0x7f) {
        i++;
        continue;
      }
      if (c === 0x0a || c === 0x09) {
        i++;
        continue;
      }
      if (c > 0x9f && c !== 0x2028 && c !== 0x2029 && !isBidiControl(c)) {
        i++;
        continue;
      }
      this.flush(i);
      i = this.special(c, i);
      this.runStart = i;
    }
    this.flush(s.length);
    return this.out.join('');
  }

  private flush(end: number): void {
    if (end > this.runStart) this.out.push(this.s.slice(this.runStart, end));
  }

  /** Handle a non-plain character at i; returns the index after what it consumed. */
  private special(c: number, i: number): number {
    const s = this.s;
    if (c === 0x0d) {
      // `\r\n` and runs like `\r\r\n` are one newline; a lone `\r` becomes a newline too, so a
      // progress bar (or a forged "[other] OK") shows as separate lines instead of overwriting.
      let j = i;
      while (s.charCodeAt(j) === 0x0d) j++;
      if (s.charCodeAt(j) === 0x0a) return j;
      this.out.push('\n');
      return j;
    }
    if (c === 0x2028 || c === 0x2029) {
      this.out.push('\n'); // some views render these as line breaks
      return i + 1;
    }
    if (c === C1_CSI) return this.skipCsi(i + 1);
    if (C1_STRING_STARTS.has(c)) return this.skipString(i + 1);
    if (c === ESC) return this.skipEscape(i);
    return i + 1; // other C0, DEL, C1, bidi controls: dropped
  }

  private skipEscape(i: number): number {
    const s = this.s;
    const next = s.charCodeAt(i + 1);
    if (next === 0x5b) return this.skipCsi(i + 2);
    if (ESC_STRING_STARTS.has(next)) return this.skipString(i + 2);
    let j = i + 1;
    while (j < s.length && s.charCodeAt(j) >= 0x20 && s.charCodeAt(j) <= 0x2f) j++; // intermediates
    const f = s.charCodeAt(j);
    if (f >= 0x30 && f <= 0x7e) return j + 1;
    return j; // lone or broken ESC: drop what we read, keep the rest visible
  }

  private skipCsi(j: number): number {
    const s = this.s;
    while (j < s.length && s.charCodeAt(j) >= 0x30 && s.charCodeAt(j) <= 0x3f) j++; // parameters
    while (j < s.length && s.charCodeAt(j) >= 0x20 && s.charCodeAt(j) <= 0x2f) j++; // intermediates
    const f = s.charCodeAt(j);
    return f >= 0x40 && f <= 0x7e ? j + 1 : j;
  }

  /** OSC/DCS/... payload up to BEL, ST (ESC \ or U+009C), or CAN/SUB. */
  private skipString(j: number): number {
    const s = this.s;
    if (j >= this.noTerminatorFrom) return j;
    for (let k = j; k < s.length; k++) {
      const c = s.charCodeAt(k);
      if (c === BEL || c === C1_ST || c === CAN || c === SUB) return k + 1;
      if (c === ESC && s.charCodeAt(k + 1) === 0x5c) return k + 2;
    }
    // Unterminated: drop only the introducer; the payload stays visible as (sanitized) text.
    this.noTerminatorFrom = j;
    return j;
  }
}

/**
 * Text safe to show in an output channel, tree or notification: no C0/C1 controls except `\n`/`\t`,
 * no escape sequences (CSI, OSC incl. 52/8/0, DCS, SOS, PM, APC, two-byte ESC), no `\r`, no bidi
 * overrides. Sanitize whole joined output, not chunks, so split sequences are caught.
 */
export function sanitizeForView(text: string): string {
  return new Sanitizer(text).run();
}

function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} bytes` : `${v.toFixed(1)} ${units[u]}`;
}

export function truncationMarker(kept: number, total: number): string {
  return `[flotilla: output truncated: showing the first ${formatBytes(kept)} of ${formatBytes(total)} (${total} bytes)]`;
}

/** Length of `buf` without a trailing incomplete UTF-8 sequence. */
export function utf8SafeLength(buf: Buffer): number {
  let i = buf.length - 1;
  let back = 0;
  while (i >= 0 && back < 3 && (buf[i]! & 0xc0) === 0x80) {
    i--;
    back++;
  }
  if (i < 0) return buf.length;
  const lead = buf[i]!;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return buf.length - i < need && need > 1 ? i : buf.length;
}

/** Keeps the first `capBytes` of a stream and counts the rest; memory stays O(capBytes). */
export class CappedBuffer {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private total = 0;

  constructor(private readonly capBytes: number) {
    if (!Number.isInteger(capBytes) || capBytes < 0) throw new Error(`invalid output cap ${capBytes}`);
  }

  push(chunk: Buffer): void {
    this.total += chunk.length;
    const room = this.capBytes - this.kept;
    if (room <= 0) return;
    // Copy: a subarray would pin the whole (possibly pooled, large) chunk in memory.
    const part = Buffer.from(chunk.subarray(0, Math.min(room, chunk.length)));
    this.chunks.push(part);
    this.kept += part.length;
  }

  get truncated(): boolean {
    return this.total > this.kept;
  }

  get totalBytes(): number {
    return this.total;
  }

  /** Bytes kept so far (≤ capBytes). */
  get keptBytes(): number {
    return this.kept;
  }

  /** The kept bytes as they arrived. */
  head(): Buffer {
    return Buffer.concat(this.chunks, this.kept);
  }

  /** UTF-8 of the kept head, cut on a character boundary, plus the marker when truncated. Not sanitized. */
  text(): string {
    const head = this.head();
    if (!this.truncated) return head.toString('utf8');
    const len = utf8SafeLength(head);
    const body = head.toString('utf8', 0, len);
    const sep = body === '' || body.endsWith('\n') ? '' : '\n';
    return `${body}${sep}${truncationMarker(len, this.total)}\n`;
  }
}

export interface HostOutput {
  host: string;
  text: string;
}

export interface OutputGroup {
  hosts: string[];
  text: string;
}

const natural = new Intl.Collator('en', { numeric: true, sensitivity: 'variant' });

/** Natural order (lab-2 < lab-10), with a plain code-unit tie-break so the order is total. */
export function compareHostNames(a: string, b: string): number {
  return natural.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

/** Like `dshbak -c`: hosts with identical output share one group; biggest group first. */
export function coalesce(outputs: readonly HostOutput[]): OutputGroup[] {
  const byText = new Map<string, string[]>();
  for (const { host, text } of outputs) {
    const hosts = byText.get(text);
    if (hosts) hosts.push(host);
    else byText.set(text, [host]);
  }
  const groups = [...byText].map(([text, hosts]) => ({ hosts: hosts.sort(compareHostNames), text }));
  return groups.sort((a, b) => b.hosts.length - a.hosts.length || compareHostNames(a.hosts[0]!, b.hosts[0]!));
}

/**
 * `[host] line\n` for every line of the sanitized text (an unterminated last line is terminated,
 * empty text gives ''). Sanitizing first means remote `\r[other] OK` cannot fake another host's line.
 */
export function prefixLines(host: string, text: string): string {
  const clean = sanitizeForView(text);
  if (clean === '') return '';
  const prefix = `[${sanitizeForView(host).replace(/\n/g, ' ')}] `;
  const body = clean.endsWith('\n') ? clean.slice(0, -1) : clean;
  return body
    .split('\n')
    .map((line) => prefix + line + '\n')
    .join('');
}

/** Text for one line of a view: escapes stripped, every run of whitespace with a newline in it made one space. */
export function viewLine(text: string): string {
  return sanitizeForView(text).replace(/\s*\n\s*/g, ' ').trim();
}
