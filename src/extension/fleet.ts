// The extension's view of the fleet: a read-only snapshot (inventory, resolved hosts) replaced as a
// whole when settings or files change, plus events; health comes from the core monitor. The pool is
// created once and reconfigured, never replaced under the runs and terminals using it. Nothing here
// draws UI.
import * as vscode from 'vscode';
import { homedir } from 'node:os';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fleetFiles } from '../core/config/follow';
import { loadInventory, type Inventory, type InventoryOptions } from '../core/config/inventory';
import { resolveHost } from '../core/config/sshConfig';
import { tailnetPinger, type Tailnet } from '../core/config/tailscale';
import { resolveJumpHost, type JumpRequest } from '../core/ssh/jumpChain';
import { HealthHistory } from '../core/health/history';
import { HealthMonitor, type MonitorSettings } from '../core/health/monitor';
import type { HostHealth } from '../core/health/probe';
import { SshConfigError } from '../core/config/errors';
import { Pool } from '../core/ssh/pool';
import type { Prompter, ResolvedHost } from '../core/types';
import { oneAtATime } from '../core/rerun';

export interface FleetSettings {
  sshConfigFile?: string;
  groupsFile?: string;
  /** Ansible inventory sources; read only in a trusted workspace. */
  ansibleInventories: string[];
  ansibleAllowScripts: boolean;
  tailscale: boolean;
  /** The tailscale executable (default: `tailscale` on PATH). */
  tailscaleBinary?: string;
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
    tailscaleBinary: path('tailscale.path'),
    matchExec: c.get<boolean>('matchExec', false),
    intervalSeconds: Math.max(5, c.get<number>('health.intervalSeconds', 30)),
    connectTimeoutSeconds: Math.max(1, c.get<number>('connectTimeoutSeconds', 10)),
  };
}

/** Why the fleet (or part of it) could not be read, and where to fix it. */
export interface FleetProblem {
  message: string;
  file?: string;
  line?: number;
}

export interface FleetSnapshot {
  /** Undefined until the first read, or when the ssh config could not be read at all. */
  readonly inventory: Inventory | undefined;
  readonly problem: FleetProblem | undefined;
  readonly aliases: readonly string[];
  /** Resolved settings of the hosts, filled as they are resolved. */
  readonly resolved: ReadonlyMap<string, ResolvedHost>;
}

/** What consumers may do with health: read it, hear about changes, subscribe while shown, ask for a probe, tell what a run saw. */
export type FleetHealth = Pick<HealthMonitor, 'get' | 'snapshot' | 'onDidChange' | 'subscribe' | 'check' | 'forget' | 'observe' | 'metrics'>;

/** How often this window folds old days of the health history (another process may do it too). */
const COMPACT_EVERY_MS = 3_600_000;

function monitorSettings(s: FleetSettings, history: HealthHistory, tailnet: () => Tailnet | undefined): MonitorSettings {
  return {
    // With Tailscale on, tailnet hosts get a `tailscale ping` layer (of the inventory read last).
    tailscalePing: s.tailscale ? (alias) => { const t = tailnet(); return t && tailnetPinger(t, { binary: s.tailscaleBinary })(alias); } : undefined,
    connectTimeoutMs: s.connectTimeoutSeconds * 1000,
    intervalMs: s.intervalSeconds * 1000,
    concurrency: 32,
    // Every probe result, shared with the CLI (same data root).
    history: { store: history, source: 'editor' },
  };
}

function problemOf(err: unknown): FleetProblem {
  const message = err instanceof Error ? err.message : String(err);
  return err instanceof SshConfigError ? { message, file: err.file, line: err.line } : { message };
}

/** The fleet and the one connection pool every feature shares. */
export function createFleet(prompter: Prompter, log: vscode.LogOutputChannel, dataRoot: string): { fleet: Fleet; pool: Pool } {
  const settings = readSettings();
  let fleet: Fleet | undefined;
  const pool = new Pool({
    resolve: (alias) => fleet!.resolve(alias),
    resolveJump: (request, from) => fleet!.resolveJump(request, from),
    prompter,
    connectTimeoutMs: settings.connectTimeoutSeconds * 1000,
  });
  fleet = new Fleet(pool, settings, log, new HealthHistory(dataRoot));
  return { fleet, pool };
}

export class Fleet implements vscode.Disposable {
  private current: FleetSnapshot = { inventory: undefined, problem: undefined, aliases: [], resolved: new Map() };
  private currentSettings: FleetSettings;
  private readonly monitor: HealthMonitor;

  private readonly changed = new vscode.EventEmitter<void>();
  /** The snapshot was replaced (hosts, groups or settings changed). */
  readonly onDidChange = this.changed.event;
  private readonly healthChanged = new vscode.EventEmitter<readonly string[]>();
  /** These hosts' health changed. */
  readonly onDidChangeHealth = this.healthChanged.event;
  private readonly disposables: vscode.Disposable[] = [];
  private watchers: vscode.Disposable[] = [];
  private readonly readOnce = oneAtATime(() => this.read());
  private firstRead!: () => void;
  /** Resolves once the fleet has been read for the first time (a command run at activation waits for it). */
  readonly ready = new Promise<void>((resolve) => { this.firstRead = resolve; });

  private compactedAt = 0;

