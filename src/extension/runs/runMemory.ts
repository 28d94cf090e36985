// What Run Command… remembers between runs (in globalState, on this machine only): the recent command
// lines, and the working directory last used for each target.
import type * as vscode from 'vscode';

const RECENT_KEY = 'flotilla.runs.recentCommands';
const CWD_KEY = 'flotilla.runs.cwdByTarget';
const MAX_RECENT = 20;

export class RunMemory {
  constructor(private readonly state: vscode.Memento) {}

  recentCommands(): string[] {
    return this.state.get<string[]>(RECENT_KEY, []);
  }

  async rememberCommand(command: string): Promise<void> {
    const recent = [command, ...this.recentCommands().filter((c) => c !== command)].slice(0, MAX_RECENT);
    await this.state.update(RECENT_KEY, recent);
  }

  cwdFor(targetKey: string): string | undefined {
    return this.state.get<Record<string, string>>(CWD_KEY, {})[`t:${targetKey}`];
  }

  async rememberCwd(targetKey: string, cwd: string | undefined): Promise<void> {
    const all = { ...this.state.get<Record<string, string>>(CWD_KEY, {}) };
    const key = `t:${targetKey}`; // never a bare `__proto__`
    if (cwd) all[key] = cwd;
    else delete all[key];
    await this.state.update(CWD_KEY, all);
  }

  async forgetCommands(): Promise<void> {
    await this.state.update(RECENT_KEY, []);
  }
}
