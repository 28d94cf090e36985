// The core's questions, asked with VS Code UI. Only an explicit "Accept" accepts a host key: a
// dismissed dialog resolves undefined, which must never count as yes (ssh-traps §2.2 trap 2).
import * as vscode from 'vscode';
import type { HostKeyQuestion, Prompter } from '../core/types';

export const ACCEPT = 'Accept and Connect';

export function hostKeyDetail(q: HostKeyQuestion): string {
  return [
    `Host: ${q.alias} (${q.lookupName})${q.via ? ` via ${q.via}` : ''}`,
    `Key: ${q.keyType} ${q.fingerprint}`,
    `Accepting adds it to ${q.knownHostsFile}.`,
    'Compare the fingerprint with one obtained from the host itself (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub) before accepting.',
  ].join('\n');
}

export const vscodePrompter: Prompter = {
  async confirmHostKey(q) {
    const choice = await vscode.window.showWarningMessage(
      `${q.alias} presents a host key Flotilla has never seen.`,
      { modal: true, detail: hostKeyDetail(q) },
      ACCEPT,
    );
    return choice === ACCEPT;
  },
  passphrase: (keyPath, attempt) =>
    Promise.resolve(vscode.window.showInputBox({
      title: 'Flotilla: key passphrase',
      prompt: `${attempt > 1 ? 'Wrong passphrase — try again. ' : ''}Passphrase for ${keyPath}`,
      password: true,
      ignoreFocusOut: true,
    })),
  password: (user, host) =>
    Promise.resolve(vscode.window.showInputBox({ title: 'Flotilla: password', prompt: `Password for ${user}@${host}`, password: true, ignoreFocusOut: true })),
  async keyboardInteractive(user, host, prompts) {
    const answers: string[] = [];
    for (const p of prompts) {
      const a = await vscode.window.showInputBox({ title: `Flotilla: ${user}@${host}`, prompt: p.prompt, password: !p.echo, ignoreFocusOut: true });
      if (a === undefined) return undefined;
      answers.push(a);
    }
    return answers;
  },
};
