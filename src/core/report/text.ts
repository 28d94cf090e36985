// The fleet report for people: Markdown (`--markdown`, for issues and chats) or plain text (the terminal).
import { sanitizeForView } from '../exec/output';
import type { TimelineBand } from '../health/availability';
import { ago } from './build';
import type { FleetReport, HostReport, TailnetPeerReport } from './types';

const pct = (v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(v === 1 ? 0 : 1)}%`);
const ms = (v: number | null) => (v === null ? '–' : `${v} ms`);

/** Text from hosts or files, made inert for Markdown: no links, emphasis, tables or HTML. */
export function escapeMarkdown(text: string): string {
  return sanitizeForView(text).replace(/[\\`*_{}[\]()#+\-.!|<>~]/g, '\\$&').replace(/\s*\n\s*/g, ' ');
}

/** The timeline as one character per slot: █ up, ▒ degraded or mixed, ▁ down, · no data. */
export function timelineStrip(bands: readonly TimelineBand[], from: number, to: number, slots = 48): string {
  const step = (to - from) / slots;
  let out = '';
  for (let i = 0; i < slots; i++) {
    const a = from + i * step, b = a + step;
    const here = bands.filter((x) => x.to > a && x.from < b || (x.from === x.to && x.from >= a && x.from < b));
    const c = here.some((x) => x.condition === 'down') ? (here.some((x) => x.condition !== 'down') ? '▒' : '▁') : here.some((x) => x.condition !== 'up') ? '▒' : here.length ? '█' : '·';
    out += c;
  }
  return out;
}

/** `12 up · 1 degraded · 3 down (2 unusable)`: unusable hosts (auth failed, host key) are down, and said so. */
export function summaryCounts(s: FleetReport['summary'], sep = ' · '): string {
  const down = `${s.down} down${s.unusable ? ` (${s.unusable} unusable)` : ''}`;
  return [`${s.up} up`, `${s.degraded} degraded`, down, ...(s.unknown ? [`${s.unknown} not checked`] : [])].join(sep);
}

function resources(h: HostReport): string {
  const r = h.resources;
  if (!r) return '–';
  const clock = h.clockSkewMs === null ? '' : ` · clock ${h.clockSkewMs >= 0 ? '+' : '-'}${(Math.abs(h.clockSkewMs) / 1000).toFixed(1)} s`;
  return `load ${r.loadPerCore}/core${r.cpuPercent === null ? '' : ` · cpu ${r.cpuPercent}%`} · mem ${r.memoryPercent}% · disk ${r.diskPercent}%${clock}`;
}

function seen(h: HostReport, now: number): string {
  if (h.state === 'online') return 'now';
  return h.lastSeenOnline ? ago(now - h.lastSeenOnline) : 'never';
}

export function renderMarkdown(r: FleetReport): string {
  const e = escapeMarkdown;
  const lines: string[] = [];
  lines.push(`# Fleet report — ${r.overall.health}`, '', `${e(r.overall.rule)}`, '');
  lines.push(`${r.summary.hosts} hosts: ${summaryCounts(r.summary, ', ')} · availability 24 h ${pct(r.summary.availability24h)} · ${new Date(r.generatedAt).toISOString()}`, '');
  if (r.alerts.length) {
    lines.push('## Alerts', '');
    for (const a of r.alerts) lines.push(`- **${a.severity}** ${e(a.message)}`);
    lines.push('');
  }
  if (r.recommendations.length) {
    lines.push('## Recommendations', '');
    for (const x of r.recommendations) lines.push(`- ${e(x.text)}`);
    lines.push('');
  }
  lines.push('## Hosts', '', '| Host | State | Last seen online | 1 h | 24 h | 7 d | Round trip | Resources | Last 24 h |', '|---|---|---|---|---|---|---|---|---|');
  for (const h of r.hosts) {
    const state = `${h.state}${h.reason ? `: ${e(h.reason)}` : ''}${h.flapping ? ' (flapping)' : ''}`;
    const rtt = h.latency.rttMs === null ? '–' : `${h.latency.rttMs} ms (${h.latency.class})`;
    lines.push(`| ${e(h.alias)} | ${state} | ${seen(h, r.generatedAt)} | ${pct(h.availability.h1)} | ${pct(h.availability.h24)} | ${pct(h.availability.d7)} | ${rtt} | ${resources(h)} | \`${timelineStrip(h.timeline, r.timeline.from, r.timeline.to, 24)}\` |`);
  }
  lines.push('');
  if (r.groups.length) {
    lines.push('## Groups', '', '| Group | Hosts | Up | 24 h | avg load/core | avg mem | avg disk |', '|---|---|---|---|---|---|---|');
    for (const g of r.groups) {
      const a = g.average;
      lines.push(`| ${e(g.name)} | ${g.hosts.length} | ${g.up} | ${pct(g.availability.h24)} | ${a.loadPerCore ?? '–'} | ${a.memoryPercent === null ? '–' : `${a.memoryPercent}%`} | ${a.diskPercent === null ? '–' : `${a.diskPercent}%`} |`);
    }
    lines.push('');
  }
  if (r.tailnet) {
    lines.push('## Tailnet', '', ...(r.tailnet.reason ? [e(r.tailnet.reason), ''] : []));
    for (const p of r.tailnet.peers) lines.push(`- ${e(p.name)}: ${e(tailnetState(p))}${p.os ? ` · ${e(p.os)}` : ''}${p.alias ? ` · ssh alias ${e(p.alias)}` : ''}`);
    lines.push('');
  }
  if (r.drift) {
    lines.push(`## Drift of ${e(r.drift.local)} → ${e(r.drift.remote)}`, '', '| Host | State | Different | Missing | Extra | In sync |', '|---|---|---|---|---|---|');
    for (const d of r.drift.hosts) lines.push(`| ${e(d.host)} | ${d.state}${d.reason ? `: ${e(d.reason)}` : ''} | ${d.different} | ${d.missing} | ${d.extra} | ${d.syncPercent}% |`);
    lines.push('');
  }
  return lines.join('\n');
}

