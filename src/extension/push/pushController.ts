// Push in the editor: source → targets → remote path → the core's dry-run session (the Push Plan view fills
// in host by host) → Apply after a confirmation that names every host's counts and deletions → the core
// applies (re-checking the local files and re-planning each host under its lock) → per-host results.
// This file only asks and renders; scanning, planning and applying are core/push/push.ts.
import * as vscode from 'vscode';
import { inStatusBar, withProgressToast } from '../progress';
import { lstat } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { applySession, planSession, type PushEvent } from '../../core/push/push';
import { joinRemote } from '../../core/push/remotePath';
import type { PushSource as CoreSource } from '../../core/push/scan';
import { sanitizeForView } from '../../core/exec/output';
import type { Fleet } from '../fleet';
import type { Pool } from '../../core/ssh/pool';
import type { HostsNode } from '../hosts/hostsTree';
import type { PlanNode } from './planView';
import { resolveTargets } from '../hosts/targets';
import { askRemotePath, configuredPath, readPushSettings, type PathMemory } from './pushPrompts';
import { remoteFileUri, type RemoteFileProvider } from './remoteDocs';
import { reportUri } from './report';
import { planWork, type PushSession, type PushSource, type SessionStore } from './session';

export const PLAN_VIEW = 'flotilla.pushPlan';

