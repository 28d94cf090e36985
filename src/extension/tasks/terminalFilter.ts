// Remote output on its way into a task terminal (a real xterm): colours and erase-line may pass, but
// nothing that talks to the terminal or the OS — OSC (52 clipboard, 8 links, 0/1/2 titles), DCS, SOS,
// PM, APC, other CSI (cursor reports, window ops, modes), C1 and stray C0 controls are dropped.
// `\n` becomes `\r\n` (a pty-less remote command prints bare newlines). Works chunk by chunk: sequences
// and UTF-8 characters split across chunks are handled. No `vscode` import: unit-testable.
import { StringDecoder } from 'node:string_decoder';

type State = 'text' | 'esc' | 'csi' | 'string' | 'stringEsc';

/** CSI finals let through: SGR (colours) and EL (erase in line, used by progress output). */
const ALLOWED_CSI_FINALS = new Set(['m', 'K']);
const MAX_CSI = 64;

export class TerminalFilter {
  private readonly decoder = new StringDecoder('utf8');
  private state: State = 'text';
  private csi = '';
  private lastWasCr = false;

  /** Filters one chunk; keeps state for the next. */
  push(chunk: Buffer | string): string {
    return this.filter(typeof chunk === 'string' ? chunk : this.decoder.write(chunk));
  }

  /** Flushes a trailing partial UTF-8 character; an unterminated sequence is dropped. */
  end(): string {
    const rest = this.filter(this.decoder.end());
    this.state = 'text';
    this.csi = '';
    return rest;
  }

  private filter(s: string): string {
    let out = '';
    for (const ch of s) {
      const c = ch.codePointAt(0)!;
      switch (this.state) {
        case 'text':
          if (c === 0x1b) this.state = 'esc';
          else if (c === 0x9b) { this.state = 'csi'; this.csi = ''; }
          else if (c === 0x90 || c === 0x98 || c === 0x9d || c === 0x9e || c === 0x9f) this.state = 'string';
          else if (c === 0x0a) { out += this.lastWasCr ? '\n' : '\r\n'; }
          else if (c === 0x0d || c === 0x09 || c === 0x08) out += ch;
          else if (c < 0x20 || c === 0x7f || (c >= 0x80 && c <= 0x9f)) { /* dropped control */ }
          else if ((c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)) { /* bidi override: dropped */ }
          else out += ch;
          break;
        case 'esc':
          if (ch === '[') { this.state = 'csi'; this.csi = ''; }
          else if (ch === ']' || ch === 'P' || ch === 'X' || ch === '^' || ch === '_') this.state = 'string';
          else if (c >= 0x20 && c <= 0x2f) { /* intermediate of a two-byte escape: keep skipping */ }
          else this.state = 'text'; // final byte (or anything else) ends the escape; it is dropped
          break;
        case 'csi':
          if (c >= 0x40 && c <= 0x7e) {
            if (ALLOWED_CSI_FINALS.has(ch) && /^[0-9;:]*$/.test(this.csi)) out += `\x1b[${this.csi}${ch}`;
            this.state = 'text';
            this.csi = '';
          } else if (c >= 0x20 && c <= 0x3f && this.csi.length < MAX_CSI) this.csi += ch;
          else if (c >= 0x20 && c <= 0x3f) { /* over-long: keep consuming, emit nothing */ this.csi = '\u0000'; }
          else { this.state = 'text'; this.csi = ''; } // broken sequence: drop it
          break;
        case 'string':
          if (c === 0x07 || c === 0x9c || c === 0x18 || c === 0x1a) this.state = 'text';
          else if (c === 0x1b) this.state = 'stringEsc';
          break;
        case 'stringEsc':
          this.state = ch === '\\' ? 'text' : 'string';
          break;
      }
      if (this.state === 'text' && out.length) this.lastWasCr = out.endsWith('\r');
    }
    return out;
  }
}

/** Text we print ourselves (decisions, summaries): `\n` → `\r\n`, nothing else touched. */
export function crlf(text: string): string {
  return text.replace(/\r?\n/g, '\r\n');
}