export function renderText(r: FleetReport): string {
  const s = sanitizeForView;
  const lines: string[] = [];
  lines.push(`fleet health: ${r.overall.health} — ${s(r.overall.rule)}`);
  lines.push(`${r.summary.hosts} hosts: ${summaryCounts(r.summary)} · availability 24 h ${pct(r.summary.availability24h)}`);
  const width = Math.max(4, ...r.hosts.map((h) => h.alias.length));
  lines.push('', `${'HOST'.padEnd(width)}  ${'STATE'.padEnd(8)}  ${'SEEN'.padEnd(10)}  ${'1H'.padStart(6)} ${'24H'.padStart(6)} ${'7D'.padStart(6)}  ${'RTT'.padStart(9)}  LAST 24 H`);
  for (const h of r.hosts) {
    lines.push(`${h.alias.padEnd(width)}  ${h.state.padEnd(8)}  ${seen(h, r.generatedAt).padEnd(10)}  ${pct(h.availability.h1).padStart(6)} ${pct(h.availability.h24).padStart(6)} ${pct(h.availability.d7).padStart(6)}  ${ms(h.latency.rttMs).padStart(9)}  ${timelineStrip(h.timeline, r.timeline.from, r.timeline.to)}`);
    if (h.resources) lines.push(`${''.padEnd(width)}  ${resources(h)}`);
    if (h.reason) lines.push(`${''.padEnd(width)}  ${s(h.reason).split('\n')[0]}`);
  }
  for (const g of r.groups) {
    const a = g.average;
    lines.push(`group ${g.name}: ${g.up}/${g.hosts.length} up · 24 h ${pct(g.availability.h24)} · avg load ${a.loadPerCore ?? '–'}/core, mem ${a.memoryPercent ?? '–'}%, disk ${a.diskPercent ?? '–'}%`);
  }
  if (r.alerts.length) lines.push('', 'alerts:', ...r.alerts.map((a) => `  ${a.severity === 'critical' ? '✗' : '!'} ${s(a.message)}`));
  if (r.recommendations.length) lines.push('', 'recommendations:', ...r.recommendations.map((x) => `  → ${s(x.text)}`));
  if (r.drift) {
    lines.push('', `drift of ${s(r.drift.local)} → ${s(r.drift.remote)}:`);
    for (const d of r.drift.hosts) {
      lines.push(`  ${d.host.padEnd(width)}  ${d.state}  ${d.different} different, ${d.missing} missing, ${d.extra} extra · ${d.syncPercent}% in sync${d.reason ? ` (${s(d.reason)})` : ''}`);
      for (const [kind, paths] of Object.entries(d.paths)) for (const p of paths) lines.push(`    ${kind.padEnd(9)} ${s(p)}`);
    }
  }
  if (r.tailnet) {
    lines.push('', `tailnet: ${r.tailnet.peers.length} peer${r.tailnet.peers.length === 1 ? '' : 's'}${r.tailnet.reason ? ` (${s(r.tailnet.reason)})` : ''}`);
    for (const p of r.tailnet.peers) lines.push(`  ${tailnetLine(p)}`);
  }
  return lines.join('\n') + '\n';
}

export function tailnetState(p: Pick<TailnetPeerReport, 'online' | 'lastSeen' | 'link' | 'via'>): string {
  if (!p.online) return p.lastSeen ? `offline, last seen ${p.lastSeen}` : 'offline';
  return p.link === 'direct' ? `online, direct ${p.via}` : p.link === 'relay' ? `online, relay "${p.via}"` : p.link === 'idle' ? 'online, idle' : 'online';
}

/** One peer on one line: `web-1  online, direct 198.51.100.11:41641 · linux · ssh alias web-1`. */
export function tailnetLine(p: TailnetPeerReport, clean: (s: string) => string = sanitizeForView): string {
  return `${clean(p.name)}  ${clean(tailnetState(p))}${p.os ? ` · ${clean(p.os)}` : ''}${p.alias ? ` · ssh alias ${clean(p.alias)}` : ''}`;
}