export function refuseIfUntrusted(what: string): boolean {
  if (vscode.workspace.isTrusted) return false;
  void vscode.window.showErrorMessage(
    `Flotilla: ${what} is disabled in Restricted Mode — this workspace is not trusted, and a push sends its files to your hosts. Trust the workspace first.`,
    'Manage Workspace Trust',
  ).then((a) => { if (a) void vscode.commands.executeCommand('workbench.trust.manage'); });
  return true;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function coreSource(source: PushSource): CoreSource {
  return source.files ? { kind: 'files', root: source.root, names: source.files } : { kind: 'dir', root: source.root };
}

export class PushController {
  constructor(
    private readonly fleet: Fleet,
    private readonly pool: Pool,
    private readonly store: SessionStore,
    private readonly memory: PathMemory,
    private readonly remoteDocs?: RemoteFileProvider,
  ) {}

  private get busy(): boolean {
    return this.store.current?.state === 'applying';
  }

  /** "Push Workspace…" (palette, Hosts tree) — also called by Agents with (host node, undefined, remote dir). */
  async pushWorkspace(node?: HostsNode, selection?: readonly HostsNode[], remoteDir?: string): Promise<void> {
    if (refuseIfUntrusted('pushing')) return;
    const folders = vscode.workspace.workspaceFolders ?? [];
    if (!folders.length) {
      void vscode.window.showErrorMessage('Flotilla: open a folder first — Push Workspace pushes the workspace folder.');
      return;
    }
    let folder = folders[0]!;
    if (folders.length > 1) {
      const pick = await vscode.window.showQuickPick(folders.map((f) => ({ label: f.name, description: f.uri.fsPath, folder: f })), { title: 'Push which workspace folder?' });
      if (!pick) return;
      folder = pick.folder;
    }
    await this.startPush({ root: folder.uri.fsPath, label: folder.name }, node, selection, remoteDir);
  }

  /** Explorer: one folder, or files of one directory. */
  async pushFolder(uri?: vscode.Uri, uris?: readonly vscode.Uri[]): Promise<void> {
    if (refuseIfUntrusted('pushing')) return;
    const chosen = (uris?.length ? uris : uri ? [uri] : []).filter((u) => u instanceof vscode.Uri || (u && typeof u === 'object' && 'fsPath' in u));
    if (!chosen.length) {
      await this.pushWorkspace();
      return;
    }
    const paths = chosen.map((u) => u.fsPath);
    const stats = await Promise.all(paths.map((p) => lstat(p).catch(() => undefined)));
    if (stats.some((s) => !s)) {
      void vscode.window.showErrorMessage(`Flotilla: ${paths[stats.findIndex((s) => !s)]} no longer exists.`);
      return;
    }
    if (paths.length === 1 && stats[0]!.isDirectory()) {
      await this.startPush({ root: paths[0]!, label: `${basename(paths[0]!)}/` });
      return;
    }
    if (stats.some((s) => s!.isDirectory()) || new Set(paths.map((p) => dirname(p))).size > 1) {
      void vscode.window.showErrorMessage('Flotilla: push one folder, or files from one folder, at a time.');
      return;
    }
    const root = dirname(paths[0]!);
    const files = paths.map((p) => relative(root, p));
    await this.startPush({ root, label: files.length === 1 ? files[0]! : `${files.length} files from ${basename(root)}/`, files });
  }

  private async startPush(source: PushSource, node?: HostsNode, selection?: readonly HostsNode[], remoteDir?: string): Promise<void> {
    if (this.busy) {
      void vscode.window.showWarningMessage('Flotilla: a push is being applied; wait for it or cancel it first.');
      return;
    }
    const targets = await resolveTargets(this.fleet, node, selection, { title: `Push ${source.label}`, placeHolder: 'Push to which hosts?' });
    if (!targets?.hosts.length) return;
    const settings = readPushSettings();
    const configured = configuredPath(settings, targets);
    const suggestions = [
      ...(remoteDir ? [{ path: remoteDir, why: 'requested' }] : []),
      ...(configured ? [{ path: configured, why: 'flotilla.push.remotePaths' }] : []),
      ...this.memory.recall(targets.key, source.root).map((path) => ({ path, why: 'last used' })),
    ];
    const remote = await askRemotePath({
      title: `Push ${source.label} to ${targets.label} (${plural(targets.hosts.length, 'host')})`,
      prompt: source.files?.length === 1
        ? 'Remote directory (ending in /, or an existing one) to put the file in, or the file\'s own remote path: absolute, or ~/ for the home directory'
        : source.files ? 'Remote directory to put the files in: absolute, or ~/ for the home directory' : 'Remote directory that will mirror the folder: absolute, or ~/ for the home directory',
      settings,
      suggestions,
      initial: source.files ? `~/${basename(source.root)}/` : `~/${basename(source.root)}`,
      allowHome: !!source.files,
    });
    if (!remote) return;
    await this.memory.remember(targets.key, source.root, remote);
    const session = this.store.start({
      source, targetLabel: targets.label, targetKey: targets.key, hosts: [...targets.hosts], remote,
      delete: settings.delete && !source.files, maxDelete: settings.maxDelete,
    });
    await vscode.commands.executeCommand(`${PLAN_VIEW}.focus`).then(undefined, () => undefined);
    await this.plan(session);
  }

  /** The core's dry-run session; the view fills in host by host. Writes nothing remotely. */
  async plan(s: PushSession): Promise<void> {
    const settings = readPushSettings();
    const controller = new AbortController();
    s.controller = controller;
    s.state = 'planning';
    s.plans.clear();
    s.results.clear();
    s.progress.clear();
    s.note = undefined;
    s.planned = undefined;
    s.maxDelete = settings.maxDelete;
    this.store.fire();
    let failure: string | undefined;
    // The plan fills the Push view host by host (its Cancel stops it): a toast would outlast quick plans.
    await inStatusBar(`Flotilla: planning push to ${s.targetLabel}`, async (progress) => {
      let done = 0;
      const on = (e: PushEvent) => {
        if (!this.store.isCurrent(s)) return;
        if (e.kind === 'scanned') {
          s.scan = e.scan;
          progress.report({ message: `${plural(e.scan.entries.size, 'local entry', 'local entries')}; listing ${plural(s.hosts.length, 'host')}…` });
        } else if (e.kind === 'planned') {
          s.plans.set(e.host, e.plan);
          done++;
          progress.report({ message: `${done}/${s.hosts.length} hosts planned`, increment: 100 / s.hosts.length });
          this.store.fire();
        }
      };
      try {
        progress.report({ message: `scanning ${s.source.label}…` });
        const planned = await planSession(this.pool, s.hosts, coreSource(s.source), s.remote, {
          delete: s.delete, maxDelete: s.maxDelete, root: settings.root, exclude: settings.exclude, signal: controller.signal, on,
        });
        if (this.store.isCurrent(s)) s.planned = planned;
      } catch (err) {
        failure = (err as Error).message;
      }
    });
    if (!this.store.isCurrent(s)) return;
    s.controller = undefined;
    if (controller.signal.aborted) {
      this.store.clear();
      void vscode.window.showInformationMessage('Flotilla: push planning cancelled; nothing was written.');
      return;
    }
    if (failure) {
      this.store.clear();
      void vscode.window.showErrorMessage(`Flotilla: cannot plan the push: ${sanitizeForView(failure)}`);
      return;
    }
    s.state = 'planned';
    s.plannedAt = Date.now();
    this.store.fire();
  }

  async replan(): Promise<void> {
    const s = this.store.current;
    if (!s || s.state === 'applying' || s.state === 'planning') return;
    await this.plan(s);
  }

  async toggleDelete(): Promise<void> {
    const s = this.store.current;
    if (!s || s.state !== 'planned') return;
    if (s.source.files) {
      void vscode.window.showInformationMessage('Flotilla: deletion applies to folder pushes only; pushing single files never deletes.');
      return;
    }
    s.delete = !s.delete;
    await this.plan(s);
    if (this.store.isCurrent(s) && s.state === 'planned') {
      void vscode.window.setStatusBarMessage(s.delete ? `Push plan now includes deletions (at most ${s.maxDelete} per host)` : 'Push plan: deletions off', 4000);
    }
  }

  /** The modal's summary: per-host counts, deletions by name, hosts that will be skipped. */
  private confirmation(s: PushSession): { detail: string; work: number; deletes: number } {
    const lines: string[] = [];
    const deletions: string[] = [];
    let work = 0;
    let deletes = 0;
    for (const host of s.hosts) {
      const plan = s.plans.get(host)!;
      if (plan.fatal) {
        lines.push(`${host}: skipped — ${sanitizeForView(plan.fatal)}`);
        continue;
      }
      const n = planWork(plan) + (plan.destMissing ? 1 : 0) + plan.leftovers.length;
      work += n;
      const parts = [
        plan.create.length && `${plan.create.length} new`,
        plan.update.length && `${plan.update.length} changed`,
        plan.delete.length && !plan.deleteBlocked && `${plan.delete.length} deleted`,
      ].filter(Boolean);
      let line = `${host}: ${parts.length ? parts.join(', ') : 'up to date'}`;
      if (plan.delete.length && plan.deleteBlocked) line += ` (${plan.delete.length} deletions blocked)`;
      if (plan.parents.length) line += `, creating ${plural(plan.parents.length, 'missing parent')}`;
      if (plan.leftovers.length) line += `, removing ${plural(plan.leftovers.length, 'leftover temp file')}`;
      if (plan.errors.length) line += ` (${plural(plan.errors.length, 'error')})`;
      lines.push(line);
      if (plan.delete.length && !plan.deleteBlocked) {
        deletes += plan.delete.length;
        const names = plan.delete.slice(0, 5).map((i) => sanitizeForView(i.path)).join(', ');
        deletions.push(`${host}: ${names}${plan.delete.length > 5 ? `, … (${plan.delete.length - 5} more)` : ''}`);
      }
    }
    const detail = [
      `Destination: ${s.remote}`,
      '',
      ...lines,
      ...(deletions.length ? ['', 'Remote files that will be DELETED:', ...deletions] : []),
    ].join('\n');
    return { detail, work, deletes };
  }

  async apply(): Promise<void> {
    const s = this.store.current;
    if (!s || s.state !== 'planned' || !s.scan) return;
    if (refuseIfUntrusted('pushing')) return;
    const { detail, work, deletes } = this.confirmation(s);
    if (!work) {
      void vscode.window.showInformationMessage('Flotilla: nothing to push — every reachable host is up to date.');
      return;
    }
    const go = deletes ? `Push and Delete ${deletes}` : 'Push';
    const answer = await vscode.window.showWarningMessage(
      `Push ${s.source.label} to ${plural(s.hosts.filter((h) => !s.plans.get(h)?.fatal).length, 'host')}?`,
      { modal: true, detail },
      go,
    );
    if (answer !== go || !this.store.isCurrent(s) || s.state !== 'planned') return;

    const planned = s.planned;
    if (!planned) return;
    const controller = new AbortController();
    s.controller = controller;
    s.state = 'applying';
    this.store.fire();
    const total = s.hosts.reduce((n, h) => n + planWork(s.plans.get(h)!), 0);
    let moved: string[] | undefined;
    await withProgressToast(`Flotilla: pushing ${s.source.label} to ${s.targetLabel}`, async (progress, token) => {
      token.onCancellationRequested(() => controller.abort());
      let reported = 0;
      const report = () => {
        const done = [...s.progress.values()].reduce((n, p) => n + p.done, 0);
        progress.report({ message: `${done}/${total} items · ${s.results.size}/${s.hosts.length} hosts done`, increment: total ? ((done - reported) * 100) / total : undefined });
        reported = done;
      };
      const on = (e: PushEvent) => {
        if (e.kind === 'progress') s.progress.set(e.host, e);
        else if (e.kind === 'applied') s.results.set(e.host, e.result);
        else if (e.kind === 'waiting') progress.report({ message: `${e.host}: waiting — ${e.why}` });
        else return;
        report();
        this.store.fire();
      };
      const outcome = await applySession(this.pool, planned, { signal: controller.signal, on });
      if (outcome.kind === 'local-changed') moved = outcome.paths;
    });
    if (moved) {
      s.controller = undefined;
      s.state = 'planned';
      this.store.fire();
      // The plan is what the user approved: the local files moved on since, so show the new plan instead.
      const again = await vscode.window.showWarningMessage(
        `${plural(moved.length, 'local file')} changed since the plan was made (${moved.slice(0, 3).map(sanitizeForView).join(', ')}${moved.length > 3 ? ', …' : ''}). Nothing was pushed.`,
        { modal: true, detail: 'Re-plan to see what a push would do now, then apply again.' },
        'Re-plan',
      );
      if (again === 'Re-plan' && this.store.isCurrent(s)) await this.plan(s);
      return;
    }
    s.controller = undefined;
    s.state = 'applied';
    this.store.fire();
    this.remoteDocs?.refresh(s.hosts);
    this.announce(s);
  }

  private announce(s: PushSession): void {
    const counts = new Map<string, string[]>();
    for (const host of s.hosts) {
      const st = s.results.get(host)?.state ?? 'failed';
      counts.set(st, [...(counts.get(st) ?? []), host]);
    }
    const order = ['ok', 'partial', 'failed', 'unreachable', 'cancelled'];
    const summary = order.filter((k) => counts.has(k)).map((k) => `${counts.get(k)!.length} ${k}`).join(', ');
    const bad = s.hosts.filter((h) => s.results.get(h)?.state !== 'ok');
    const text = `Flotilla: push to ${s.targetLabel}: ${summary}.`;
    const show = (a: string | undefined) => { if (a === 'Show Report') void this.showReport(); };
    if (!bad.length) void vscode.window.showInformationMessage(text, 'Show Report').then(show);
    else if (counts.has('cancelled') && bad.length === counts.get('cancelled')!.length) void vscode.window.showWarningMessage(`${text} Files already sent stay in place; re-plan to see what is left.`, 'Show Report').then(show);
    else void vscode.window.showErrorMessage(`${text} ${bad.map((h) => `${h}: ${sanitizeForView(s.results.get(h)?.reason ?? 'failed')}`).join('; ')}`, 'Show Report').then(show);
  }

  cancel(): void {
    const s = this.store.current;
    s?.controller?.abort();
  }

  async dismiss(): Promise<void> {
    const s = this.store.current;
    if (!s) return;
    if (s.state === 'applying') {
      void vscode.window.showWarningMessage('Flotilla: a push is being applied; cancel it first.');
      return;
    }
    this.store.clear();
  }

  async showReport(): Promise<void> {
    const s = this.store.current;
    if (!s) return;
    const doc = await vscode.workspace.openTextDocument(reportUri(s));
    await vscode.window.showTextDocument(doc, { preview: true });
  }

  /** Remote ↔ local diff of a changed file; a new file opens locally; a file to be deleted opens remotely. */
  async openDiff(node?: PlanNode): Promise<void> {
    if (!node || node.kind !== 'item' || node.item.type !== 'file') return;
    const plan = node.session.plans.get(node.host);
    const local = vscode.Uri.file(join(node.session.source.root, ...node.item.path.split('/')));
    const remotePath = plan?.absDest ? joinRemote(plan.absDest, node.item.path) : undefined;
    const name = basename(node.item.path);
    if (node.item.action === 'create' || !remotePath) {
      await vscode.window.showTextDocument(local, { preview: true });
      return;
    }
    const remote = remoteFileUri(node.host, remotePath);
    if (node.item.action === 'delete') {
      await vscode.window.showTextDocument(remote, { preview: true });
      return;
    }
    await vscode.commands.executeCommand('vscode.diff', remote, local, `${name} (${node.host} ↔ local)`, { preview: true });
  }
}
