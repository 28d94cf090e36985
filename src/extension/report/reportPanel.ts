// The "Fleet Report" webview panel: rebuilt from the fleet's latest probes and the health history
// whenever the fleet changes (coalesced), so it follows the editor's polling live.
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { collectReport } from '../../core/report/collect';
import type { DriftReport } from '../../core/report/drift';
import type { FleetReport } from '../../core/report/types';
import type { Fleet } from '../fleet';
import type { Pool } from '../../core/ssh/pool';
import { renderReportHtml } from './html';

const VIEW_TYPE = 'flotilla.fleetReport';
/** Probe results arrive one host at a time: redraw at most this often (and never more than a fifth of the time). */
const REDRAW_MS = 1500;

export class ReportPanel implements vscode.Disposable {
  private readonly panel: vscode.WebviewPanel;
  private readonly subscriptions: vscode.Disposable[] = [];
  private timer: NodeJS.Timeout | undefined;
  private drawing = false;
  private again = false;
  private lastDrawMs = 0;
  drift: DriftReport | undefined;
  /** The report on screen (for tests through the extension API). */
  last: FleetReport | undefined;

  constructor(private readonly fleet: Fleet, private readonly pool: Pool, onDispose: () => void) {
    this.panel = vscode.window.createWebviewPanel(VIEW_TYPE, 'Fleet Report', vscode.ViewColumn.Active, {
      enableScripts: false,
      localResourceRoots: [],
    });
    this.subscriptions.push(
      fleet.onDidChange(() => this.schedule()),
      fleet.onDidChangeHealth(() => this.schedule()),
      // An open report shows live health: it is a consumer of the monitor while it exists.
      { dispose: fleet.health.subscribe() },
      // A hidden report is not redrawn; it catches up when shown again.
      this.panel.onDidChangeViewState((e) => { if (e.webviewPanel.visible) this.schedule(); }),
      this.panel.onDidDispose(() => {
        this.dispose();
        onDispose();
      }),
    );
  }

  reveal(): void {
    this.panel.reveal();
    void this.redraw();
  }

  private schedule(): void {
    if (!this.panel.visible) return;
    if (!this.timer) this.timer = setTimeout(() => { this.timer = undefined; void this.redraw(); }, Math.max(REDRAW_MS, 5 * this.lastDrawMs));
  }

  async redraw(): Promise<void> {
    if (this.drawing) {
      this.again = true;
      return;
    }
    this.drawing = true;
    const t0 = Date.now();
    try {
      const inv = this.fleet.snapshot.inventory;
      const report = await collectReport({
        pool: this.pool,
        hosts: inv?.hosts.map((h) => ({ alias: h.alias, groups: h.groups })) ?? [],
        groups: inv?.groups ?? new Map(),
        history: this.fleet.healthHistory,
        current: new Map(this.fleet.aliases.flatMap((a) => { const h = this.fleet.health.get(a); return h ? [[a, h] as const] : []; })),
        probe: false,
        source: 'editor',
        connectTimeoutMs: this.fleet.settings.connectTimeoutSeconds * 1000,
        driftReport: this.drift,
        tailnet: this.fleet.settings.tailscale ? inv?.tailnet : undefined,
      });
      this.last = report;
      this.panel.webview.html = renderReportHtml(report, { cspSource: this.panel.webview.cspSource, nonce: randomBytes(16).toString('base64') });
    } finally {
      this.lastDrawMs = Date.now() - t0;
      this.drawing = false;
      if (this.again) {
        this.again = false;
        this.schedule();
      }
    }
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const d of this.subscriptions.splice(0)) d.dispose();
  }

  close(): void {
    this.panel.dispose();
  }
}
