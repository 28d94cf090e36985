// The filter between remote output and the flotilla task terminal (Pseudoterminal of least-loaded runs).
import { describe, expect, it } from 'vitest';
import { crlf, TerminalFilter } from '../../src/extension/tasks/terminalFilter';

const run = (...chunks: Array<string | Buffer>) => {
  const f = new TerminalFilter();
  return chunks.map((c) => f.push(c)).join('') + f.end();
};

describe('TerminalFilter (task terminal)', () => {
  it('turns bare newlines into CRLF without doubling existing CRs', () => {
    expect(run('a\nb\r\nc\r')).toBe('a\r\nb\r\nc\r');
    expect(run('a\r', '\nb\n')).toBe('a\r\nb\r\n');
  });

  it('keeps colours and erase-line, drops other CSI', () => {
    expect(run('\x1b[1;31mred\x1b[0m \x1b[2K')).toBe('\x1b[1;31mred\x1b[0m \x1b[2K');
    expect(run('\x1b[6n\x1b[?1049h\x1b[8;100;100t\x1b[2Jx')).toBe('x');
    expect(run('\x9b31mx')).toBe('\x1b[31mx');
  });

  it('strips OSC 52, OSC 8 and title sets, whatever the terminator, even split across chunks', () => {
    expect(run('a\x1b]52;c;ZXZpbA==\x07b')).toBe('ab');
    expect(run('\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\')).toBe('link');
    expect(run('\x1b]0;pwned\x07', '\x1b]2;t', 'itle\x1b', '\\ok')).toBe('ok');
    expect(run('\x9d0;t\x9cz', '\x1bP1$r\x1b\\y')).toBe('zy');
  });

  it('drops stray controls and bidi overrides, keeps tabs and UTF-8 split across chunks', () => {
    const euro = Buffer.from('€');
    expect(run(Buffer.from('x\x00\x07\x85\t'), euro.subarray(0, 1), Buffer.concat([euro.subarray(1), Buffer.from('\u202e!')]))).toBe('x\t€!');
  });

  it('crlf() for our own text', () => {
    expect(crlf('a\nb\r\nc')).toBe('a\r\nb\r\nc');
  });
});
