import { describe, expect, it } from 'vitest';
import {
  CappedBuffer,
  coalesce,
  compareHostNames,
  prefixLines,
  sanitizeForView,
  truncationMarker,
} from '../../src/core/exec/output';

const ESC = '\x1b';
const BEL = '\x07';
const ST = `${ESC}\\`;

/** Nothing a terminal or output view could interpret as control. */
function assertInert(s: string): void {
  expect(s).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
}

describe('sanitizeForView', () => {
  it.each([
    ['OSC 52 clipboard (BEL)', `a${ESC}]52;c;cm0gLXJmIH4K${BEL}b`, 'ab'],
    ['OSC 52 clipboard (ST)', `a${ESC}]52;c;cm0gLXJmIH4K${ST}b`, 'ab'],
    ['OSC 8 hyperlink', `${ESC}]8;;https://evil.example/${ST}click${ESC}]8;;${ST}`, 'click'],
    ['OSC 0 title (BEL)', `${ESC}]0;user@vm: ~${BEL}$ `, '$ '],
    ['OSC 0 title (ST)', `${ESC}]0;title${ST}x`, 'x'],
    ['C1 OSC with C1 ST', `\u009d0;title\u009cx`, 'x'],
    ['clear screen + home', `${ESC}[2J${ESC}[Hfake prompt`, 'fake prompt'],
    ['SGR colour', `${ESC}[1;31mred${ESC}[0m`, 'red'],
    ['private CSI', `${ESC}[?1049h${ESC}[?25l ok`, ' ok'],
    ['title report CSI 21t', `${ESC}[21t`, ''],
    ['C1 CSI U+009B', `\u009b2Jx\u009b31my`, 'xy'],
    ['DCS', `${ESC}Pq#0;2;0;0;0${ST}after`, 'after'],
    ['APC / PM / SOS', `${ESC}_apc${ST}${ESC}^pm${ST}${ESC}Xsos${ST}z`, 'z'],
    ['two-byte ESC', `${ESC}7${ESC}8${ESC}c${ESC}(Bq`, 'q'],
    ['other C0 and DEL', `a\x00\x08\x0b\x0c\x7fb`, 'ab'],
    ['other C1', `a\u0085\u0090x${ST}\u008db`, 'ab'],
    ['tab and newline kept', 'a\tb\nc', 'a\tb\nc'],
    ['CRLF', 'a\r\nb\r\r\n', 'a\nb\n'],
    ['lone CR becomes a line break', '10%\r20%\r100%\n', '10%\n20%\n100%\n'],
    ['bidi override dropped', 'abc\u202edcba\u2066x\u2069', 'abcdcbax'],
    ['line separator', 'a\u2028b', 'a\nb'],
    ['unicode kept', 'ünï ✓ 日本 🚀', 'ünï ✓ 日本 🚀'],
    ['lone trailing ESC', `x${ESC}`, 'x'],
  ])('%s', (_name, input, expected) => {
    const out = sanitizeForView(input);
    expect(out).toBe(expected);
    assertInert(out);
  });

  it('keeps an unterminated OSC payload visible instead of swallowing the rest', () => {
    const out = sanitizeForView(`before${ESC}]0;never terminated\nnext line\n`);
    expect(out).toBe('before0;never terminated\nnext line\n');
  });

  it('is linear on many unterminated sequences', () => {
    const evil = `${ESC}]`.repeat(200_000);
    const t0 = Date.now();
    expect(sanitizeForView(evil)).toBe('');
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('cannot forge another host line with \\r', () => {
    const out = prefixLines('lab-1', 'real output\r[lab-2] OK\n');
    expect(out).toBe('[lab-1] real output\n[lab-1] [lab-2] OK\n');
  });

  it('handles invalid UTF-8 (decoded as U+FFFD) and C1 bytes from raw output', () => {
    const raw = Buffer.from([0x61, 0xff, 0xfe, 0xc3, 0x28, 0x9b, 0x62, 0xc2, 0x9b, 0x32, 0x4a, 0x63]);
    const out = sanitizeForView(raw.toString('utf8'));
    // 0x9b alone is invalid UTF-8 (U+FFFD); C2 9B is the real C1 CSI and starts a sequence.
    expect(out).toBe('a\ufffd\ufffd\ufffd(\ufffdbc');
    assertInert(out);
  });

  it('catches an escape sequence split across chunks when sanitizing the joined text', () => {
    const buf = new CappedBuffer(1024);
    const whole = Buffer.from(`x${ESC}]52;c;ZXZpbA==${BEL}y`);
    for (const cut of [2, 5, 12]) {
      buf.push(whole.subarray(0, cut));
      buf.push(whole.subarray(cut));
    }
    expect(sanitizeForView(buf.text())).toBe('xyxyxy');
  });
});

describe('CappedBuffer', () => {
  it('keeps everything below the cap', () => {
    const b = new CappedBuffer(100);
    b.push(Buffer.from('hello '));
    b.push(Buffer.from('world\n'));
    expect(b.truncated).toBe(false);
    expect(b.totalBytes).toBe(12);
    expect(b.text()).toBe('hello world\n');
  });

  it('cuts on a UTF-8 boundary and adds the marker', () => {
    const b = new CappedBuffer(5);
    b.push(Buffer.from('abcd€€')); // € is 3 bytes: cap falls inside it
    expect(b.truncated).toBe(true);
    expect(b.keptBytes).toBe(5);
    expect(b.totalBytes).toBe(10);
    expect(b.text()).toBe(`abcd\n${truncationMarker(4, 10)}\n`);
    expect(b.text()).not.toContain('\ufffd');
  });

  it('stays bounded with 1 GB of `yes` output in 64 KiB chunks', () => {
    const cap = 1024 * 1024;
    const chunk = Buffer.from('y\n'.repeat(32 * 1024)); // 64 KiB
    const chunks = (1024 * 1024 * 1024) / chunk.length;
    const b = new CappedBuffer(cap);
    global.gc?.();
    const before = process.memoryUsage();
    for (let i = 0; i < chunks; i++) b.push(chunk);
    const after = process.memoryUsage();
    expect(b.totalBytes).toBe(1024 * 1024 * 1024);
    expect(b.keptBytes).toBe(cap);
    expect(b.truncated).toBe(true);
    const growth = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
    expect(growth).toBeLessThan(32 * 1024 * 1024);
    const text = b.text();
    expect(text.startsWith('y\ny\n')).toBe(true);
    expect(text).toContain('output truncated');
    expect(text).toContain('1073741824 bytes');
    expect(text.length).toBeLessThan(cap + 200);
  });

  it('rejects a bad cap', () => {
    expect(() => new CappedBuffer(-1)).toThrow();
  });
});

describe('truncationMarker', () => {
  it('is plain and readable', () => {
    const m = truncationMarker(1024 * 1024, 1024 * 1024 * 1024);
    expect(m).toBe('[flotilla: output truncated: showing the first 1.0 MiB of 1.0 GiB (1073741824 bytes)]');
    expect(sanitizeForView(m)).toBe(m);
  });
});

describe('coalesce', () => {
  it('groups identical output, biggest group first, hosts in natural order', () => {
    const groups = coalesce([
      { host: 'lab-10', text: 'ok\n' },
      { host: 'lab-2', text: 'ok\n' },
      { host: 'db-1', text: 'error\n' },
      { host: 'lab-1', text: 'ok\n' },
      { host: 'web-3', text: 'other\n' },
      { host: 'web-1', text: 'other\n' },
      { host: 'z', text: '' },
    ]);
    expect(groups).toEqual([
      { hosts: ['lab-1', 'lab-2', 'lab-10'], text: 'ok\n' },
      { hosts: ['web-1', 'web-3'], text: 'other\n' },
      { hosts: ['db-1'], text: 'error\n' },
      { hosts: ['z'], text: '' },
    ]);
  });

  it('is empty for no outputs', () => {
    expect(coalesce([])).toEqual([]);
  });

  it('natural compare is total', () => {
    expect(['b', 'a10', 'a9', 'A9', 'a09'].sort(compareHostNames)).toEqual(['a09', 'a9', 'A9', 'a10', 'b']);
  });
});

describe('prefixLines', () => {
  it('prefixes every line after sanitizing', () => {
    expect(prefixLines('h1', 'a\nb')).toBe('[h1] a\n[h1] b\n');
    expect(prefixLines('h1', 'a\n\nb\n')).toBe('[h1] a\n[h1] \n[h1] b\n');
    expect(prefixLines('h1', '')).toBe('');
    expect(prefixLines('h1', `${ESC}[2K${ESC}[1A[h2] forged\n`)).toBe('[h1] [h2] forged\n');
  });

  it('sanitizes the host name too', () => {
    expect(prefixLines(`h${ESC}[31m\n1`, 'x')).toBe('[h 1] x\n');
  });
});
