// Host-key review: one notification for all unknown keys met by probes; one multi-select QuickPick to
// accept them. Changed or revoked keys are shown as errors with both fingerprints and no accept button.
// A tailnet peer that publishes its host keys (`sshHostKeys`) is offered with exactly those keys, marked
// as coming from the tailnet; a presented key the tailnet does not publish is flagged.
import * as vscode from 'vscode';
import { rememberHostKey, rememberHostKeys } from '../../core/ssh/connect';
import { tailnetKeyOffer, type TailnetKeyOffer } from '../../core/ssh/tailnetKeys';
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
    type Item = vscode.QuickPickItem & { alias: string; tailnet?: TailnetKeyOffer };
    const items: Item[] = unknown.map((h) => {
      const q = h.hostKey!.question;
      const peer = this.fleet.snapshot.inventory?.hosts.find((x) => x.alias === h.alias)?.tailscale;
      const offer = tailnetKeyOffer(peer, h.hostKey!.blob);
      const where = `${q.hostname}:${q.port}${q.via ? ` via ${q.via}` : ''}`;
      if (offer?.presentedIsPublished) {
        const keys = offer.keys.map((k) => `${k.keyType} ${k.fingerprint}`).join(', ');
        return {
          label: `$(globe) ${h.alias}`,
          description: `${where} · keys from the tailnet (peer ${offer.peer})`,
          detail: `trusts the ${offer.keys.length === 1 ? 'key' : `${offer.keys.length} keys`} the tailnet publishes, the presented ${q.keyType} among them: ${keys}`,
          alias: h.alias,
          tailnet: offer,
        };
      }
      return {
        label: h.alias,
        description: where,
        detail: `${q.keyType} ${q.fingerprint}${offer ? ` — $(warning) not one of the keys the tailnet publishes for peer ${offer.peer}: compare out of band` : ''}`,
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
      if (item.tailnet) rememberHostKeys(host, item.tailnet.keys.map((k) => k.blob));
      else rememberHostKey(host, h.hostKey.blob);
      this.fleet.health.forget(item.alias);
    }
    await Promise.all(picked.map((p) => this.fleet.checkHost(p.alias)));
  }

  dispose(): void { this.sub.dispose(); }
}
