// VS Code terminals over ssh2 pty channels: attached to a remote tmux session (closing the terminal
// detaches; the session lives on) or a plain login shell. A dropped connection prints a message and
// reattaches on the next key press. This is the one place remote escape sequences pass through.
import * as vscode from 'vscode';
import { AttachedSession } from '../core/tmux/attach';
import type { Pool } from '../core/ssh/pool';

interface Session {
  onData(cb: (d: string) => void): void;
  onEnd(cb: (how: 'closed-by-us' | 'exited' | 'lost', code?: number | null) => void): void;
  write(d: string): void;
  resize(cols: number, rows: number): void;
  close(): void;
}

export type SessionOpener = (dims: vscode.TerminalDimensions) => Promise<Session>;

export function tmuxOpener(pool: () => Pool, target: string, create: boolean, cwd?: string): SessionOpener {
  return async (dims) => {
    const s = await AttachedSession.open(pool(), target, { cols: dims.columns, rows: dims.rows, create, cwd });
    return {
      onData: (cb) => void s.onData(cb),
      onEnd: (cb) => void s.onExit((e) => cb(e.reason === 'detached' ? 'closed-by-us' : e.reason === 'exited' ? 'exited' : 'lost', e.reason === 'exited' ? e.code : undefined)),
      write: (d) => s.write(d),
      resize: (c, r) => s.resize(c, r),
      close: () => s.detach(),
    };
  };
}

export function shellOpener(pool: () => Pool, alias: string): SessionOpener {
  return async (dims) => {
    const lease = await pool().shell(alias, { term: 'xterm-256color', cols: dims.columns, rows: dims.rows, width: 0, height: 0 });
    const ch = lease.channel;
    ch.setEncoding('utf8');
    let closedByUs = false;
    let exit: number | null | undefined;
    ch.on('exit', (code: number | null) => (exit = code));
    return {
      onData: (cb) => { ch.on('data', cb); ch.stderr.on('data', (d: Buffer | string) => cb(d.toString())); },
      onEnd: (cb) => ch.once('close', () => { lease.release(); cb(closedByUs ? 'closed-by-us' : exit !== undefined ? 'exited' : 'lost', exit); }),
      write: (d) => ch.write(d),
      resize: (c, r) => ch.setWindow(r, c, 0, 0),
      close: () => { closedByUs = true; try { ch.close(); } catch { /* gone */ } },
    };
  };
}

export class RemotePty implements vscode.Pseudoterminal {
  private readonly writeEmitter = new vscode.EventEmitter<string>();
  private readonly closeEmitter = new vscode.EventEmitter<number | void>();
  readonly onDidWrite = this.writeEmitter.event;
  readonly onDidClose = this.closeEmitter.event;
  private session?: Session;
  private dims: vscode.TerminalDimensions = { columns: 80, rows: 24 };
  private waitingForKey = false;
  private opening = false;

  constructor(private readonly label: string, private readonly opener: SessionOpener) {}

  open(dims: vscode.TerminalDimensions | undefined): void {
    if (dims) this.dims = dims;
    void this.connect();
  }

  private async connect(): Promise<void> {
    if (this.opening) return;
    this.opening = true;
    this.writeEmitter.fire(`\x1b[2mConnecting to ${this.label}…\x1b[0m\r\n`);
    try {
      const s = await this.opener(this.dims);
      this.session = s;
      s.onData((d) => this.writeEmitter.fire(d));
      s.onEnd((how, code) => {
        this.session = undefined;
        if (how === 'closed-by-us') return;
        if (how === 'exited') {
          this.closeEmitter.fire(code ?? 0);
          return;
        }
        this.waitingForKey = true;
        this.writeEmitter.fire(`\r\n\x1b[33m[Flotilla] The connection to ${this.label} was lost. Press any key to reattach.\x1b[0m\r\n`);
      });
      s.resize(this.dims.columns, this.dims.rows);
    } catch (err) {
      this.waitingForKey = true;
      this.writeEmitter.fire(`\r\n\x1b[31m[Flotilla] ${err instanceof Error ? err.message : String(err)}\x1b[0m\r\nPress any key to try again, or close this terminal.\r\n`);
    } finally {
      this.opening = false;
    }
  }

  handleInput(data: string): void {
    if (this.waitingForKey) {
      this.waitingForKey = false;
      void this.connect();
      return;
    }
    this.session?.write(data);
  }

  setDimensions(dims: vscode.TerminalDimensions): void {
    this.dims = dims;
    this.session?.resize(dims.columns, dims.rows);
  }

  close(): void {
    this.session?.close();
    this.session = undefined;
  }
}

export function openRemoteTerminal(name: string, label: string, opener: SessionOpener): vscode.Terminal {
  const terminal = vscode.window.createTerminal({ name, pty: new RemotePty(label, opener), iconPath: new vscode.ThemeIcon('terminal-tmux') });
  terminal.show();
  return terminal;
}
