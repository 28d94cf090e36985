// Host-key review: one notification for all unknown keys met by probes; one multi-select QuickPick to
// accept them. Changed or revoked keys are shown as errors with both fingerprints and no accept button.
import * as vscode from 'vscode';
import { rememberHostKey } from '../../core/ssh/connect';
import { describeVerdict } from '../../core/ssh/knownHosts';
import type { Fleet } from '../fleet';

export class HostKeyReview implements vscode.Disposable {
  private notified = new Set<string>();
  private readonly sub: vscode.Disposable;

  constructor(private readonly fleet: Fleet) {
    this.sub = fleet.onDidChangeHealth(() => this.maybeNotify());
  }

  private pending() {
    return this.fleet.aliases
      .map((a) => this.fleet.health.get(a))
      .filter((h): h is NonNullable<typeof h> => !!h?.hostKey);
  }

  private maybeNotify(): void {
    const hosts = this.pending();
    const unknown = hosts.filter((h) => h.hostKey!.verdict.kind === 'unknown' && !this.notified.has(`${h.alias}:${h.hostKey!.question.fingerprint}`));
    const bad = hosts.filter((h) => h.hostKey!.verdict.kind !== 'unknown' && !this.notified.has(`${h.alias}:${h.hostKey!.question.fingerprint}`));
    for (const h of [...unknown, ...bad]) this.notified.add(`${h.alias}:${h.hostKey!.question.fingerprint}`);
    if (unknown.length) {
      const n = unknown.length;
      void vscode.window
        .showWarningMessage(`${n} host${n === 1 ? '' : 's'} present${n === 1 ? 's' : ''} unknown host keys`, 'Review')
        .then((c) => (c === 'Review' ? this.review() : undefined));
    }
    for (const h of bad) {
      void vscode.window.showErrorMessage(describeVerdict(h.hostKey!.verdict, h.alias), { modal: false }, 'Open ssh Config').then((c) => {
        if (c) void vscode.commands.executeCommand('flotilla.openSshConfig', { kind: 'host', alias: h.alias });
      });
    }
  }

  async review(): Promise<void> {
    const unknown = this.pending().filter((h) => h.hostKey!.verdict.kind === 'unknown');
    if (!unknown.length) {
      void vscode.window.showInformationMessage('Flotilla: no unknown host keys to review.');
      return;
    }
    type Item = vscode.QuickPickItem & { alias: string };
    const items: Item[] = unknown.map((h) => {
      const q = h.hostKey!.question;
      return {
        label: h.alias,
        description: `${q.hostname}:${q.port}${q.via ? ` via ${q.via}` : ''}`,
        detail: `${q.keyType} ${q.fingerprint}`,
        alias: h.alias,
      };
    });
    const picked = await vscode.window.showQuickPick(items, {
      canPickMany: true,
      title: 'Flotilla: accept host keys (compare fingerprints with the hosts before accepting)',
      placeHolder: 'Select the keys to trust; they are added to known_hosts',
      matchOnDetail: true,
      ignoreFocusOut: true,
    });
    if (!picked?.length) return;
    for (const item of picked) {
      const h = this.fleet.health.get(item.alias);
      if (!h?.hostKey || h.hostKey.verdict.kind !== 'unknown') continue;
      const host = await this.fleet.resolve(item.alias);
      rememberHostKey(host, h.hostKey.blob);
      this.fleet.health.forget(item.alias);
    }
    await Promise.all(picked.map((p) => this.fleet.checkHost(p.alias)));
  }

  dispose(): void { this.sub.dispose(); }
}
