// The extension's view of the fleet: inventory, resolved hosts, the shared pool and health, kept
// current as settings and files change. Views and commands read from here; nothing here draws UI.
import * as vscode from 'vscode';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { loadInventory, type Inventory } from '../core/config/inventory';
import { resolveHost } from '../core/config/sshConfig';
import { HealthHistory } from '../core/health/history';
import { MetricsCache } from '../core/health/metrics';
import { checkFleet, type HostHealth } from '../core/health/probe';
import { Pool } from '../core/ssh/pool';
import type { Prompter, ResolvedHost } from '../core/types';

/** Hosts probed at once: a big fleet must not open hundreds of handshakes together. */
const PROBE_CONCURRENCY = 32;
/** How often this window folds old days of the health history (another process may do it too). */
const COMPACT_EVERY_MS = 3_600_000;

export interface FleetSettings {
  sshConfigFile?: string;
  groupsFile?: string;
  /** Ansible inventory sources; read only in a trusted workspace. */
  ansibleInventories: string[];
  ansibleAllowScripts: boolean;
  tailscale: boolean;
  matchExec: boolean;
  intervalSeconds: number;
  connectTimeoutSeconds: number;
}

export function readSettings(): FleetSettings {
  const c = vscode.workspace.getConfiguration('flotilla');
  const path = (key: string) => {
    const v = c.get<string>(key, '').trim();
    return v ? v.replace(/^~(?=$|\/)/, homedir()) : undefined;
  };
  return {
    sshConfigFile: path('sshConfigFile'),
    groupsFile: path('groupsFile'),
    ansibleInventories: c.get<string[]>('ansible.inventory', []).map((p) => p.trim()).filter(Boolean).map((p) => p.replace(/^~(?=$|\/)/, homedir())),
    ansibleAllowScripts: c.get<boolean>('ansible.allowInventoryScripts', false),
    tailscale: c.get<boolean>('tailscale.enabled', false),
    matchExec: c.get<boolean>('matchExec', false),
    intervalSeconds: Math.max(5, c.get<number>('health.intervalSeconds', 30)),
    connectTimeoutSeconds: Math.max(1, c.get<number>('connectTimeoutSeconds', 10)),
  };
}