  constructor(
    private readonly pool: Pool,
    settings: FleetSettings,
    private readonly log: vscode.LogOutputChannel,
    /** Every probe result, shared with the CLI (same data root). */
    readonly healthHistory: HealthHistory,
  ) {
    this.currentSettings = settings;
    this.monitor = new HealthMonitor(pool, monitorSettings(settings, healthHistory, () => this.current.inventory?.tailnet));
    const unlisten = this.monitor.onDidChange((aliases) => {
      this.compactHistoryNowAndThen();
      this.healthChanged.fire(aliases);
    });
    this.disposables.push(
      this.changed,
      this.healthChanged,
      { dispose: unlisten },
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('flotilla')) void this.reload(true);
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => void this.reload(true)),
    );
  }

  get snapshot(): FleetSnapshot {
    return this.current;
  }

  get settings(): Readonly<FleetSettings> {
    return this.currentSettings;
  }

  get health(): FleetHealth {
    return this.monitor;
  }

  get aliases(): readonly string[] {
    return this.current.aliases;
  }

  async resolve(alias: string): Promise<ResolvedHost> {
    const snap = this.current;
    const cached = snap.resolved.get(alias);
    if (cached) return cached;
    const r = await (snap.inventory ? snap.inventory.resolve(alias) : resolveHost(alias, {}));
    (snap.resolved as Map<string, ResolvedHost>).set(alias, r);
    return r;
  }

  /** A jump host, through the ssh config only (as `ssh -J`), with the current inventory's options. */
  resolveJump(request: JumpRequest, from: ResolvedHost): Promise<ResolvedHost> {
    const inventory = this.current.inventory;
    return inventory ? inventory.resolveJump(request, from) : resolveJumpHost(request, from);
  }

  /** Re-reads config and groups (one read at a time; a request during a read reads once more after it). */
  async reload(settingsChanged = false): Promise<void> {
    if (settingsChanged) {
      this.currentSettings = readSettings();
      this.pool.reconfigure({ connectTimeoutMs: this.currentSettings.connectTimeoutSeconds * 1000 });
      this.monitor.configure(monitorSettings(this.currentSettings, this.healthHistory, () => this.current.inventory?.tailnet));
    }
    return this.readOnce();
  }

  private async read(): Promise<void> {
    const settings = this.currentSettings;
    // An inventory can name hosts and, with scripts allowed, run code: only where the user trusts the workspace.
    const ansibleInventories = vscode.workspace.isTrusted ? settings.ansibleInventories : [];
    if (!vscode.workspace.isTrusted && settings.ansibleInventories.length) this.log.warn('Ansible inventories are read only in a trusted workspace');
    // `Match exec` runs local commands: in Restricted Mode it is not evaluated (the block does not match).
    const matchExec = settings.matchExec && vscode.workspace.isTrusted;
    if (settings.matchExec && !matchExec) this.log.warn('Match exec is evaluated only in a trusted workspace');
    const options: InventoryOptions = {
      sshConfigFile: settings.sshConfigFile,
      groupsFile: settings.groupsFile,
      ansibleInventories,
      ansibleAllowScripts: settings.ansibleAllowScripts,
      tailscale: settings.tailscale,
      tailscaleBinary: settings.tailscaleBinary,
      matchExec,
      reportGroupsProblem: true,
    };
    let inventory: Inventory | undefined;
    let problem: FleetProblem | undefined;
    try {
      inventory = await loadInventory(options);
      for (const w of inventory.warnings) this.log.warn(w);
      problem = inventory.groupsProblem;
      if (problem) this.log.error(`the groups file cannot be used: ${problem.message}`);
    } catch (err) {
      problem = problemOf(err);
      this.log.error(`cannot read the fleet: ${problem.message}`);
    }
    const aliases = inventory?.hosts.map((h) => h.alias) ?? [];
    this.current = { inventory, problem, aliases, resolved: new Map() };
    // Connections made under the old config are retired as they go idle; the next use re-resolves.
    if (inventory) this.pool.reconfigure({});
    await Promise.all(aliases.map((a) => this.resolve(a).catch((err) => this.log.warn(`${a}: ${String(err)}`))));
    this.monitor.setHosts(aliases);
    this.watchFiles(options, inventory);
    this.changed.fire();
    this.firstRead();
  }

  /** Watches the files that define the fleet (core's fleetFiles, which InventoryFollower compares too). */
  private watchFiles(options: InventoryOptions, inventory: Inventory | undefined): void {
    for (const w of this.watchers) w.dispose();
    const inventories = new Set(options.ansibleInventories);
    // An inventory is also its group_vars/ and host_vars/ beside it (or, for a directory, everything below it).
    // A watcher on a folder that does not exist logs an error (and one on an ancestor would watch a whole tree):
    // a file is followed once its folder exists (Refresh reads the fleet again in any case).
    const watched = fleetFiles(options, inventory)
      .filter((file) => existsSync(dirname(file)))
      .map((file) => ({ file, also: inventories.has(file) ? ['group_vars/**', 'host_vars/**'] : [] }));
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

  /** Files watched for changes (for tests and the log). */
  get watchedFiles(): number {
    return this.watchers.length;
  }

  private compactHistoryNowAndThen(): void {
    if (Date.now() - this.compactedAt < COMPACT_EVERY_MS) return;
    this.compactedAt = Date.now();
    void this.healthHistory.compact().catch((err: unknown) => this.log.warn(`health history: ${String(err)}`));
  }

  checkAll(): Promise<HostHealth[]> {
    return this.monitor.check();
  }

  async checkHost(alias: string): Promise<HostHealth> {
    const [h] = await this.monitor.check([alias]);
    return h!;
  }

  dispose(): void {
    for (const w of this.watchers) w.dispose();
    for (const d of this.disposables) d.dispose();
    this.monitor.dispose();
    void this.pool.dispose();
  }
}
