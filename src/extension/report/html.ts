// The Fleet Report webview's document: pictures (timeline bands, latency bars, CPU/memory/disk bars)
// drawn as inline SVG, coloured by the theme's chart colours. No script at all; the Content-Security-
// Policy allows only the one nonce'd stylesheet. Every string from a host, a file or the user goes
// through `esc`. Pure (no vscode import), so it is unit-tested directly.
import { sanitizeForView } from '../../core/exec/output';
import { ago } from '../../core/report/build';
import { summaryCounts, tailnetState } from '../../core/report/text';
import type { FleetReport, GroupReport, HostReport } from '../../core/report/types';

/** Escapes text for HTML content and attribute values (after stripping terminal escapes). */
export function esc(text: string | number): string {
  return sanitizeForView(String(text)).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const pct = (v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(v === 1 ? 0 : 1)}%`);
const time = (t: number) => new Date(t).toISOString().slice(11, 16);

const STYLE = `
body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); background: var(--vscode-editor-background); padding: 0 16px 24px; }
h1 { font-size: 1.4em; margin: 16px 0 4px; } h2 { font-size: 1.1em; margin: 20px 0 6px; border-bottom: 1px solid var(--vscode-panel-border); padding-bottom: 2px; }
.muted { color: var(--vscode-descriptionForeground); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 8px; font-weight: 600; color: var(--vscode-editor-background); }
.badge.excellent, .badge.good { background: var(--vscode-charts-green); } .badge.fair { background: var(--vscode-charts-yellow); } .badge.poor { background: var(--vscode-charts-red); }
ul { margin: 4px 0; padding-left: 20px; } li { margin: 2px 0; }
li.critical::marker { color: var(--vscode-charts-red); } li.warning::marker { color: var(--vscode-charts-yellow); }
.sev { font-weight: 600; } .sev.critical { color: var(--vscode-charts-red); } .sev.warning { color: var(--vscode-charts-yellow); }
svg text { fill: var(--vscode-foreground); font-family: var(--vscode-font-family); font-size: 12px; }
svg text.muted { fill: var(--vscode-descriptionForeground); }
.track { fill: var(--vscode-editorWidget-background, rgba(128,128,128,0.15)); stroke: var(--vscode-panel-border); stroke-width: 0.5; }
.up, .excellent { fill: var(--vscode-charts-green); } .good { fill: var(--vscode-charts-blue); }
.degraded, .fair, .mixed { fill: var(--vscode-charts-yellow); } .down, .poor, .over { fill: var(--vscode-charts-red); }
td.state.degraded { color: var(--vscode-charts-yellow); } td.state.down { color: var(--vscode-charts-red); }
.bar { fill: var(--vscode-charts-blue); } .avg { fill: var(--vscode-charts-purple); }
.limit { stroke: var(--vscode-charts-red); stroke-width: 1; stroke-dasharray: 2 2; }
table { border-collapse: collapse; } td, th { padding: 2px 10px 2px 0; text-align: left; }
`;

// One chart, one row per host: name | availability timeline | round trip | CPU | memory | disk.
const LABEL = 150;
const TL = 320;
const RTT = 190;
const METER = 92;
const GAP = 14;
const ROW = 22;
const HEAD = 18;
/** Room under the host rows for the time axis. */
const AXIS = 18;
const X_TL = LABEL;
const X_RTT = X_TL + TL + GAP;
const X_METERS = X_RTT + RTT + GAP;
const W = X_METERS + 3 * (METER + GAP);

const METERS = [
  { title: 'CPU', limit: null },
  { title: 'memory', limit: 'memoryPercent' },
  { title: 'disk', limit: 'diskPercent' },
] as const;

function timelineRow(r: FleetReport, h: HostReport, y: number): string {
  const span = r.timeline.to - r.timeline.from;
  const x = (t: number) => X_TL + ((t - r.timeline.from) / span) * TL;
  const bands = h.timeline.map((b) => {
    const w = Math.max(2, x(b.to) - x(b.from));
    return `<rect class="${b.condition}" x="${x(b.from).toFixed(1)}" y="${y + 3}" width="${w.toFixed(1)}" height="${ROW - 6}"><title>${esc(`${h.alias}: ${b.condition} ${time(b.from)}–${time(b.to)} UTC`)}</title></rect>`;
  }).join('');
  return `<rect class="track" x="${X_TL}" y="${y + 3}" width="${TL}" height="${ROW - 6}"/>${bands}`;
}

function latencyRow(r: FleetReport, h: HostReport, y: number): string {
  const max = Math.max(r.thresholds.poorLatencyMs, ...r.hosts.map((o) => o.latency.rttMs ?? 0));
  // Log scale: 0.3 ms on loopback and 250 ms across an ocean both stay readable.
  const inner = RTT - 80;
  const len = (ms: number) => Math.max(2, (Math.log10(1 + ms) / Math.log10(1 + max)) * inner);
  const ms = h.latency.rttMs;
  const label = ms === null ? (h.condition === 'down' ? 'down' : '–') : `${ms} ms`;
  const tip = ms === null ? '' : `<title>${esc(`${h.alias}: round trip ${ms} ms (${h.latency.class})${h.latency.connectMs !== null ? `, connect ${h.latency.connectMs} ms` : ''}`)}</title>`;
  const bar = ms === null ? '' : `<rect class="${h.latency.class}" x="${X_RTT}" y="${y + 5}" width="${len(ms).toFixed(1)}" height="${ROW - 10}">${tip}</rect>`;
  return `${bar}<text class="muted" x="${X_RTT + (ms === null ? 0 : len(ms)) + 5}" y="${y + 15}">${esc(label)}</text>`;
}

function meterRow(r: FleetReport, values: readonly (number | null)[], y: number, cls: 'bar' | 'avg'): string {
  const inner = METER - 36;
  return METERS.map((m, i) => {
    const v = values[i] ?? null;
    const x0 = X_METERS + i * (METER + GAP);
    const limit = m.limit ? r.thresholds[m.limit] : null;
    const over = v !== null && limit !== null && v > limit;
    const bar = v === null ? '' : `<rect class="${over ? 'over' : cls}" x="${x0}" y="${y + 5}" width="${Math.max(1, (Math.min(100, v) / 100) * inner).toFixed(1)}" height="${ROW - 10}"/>`;
    const mark = limit === null ? '' : `<line class="limit" x1="${x0 + (limit / 100) * inner}" x2="${x0 + (limit / 100) * inner}" y1="${y + 3}" y2="${y + ROW - 3}"/>`;
    return `<rect class="track" x="${x0}" y="${y + 5}" width="${inner}" height="${ROW - 10}"/>${bar}${mark}<text class="muted" x="${x0 + inner + 3}" y="${y + 15}">${v === null ? '–' : `${esc(Math.round(v))}%`}</text>`;
  }).join('');
}

function fleetChart(r: FleetReport): string {
  const span = r.timeline.to - r.timeline.from;
  const hours = Math.round(span / 3_600_000);
  const since = `${hours >= 1 ? `${hours} h` : `${Math.round(span / 60_000)} min`} (since ${time(r.timeline.from)} UTC)`;
  const head = `<text class="muted" x="0" y="12">host</text><text class="muted" x="${X_TL}" y="12">${esc(`availability, last ${since}`)}</text>`
    + `<text class="muted" x="${X_RTT}" y="12">round trip (keepalive)</text>`
    + METERS.map((m, i) => `<text class="muted" x="${X_METERS + i * (METER + GAP)}" y="12">${m.title}</text>`).join('');
  const timeline: string[] = [], latency: string[] = [], resources: string[] = [], names: string[] = [];
  r.hosts.forEach((h, i) => {
    const y = HEAD + i * ROW;
    names.push(`<text x="0" y="${y + 15}">${esc(h.alias)}</text>`);
    timeline.push(timelineRow(r, h, y));
    latency.push(latencyRow(r, h, y));
    const res = h.resources;
    resources.push(meterRow(r, res ? [res.cpuPercent, res.memoryPercent, res.diskPercent] : [null, null, null], y, 'bar'));
  });
  const groups = r.groups.filter((g: GroupReport) => g.average.memoryPercent !== null);
  groups.forEach((g, i) => {
    const y = HEAD + (r.hosts.length + i) * ROW + AXIS;
    names.push(`<text class="muted" x="0" y="${y + 15}">${esc(`${g.name} (average)`)}</text>`);
    names.push(`<text class="muted" x="${X_TL}" y="${y + 15}">${esc(`${g.up} of ${g.hosts.length} up · 24 h ${pct(g.availability.h24)}`)}</text>`);
    resources.push(meterRow(r, [g.average.cpuPercent, g.average.memoryPercent, g.average.diskPercent], y, 'avg'));
  });
  const height = HEAD + (r.hosts.length + groups.length) * ROW + AXIS + 4;
  const axisY = HEAD + r.hosts.length * ROW + 12;
  const axis = `<text class="muted" x="${X_TL}" y="${axisY}">${esc(time(r.timeline.from))}</text><text class="muted" x="${X_TL + TL}" y="${axisY}" text-anchor="end">now</text>`;
  return `<svg id="fleet" role="img" aria-label="availability timeline, round trip, CPU, memory and disk per host" width="${W}" height="${height + 4}">`
    + `${head}${names.join('')}<g id="timeline">${timeline.join('')}</g><g id="latency">${latency.join('')}</g><g id="resources">${resources.join('')}</g>${axis}</svg>`;
}

function hostTable(r: FleetReport): string {
  const rows = r.hosts.map((h) => {
    const seen = h.state === 'online' ? 'now' : h.lastSeenOnline ? ago(r.generatedAt - h.lastSeenOnline) : 'never';
    const load = h.resources ? `${h.resources.loadPerCore}/core` : '–';
    const clock = h.clockSkewMs === null ? '–' : `${h.clockSkewMs >= 0 ? '+' : '−'}${(Math.abs(h.clockSkewMs) / 1000).toFixed(1)} s`;
    return `<tr><td>${esc(h.alias)}</td><td class="state ${h.condition}">${esc(h.state)}${h.flapping ? ' (flapping)' : ''}</td><td>${esc(seen)}</td><td>${pct(h.availability.h1)}</td><td>${pct(h.availability.h24)}</td><td>${pct(h.availability.d7)}</td><td>${esc(load)}</td><td>${esc(clock)}</td><td class="muted">${h.reason ? esc(h.reason) : ''}</td></tr>`;
  }).join('');
  return `<table id="hosts"><tr><th>Host</th><th>State</th><th>Last seen online</th><th>1 h</th><th>24 h</th><th>7 d</th><th>Load</th><th>Clock</th><th>Reason</th></tr>${rows}</table>`;
}

function driftTable(r: FleetReport): string {
  if (!r.drift) return '';
  const rows = r.drift.hosts.map((d) => {
    const paths = [...d.paths.different.map((p) => `≠ ${p}`), ...d.paths.missing.map((p) => `+ ${p}`), ...d.paths.extra.map((p) => `− ${p}`)].slice(0, 8);
    return `<tr><td>${esc(d.host)}</td><td>${esc(d.state.replace(/_/g, ' '))}</td><td>${d.different}</td><td>${d.missing}</td><td>${d.extra}</td><td>${d.syncPercent}%</td><td class="muted">${paths.map(esc).join('<br>')}${d.reason ? esc(d.reason) : ''}</td></tr>`;
  }).join('');
  return `<h2>Drift of ${esc(r.drift.local)} → ${esc(r.drift.remote)}</h2><table id="drift"><tr><th>Host</th><th>State</th><th>Different</th><th>Missing</th><th>Extra</th><th>In sync</th><th>Paths</th></tr>${rows}</table>`;
}

function tailnetList(r: FleetReport): string {
  if (!r.tailnet) return '';
  const items = r.tailnet.peers.map((p) => `<li>${esc(p.name)}: ${esc(tailnetState(p))}${p.os ? ` · ${esc(p.os)}` : ''}${p.alias ? ` · ssh alias ${esc(p.alias)}` : ''}</li>`).join('');
  return `<h2>Tailnet</h2>${r.tailnet.reason ? `<p class="muted">${esc(r.tailnet.reason)}</p>` : ''}<ul id="tailnet">${items}</ul>`;
}

export function renderReportHtml(r: FleetReport, page: { cspSource: string; nonce: string }): string {
  const s = r.summary;
  const alerts = r.alerts.length
    ? `<ul id="alerts">${r.alerts.map((a) => `<li class="${a.severity}"><span class="sev ${a.severity}">${a.severity}</span> ${esc(a.message)}</li>`).join('')}</ul>`
    : '<p id="alerts" class="muted">No alerts.</p>';
  const recs = r.recommendations.length ? `<h2>Recommendations</h2><ul id="recommendations">${r.recommendations.map((x) => `<li>${esc(x.text)}</li>`).join('')}</ul>` : '';
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'nonce-${page.nonce}'; img-src ${page.cspSource} data:;">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Fleet Report</title><style nonce="${page.nonce}">${STYLE}</style></head>
<body><main id="fleet-report">
<h1>Fleet health <span id="overall" class="badge ${r.overall.health}">${r.overall.health}</span></h1>
<p id="rule">${esc(r.overall.rule)}</p>
<p class="muted">${s.hosts} hosts: ${summaryCounts(s)} · availability 24 h ${pct(s.availability24h)} · updated ${time(r.generatedAt)} UTC</p>
<h2>Alerts</h2>${alerts}
<h2>Hosts</h2>${fleetChart(r)}
${recs}
<h2>Details</h2>${hostTable(r)}
${driftTable(r)}
${tailnetList(r)}
</main></body></html>`;
}