export class Fleet implements vscode.Disposable {
  inventory: Inventory | undefined;
  loadError: string | undefined;
  readonly resolved = new Map<string, ResolvedHost>();
  readonly health = new Map<string, HostHealth>();
  readonly metrics = new MetricsCache();
  pool: Pool;
  settings = readSettings();

  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [];
  private watchers: vscode.Disposable[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastFocusedAt = Date.now();
  private checking = false;
  private compactedAt = 0;
  /** Every probe result, shared with the CLI (same data root). */
  readonly healthHistory: HealthHistory;

  constructor(private readonly prompter: Prompter, private readonly log: vscode.LogOutputChannel, dataRoot: string) {
    this.healthHistory = new HealthHistory(dataRoot);
    this.pool = this.createPool();
    this.disposables.push(
      this.changed,
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('flotilla')) void this.reload(true);
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => void this.reload(true)),
      vscode.window.onDidChangeWindowState((s) => {
        if (s.focused) {
          const wasAway = Date.now() - this.lastFocusedAt > this.settings.intervalSeconds * 1000;
          this.lastFocusedAt = Date.now();
          if (wasAway) void this.checkAll();
        }
      }),
    );
  }

  private createPool(): Pool {
    return new Pool({
      resolve: (alias) => this.resolve(alias),
      prompter: this.prompter,
      connectTimeoutMs: this.settings.connectTimeoutSeconds * 1000,
    });
  }

  async resolve(alias: string): Promise<ResolvedHost> {
    const cached = this.resolved.get(alias);
    if (cached) return cached;
    const r = await (this.inventory ? this.inventory.resolve(alias) : resolveHost(alias, {}));
    this.resolved.set(alias, r);
    return r;
  }

  get aliases(): string[] {
    return this.inventory?.hosts.map((h) => h.alias) ?? [];
  }

  /** Re-reads config and groups; with `settingsChanged`, also rebuilds the pool. */
  async reload(settingsChanged = false): Promise<void> {
    if (settingsChanged) {
      this.settings = readSettings();
      const old = this.pool;
      this.pool = this.createPool();
      void old.dispose();
      this.health.clear();
    }
    // An inventory can name hosts and, with scripts allowed, run code: only where the user trusts the workspace.
    const ansibleInventories = vscode.workspace.isTrusted ? this.settings.ansibleInventories : [];
    if (!vscode.workspace.isTrusted && this.settings.ansibleInventories.length) this.log.warn('Ansible inventories are read only in a trusted workspace');
    try {
      this.inventory = await loadInventory({
        sshConfigFile: this.settings.sshConfigFile,
        groupsFile: this.settings.groupsFile,
        ansibleInventories,
        ansibleAllowScripts: this.settings.ansibleAllowScripts,
        tailscale: this.settings.tailscale,
        matchExec: this.settings.matchExec,
      });
      this.loadError = undefined;
      for (const w of this.inventory.warnings) this.log.warn(w);
    } catch (err) {
      this.loadError = err instanceof Error ? err.message : String(err);
      this.log.error(`cannot read the fleet: ${this.loadError}`);
    }
    this.resolved.clear();
    await Promise.all(this.aliases.map((a) => this.resolve(a).catch((err) => this.log.warn(`${a}: ${String(err)}`))));
    for (const alias of [...this.health.keys()]) if (!this.aliases.includes(alias)) this.health.delete(alias);
    this.watchFiles();
    this.changed.fire();
    void this.checkAll();
  }

  /** Files that define the fleet: the ssh config (and its Includes are re-read on change of the main file), groups file, Ansible inventories. */
  private watchFiles(): void {
    for (const w of this.watchers) w.dispose();
    const files = [this.settings.sshConfigFile ?? join(homedir(), '.ssh', 'config'), this.inventory?.groupsFile].filter((f): f is string => !!f);
    const ansible = vscode.workspace.isTrusted ? this.settings.ansibleInventories : [];
    const watched = [
      ...files.map((file) => ({ file, also: [] as string[] })),
      // An inventory is also its group_vars/ and host_vars/ beside it (or, for a directory, everything below it).
      ...ansible.map((file) => ({ file, also: ['group_vars/**', 'host_vars/**'] })),
    ];
    this.watchers = watched.map(({ file, also }) => {
      const name = file.split('/').pop()!;
      const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(join(file, '..')), `{${[name, `${name}/**`, ...also].join(',')}}`));
      const onChange = () => void this.reload();
      w.onDidChange(onChange);
      w.onDidCreate(onChange);
      w.onDidDelete(onChange);
      return w;
    });
  }

  /** Probes every host (concurrently), then schedules the next round: a slow round never overlaps the next. */
  async checkAll(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    if (this.timer) clearTimeout(this.timer);
    try {
      const aliases = this.aliases;
      for (const a of aliases) {
        if (!this.health.has(a)) this.health.set(a, { alias: a, state: 'checking', layers: {}, checkedAt: Date.now() });
      }
      this.changed.fire();
      await this.probe(aliases);
    } finally {
      this.checking = false;
      this.changed.fire();
      this.schedule();
    }
  }

  async checkHost(alias: string): Promise<HostHealth> {
    const [h] = await this.probe([alias]);
    return h!;
  }

  /** Probes hosts (capped concurrency), recording each result as it arrives. */
  private probe(aliases: readonly string[]): Promise<HostHealth[]> {
    const opts = {
      connectTimeoutMs: this.settings.connectTimeoutSeconds * 1000, metrics: this.metrics, concurrency: PROBE_CONCURRENCY,
      history: { store: this.healthHistory, source: 'editor' as const },
    };
    if (Date.now() - this.compactedAt > COMPACT_EVERY_MS) {
      this.compactedAt = Date.now();
      void this.healthHistory.compact().catch((err: unknown) => this.log.warn(`health history: ${String(err)}`));
    }
    return checkFleet(this.pool, aliases, opts, (h) => {
      this.health.set(h.alias, h);
      this.changed.fire();
    });
  }


  private schedule(): void {
    this.timer = setTimeout(() => {
      const away = !vscode.window.state.focused && Date.now() - this.lastFocusedAt > this.settings.intervalSeconds * 1000;
      if (away) this.schedule();
      else void this.checkAll();
    }, this.settings.intervalSeconds * 1000);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.watchers) w.dispose();
    for (const d of this.disposables) d.dispose();
    void this.pool.dispose();
  }
}
