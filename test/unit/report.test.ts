import Ajv from 'ajv';
import { describe, expect, it } from 'vitest';
import { parseProbeOutput, type HostMetrics } from '../../src/core/health/metrics';
import type { HostHealth } from '../../src/core/health/probe';
import { parseRecord, type HealthSample } from '../../src/core/health/record';
import { buildReport, latencyClass, type ReportInput } from '../../src/core/report/build';
import { driftOf } from '../../src/core/report/drift';
import { REPORT_JSON_SCHEMA } from '../../src/core/report/schema';
import { escapeMarkdown, renderMarkdown, renderText, timelineStrip } from '../../src/core/report/text';
import type { PlannedHost } from '../../src/core/push/plan';
import { renderReportHtml } from '../../src/extension/report/html';
import { fleetLevel } from '../../src/core/health/fleetLevel';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTailscaleStatus } from '../../src/core/config/tailscale';

const NOW = Date.parse('2026-11-20T12:00:00Z');
const MIN = 60_000;

function metrics(over: Partial<HostMetrics> = {}): HostMetrics {
  return {
    os: 'linux', cores: 4, load1: 0.4, load5: 0.4, load15: 0.4, loadPerCore: 0.1, cpuBusy: 0.05, memTotalKb: 1_000_000, memAvailableKb: 600_000,
    diskPath: '/home/u', diskUsedPct: 40, diskAvailKb: 1e6, uptimeSec: 1000, measuredAt: NOW, latencyMs: 300, ...over,
  };
}

function online(alias: string, m: Partial<HostMetrics> = {}, rtt = 0.4): HostHealth {
  return {
    alias, state: 'online', checkedAt: NOW, metrics: metrics(m),
    layers: { tcp: { ok: true, ms: 1 }, ssh: { ok: true, ms: 40 }, rtt: { ok: true, ms: rtt }, metrics: { ok: true, ms: 300 } },
  };
}

const dead: HostHealth = { alias: 'db-1', state: 'offline', reason: 'connection refused', checkedAt: NOW, layers: { tcp: { ok: false, ms: 1, detail: 'connection refused' } } };

function history(): HealthSample[] {
  const s: HealthSample[] = [];
  for (let i = 60; i > 0; i--) {
    s.push({ k: 's', t: NOW - i * MIN, host: 'web-1', state: 'online', layer: 'metrics', rttMs: 0.5, source: 'editor' });
    s.push({ k: 's', t: NOW - i * MIN, host: 'db-1', state: i > 20 ? 'online' : 'offline', layer: i > 20 ? 'metrics' : 'tcp', source: 'editor' });
  }
  return s;
}

function input(over: Partial<ReportInput> = {}): ReportInput {
  return {
    now: NOW,
    hosts: [{ alias: 'web-1', groups: ['web'] }, { alias: 'web-2', groups: ['web'] }, { alias: 'db-1', groups: ['db'] }],
    groups: new Map([['web', ['web-1', 'web-2']], ['db', ['db-1']]]),
    current: new Map([
      ['web-1', online('web-1')],
      ['web-2', online('web-2', { memAvailableKb: 50_000, loadPerCore: 2.5, load1: 10, diskUsedPct: 93 }, 250)],
      ['db-1', dead],
    ]),
    history: history(),
    ...over,
  };
}

describe('fleet report builder', () => {
  const report = buildReport(input());

  it('availability, last seen and latency per host from history and the latest probe', () => {
    const db = report.hosts.find((h) => h.alias === 'db-1')!;
    expect(db.state).toBe('offline');
    expect(db.availability.h1).toBeCloseTo(40 / 60);
    expect(db.lastSeenOnline).toBe(NOW - 21 * MIN);
    expect(db.latency.rttMs).toBeNull();
    expect(db.timeline.map((b) => b.condition)).toEqual(['up', 'down']);
    const web = report.hosts.find((h) => h.alias === 'web-1')!;
    expect(web.latency).toMatchObject({ rttMs: 0.4, class: 'excellent', minMs: 0.5, maxMs: 0.5, connectMs: 40 });
    expect(web.lastSeenOnline).toBe(NOW);
    expect(web.resources).toEqual({ cores: 4, loadPerCore: 0.1, cpuPercent: 5, memoryPercent: 40, diskPercent: 40, diskPath: '/home/u' });
  });

  it('alerts: dead host, memory > 90 %, disk > 90 %, load/core > 2, poor latency; recommendations name the host and a spare one', () => {
    expect(report.alerts.map((a) => [a.severity, a.kind, a.host])).toEqual([
      ['critical', 'host-down', 'db-1'],
      ['warning', 'disk', 'web-2'],
      ['warning', 'memory', 'web-2'],
      ['warning', 'load', 'web-2'],
      ['warning', 'latency', 'web-2'],
    ]);
    expect(report.alerts[0]!.message).toBe('db-1 is down: connection refused (last seen online 21 min ago)');
    const texts = report.recommendations.map((r) => r.text);
    expect(texts).toContain('Move work off web-2 (load 2.5/core, memory 95%) — web-1 has room (load 0.1/core, memory 40%)');
    expect(texts).toContain('Investigate the network path to web-2 (round trip 250 ms)');
    expect(texts.some((t) => t.startsWith('Check db-1'))).toBe(true);
  });

  it('overall health says which rule decided it', () => {
    expect(report.overall).toEqual({ health: 'fair', rule: expect.stringMatching(/^1 critical alert: db-1 is down/) });
    const allDown = buildReport(input({ current: new Map([['web-1', { ...dead, alias: 'web-1' }], ['web-2', { ...dead, alias: 'web-2' }], ['db-1', dead]]) }));
    expect(allDown.overall.health).toBe('poor');
    expect(allDown.overall.rule).toBe('3 of 3 hosts are down (at least 50% of the fleet)');
    const fine = buildReport(input({ hosts: [{ alias: 'web-1', groups: ['web'] }], history: history().filter((s) => s.host === 'web-1') }));
    expect(fine.overall).toEqual({ health: 'excellent', rule: 'every host up, no alerts' });
  });

  it('groups carry availability and averages over measured members', () => {
    const web = report.groups.find((g) => g.name === 'web')!;
    expect(web.average).toEqual({ loadPerCore: 1.3, cpuPercent: 5, memoryPercent: 67.5, diskPercent: 66.5 });
    expect(web.up).toBe(2);
    expect(report.groups.find((g) => g.name === 'db')!.down).toBe(1);
  });

  it('host key changed and authentication failure are critical and unusable, not "degraded"', () => {
    const changed: HostHealth = {
      alias: 'web-1', state: 'unusable', reason: 'host key changed', checkedAt: NOW, layers: { ssh: { ok: false, ms: 3, detail: 'x' } },
      hostKey: { verdict: { kind: 'changed', presented: { keyType: 'ssh-ed25519', fingerprint: 'SHA256:x' }, previous: [] }, question: {} as never, blob: Buffer.alloc(0) },
    };
    const auth: HostHealth = { alias: 'web-2', state: 'unusable', reason: 'authentication failed: all keys refused', checkedAt: NOW, layers: { ssh: { ok: false, ms: 3, detail: 'x' } } };
    const r = buildReport(input({ current: new Map([['web-1', changed], ['web-2', auth], ['db-1', online('db-1')]]), history: [] }));
    expect(r.alerts.map((a) => [a.severity, a.kind, a.host])).toEqual([['critical', 'host-key', 'web-1'], ['critical', 'unusable', 'web-2']]);
    expect(r.hosts.map((h) => h.condition)).toEqual(['down', 'down', 'up']);
    expect(r.hosts.map((h) => h.state)).toEqual(['unusable', 'unusable', 'online']);
    expect(r.summary).toMatchObject({ up: 1, degraded: 0, down: 2, unusable: 2 });
    expect(renderText(r)).toMatch(/^3 hosts: 1 up · 0 degraded · 2 down \(2 unusable\) · /m);
    expect(renderMarkdown(r)).toMatch(/^3 hosts: 1 up, 0 degraded, 2 down \(2 unusable\) · /m);
    // recorded before `unusable` existed: a "degraded" that stopped at login reads as unusable
    const recorded = { k: 's', t: NOW - 1000, host: 'web-2', state: 'degraded', layer: 'auth', source: 'editor' };
    const fromHistory = buildReport(input({ current: new Map(), history: [parseRecord(JSON.stringify(recorded))!] }));
    expect(fromHistory.hosts.find((h) => h.alias === 'web-2')).toMatchObject({ state: 'unusable', condition: 'down' });
    expect(parseRecord(JSON.stringify({ ...recorded, layer: 'metrics' }))!.state).toBe('degraded');
  });

  it('the JSON matches the documented schema (and the schema rejects an unannounced field)', () => {
    const ajv = new Ajv({ allErrors: true, strict: false });
    const validate = ajv.compile(REPORT_JSON_SCHEMA);
    const withDrift = buildReport(input({ drift: { local: '/src/app', remote: '~/app', hosts: [driftOf(plan({ update: 1 }))] } }));
    for (const r of [report, withDrift, buildReport(input({ current: new Map(), history: [] }))]) {
      const json = JSON.parse(JSON.stringify(r));
      expect(validate(json), JSON.stringify(validate.errors)).toBe(true);
    }
    const extra = JSON.parse(JSON.stringify(report));
    extra.hosts[0].surprise = 1;
    expect(validate(extra)).toBe(false);
  });

  it('the tailscale ping layer of the latest probe is each host\'s tailscalePing (null when not pinged), as the schema says', () => {
    const up = { ...online('web-1'), layers: { ...online('web-1').layers, tailscale: { ok: true, ms: 45, detail: 'via DERP(fra)' } } };
    const down: HostHealth = { ...dead, layers: { ...dead.layers, tailscale: { ok: false, ms: 3000, detail: 'no reply \u001b[31mwithin 3s' } } };
    const r = buildReport(input({ current: new Map([['web-1', up], ['web-2', online('web-2')], ['db-1', down]]) }));
    expect(r.hosts.map((h) => [h.alias, h.tailscalePing])).toEqual([
      ['web-1', { ok: true, ms: 45, detail: 'via DERP(fra)' }],
      ['web-2', null],
      ['db-1', { ok: false, ms: 3000, detail: 'no reply within 3s' }], // terminal escapes stripped
    ]);
    const validate = new Ajv({ allErrors: true, strict: false }).compile(REPORT_JSON_SCHEMA);
    const json = JSON.parse(JSON.stringify(r));
    expect(validate(json), JSON.stringify(validate.errors)).toBe(true);
    for (const broken of [{ ok: 'yes', ms: 1, detail: null }, { ok: true, ms: 1 }, { ok: true, ms: 1, detail: null, via: 'x' }]) {
      const bad = JSON.parse(JSON.stringify(r));
      bad.hosts[0].tailscalePing = broken;
      expect(validate(bad), JSON.stringify(broken)).toBe(false);
    }
    const missing = JSON.parse(JSON.stringify(r));
    delete missing.hosts[1].tailscalePing;
    expect(validate(missing)).toBe(false);
  });

  it('remote text is inert in Markdown and stripped of terminal escapes in text', () => {
    const evil: HostHealth = { ...dead, reason: 'refused [click](http://x) <img src=x onerror=alert(1)> | \u001b[31mred' };
    const r = buildReport(input({ current: new Map([['db-1', evil]]) }));
    const md = renderMarkdown(r);
    expect(md).not.toMatch(/(?<!\\)<img/);
    expect(md).not.toMatch(/(?<!\\)\]\(http/);
    expect(md).toContain('\\<img src=x onerror=alert\\(1\\)\\>');
    expect(renderText(r)).not.toContain('\u001b');
    expect(escapeMarkdown('a|b')).toBe('a\\|b');
  });

  it('clock skew measured by the probe: an alert beyond 5 s, with a recommendation', () => {
    const out = 'clock=1000\nos=Linux\ncores=2\nloadavg=0.1 0.1 0.1 1/1 1\nMemTotal=100\nMemAvailable=50\ndf=/dev/x 100 50 50 50% /\nuptime=5\n';
    const probed = parseProbeOutput(out, 5, 0, 1_000_000 - 8000);
    expect(probed.state === 'ok' && probed.metrics.clockSkewMs).toBe(8500);
    expect(parseProbeOutput(out, 5, 0).state === 'ok' && (parseProbeOutput(out, 5, 0) as { metrics: HostMetrics }).metrics.clockSkewMs).toBeUndefined();
    const r = buildReport(input({ current: new Map([['web-1', online('web-1', { clockSkewMs: -8200 })], ['web-2', online('web-2', { clockSkewMs: 300 })], ['db-1', online('db-1')]]) }));
    expect(r.alerts.filter((a) => a.kind === 'clock')).toEqual([{ severity: 'warning', kind: 'clock', host: 'web-1', message: 'web-1: clock 8.2 s behind this machine' }]);
    expect(r.hosts.map((h) => h.clockSkewMs)).toEqual([-8200, 300, null]);
    expect(r.recommendations.map((x) => x.text)).toContain("Sync web-1's clock (NTP): it is 8.2 s behind this machine; logs, TLS and builds go wrong");
  });

  it('latency classes and the timeline strip', () => {
    expect([10, 60, 150, 250].map((ms) => latencyClass(ms))).toEqual(['excellent', 'good', 'fair', 'poor']);
    expect(timelineStrip([{ from: 0, to: 50, condition: 'up' }, { from: 50, to: 75, condition: 'down' }], 0, 100, 4)).toBe('██▁·');
  });
});

function plan(counts: { update?: number; create?: number; del?: number; meta?: number }): PlannedHost {
  const item = (action: 'create' | 'update' | 'delete', path: string, changes = { content: true }) => ({ path, action, type: 'file' as const, size: 1, changes });
  return {
    host: 'web-1', dest: '~/app', destination: { spec: '~/app' } as never, unchanged: 6, skipped: [], errors: [], remoteEntries: 10, replaceDirs: [],
    scan: {} as never, target: {} as never, options: {}, parents: [], leftovers: [], bytesToSend: 0, extraneous: 0,
    create: Array.from({ length: counts.create ?? 0 }, (_, i) => item('create', `new${i}`)),
    update: [
      ...Array.from({ length: counts.update ?? 0 }, (_, i) => item('update', `changed${i}`)),
      ...Array.from({ length: counts.meta ?? 0 }, (_, i) => item('update', `touched${i}`, { time: true } as never)),
    ],
    delete: Array.from({ length: counts.del ?? 0 }, (_, i) => item('delete', `old${i}`)),
  };
}

describe('drift from a dry-run plan', () => {
  it('counts different, missing and extra; same content with another mtime is in sync', () => {
    expect(driftOf(plan({ meta: 2 }))).toMatchObject({ state: 'in_sync', different: 0, inSync: 8, syncPercent: 100 });
    const d = driftOf(plan({ update: 1, create: 2, del: 1, meta: 1 }));
    expect(d).toMatchObject({ state: 'out_of_sync', different: 1, missing: 2, extra: 1, inSync: 7, syncPercent: 63.6 });
    expect(d.paths).toEqual({ different: ['changed0'], missing: ['new0', 'new1'], extra: ['old0'] });
    expect(driftOf({ ...plan({}), fatal: 'connect refused', unreachable: true })).toMatchObject({ state: 'unreachable', reason: 'connect refused' });
  });
});

describe('Fleet Report webview document', () => {
  const evil: HostHealth = { ...dead, reason: '<script>alert(1)</script><img src=x onerror=alert(2)> "quoted" \u001b[31mred' };
  const html = renderReportHtml(buildReport(input({ current: new Map([['web-1', online('web-1')], ['db-1', evil]]) })), { cspSource: 'vscode-resource:', nonce: 'N0nce' });

  it('has a strict CSP: nothing but its own nonce\'d stylesheet, no script at all', () => {
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'nonce-N0nce'; img-src vscode-resource: data:;">`);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/ style="/);
    expect(html).not.toMatch(/<[^>]* on[a-z]+=/i);
  });

  it('never injects remote text: reasons are escaped and stripped of terminal escapes', () => {
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;&#60;img src=x onerror=alert(2)&#62; &#34;quoted&#34; red');
    expect(html).not.toContain('\u001b');
  });

  it('names drift states in words', () => {
    const r = buildReport(input({ drift: { local: '/src/app', remote: '~/app', hosts: [driftOf(plan({ update: 1 }))] } }));
    expect(renderReportHtml(r, { cspSource: 'x', nonce: 'n' })).toContain('<td>out of sync</td>');
  });

  it('draws the timeline bands, latency bars and resource bars with theme colour classes', () => {
    expect(html).toMatch(/<g id="timeline"[\s\S]*<rect class="up"[\s\S]*<rect class="down"/);
    expect(html).toMatch(/<g id="latency"[\s\S]*<rect class="excellent"/);
    expect(html).toMatch(/<g id="resources"[\s\S]*<line class="limit"/);
    expect(html).toContain('var(--vscode-charts-green)');
  });
});

describe('tailnet peers in the report', () => {
  const { peers } = parseTailscaleStatus(readFileSync(join(__dirname, 'fixtures/tailscale/running.json'), 'utf8'));
  const others = peers.filter((p) => !p.self);

  it('lists every peer with online state, last seen, OS, relay or direct and the ssh alias it matched; valid against the schema', () => {
    const web = others.find((p) => p.name === 'web-1')!;
    const r = buildReport(input({ tailnet: { peers: others, byAlias: new Map([['web-1', web]]) } }));
    expect(r.tailnet!.peers.map((p) => [p.name, p.online, p.lastSeen, p.os, p.link, p.via, p.alias])).toEqual([
      ['GPU-Box', false, '2025-01-08T17:42:11.000000000Z', 'linux', null, null, null],
      ['ubuntu', false, '2025-01-09T07:00:00.000000000Z', 'linux', null, null, null],
      ['ubuntu', true, null, 'linux', 'idle', null, null],
      ['web-1', true, null, 'linux', 'direct', '198.51.100.11:41641', 'web-1'],
    ]);
    expect(renderText(r)).toContain('  GPU-Box  offline, last seen 2025-01-08T17:42:11.000000000Z · linux\n');
    expect(renderText(r)).toContain('  web-1  online, direct 198.51.100.11:41641 · linux · ssh alias web-1\n');
    const validate = new Ajv({ allErrors: true, strict: false }).compile(REPORT_JSON_SCHEMA);
    expect(validate(JSON.parse(JSON.stringify(r))), JSON.stringify(validate.errors)).toBe(true);
    expect(renderReportHtml(r, { cspSource: 'x', nonce: 'n' })).toContain('<ul id="tailnet">');
  });

  it('says why there are no peers when tailscale is not running', () => {
    const r = buildReport(input({ tailnet: { peers: [], byAlias: new Map(), reason: 'tailscale is not installed' } }));
    expect(r.tailnet).toEqual({ peers: [], reason: 'tailscale is not installed' });
    expect(renderMarkdown(r)).toContain('## Tailnet\n\ntailscale is not installed');
  });
});

describe('status bar level of the fleet (what the editor colours)', () => {
  const auth: HostHealth = { alias: 'web-2', state: 'unusable', reason: 'authentication failed: no', checkedAt: NOW, layers: { ssh: { ok: false, ms: 3, detail: 'x' } } };
  const loaded: HostHealth = { ...online('web-2', { loadPerCore: 3 }), state: 'degraded', reason: 'high load' };

  it('neutral when all are up; a warning for some down or degraded; an error from half the fleet down', () => {
    expect(fleetLevel([online('a'), online('b')])).toEqual({ level: 'ok', rule: 'every host up' });
    expect(fleetLevel([online('a'), online('b'), online('c'), dead])).toEqual({ level: 'warning', rule: '1 down (db-1)' });
    expect(fleetLevel([online('a'), loaded]).level).toBe('warning');
    expect(fleetLevel([online('a'), dead])).toEqual({ level: 'error', rule: '1 of 2 hosts down (at least 50%)' });
  });

  it('authentication failure counts as down; an important host down is an error alone; the share is configurable', () => {
    expect(fleetLevel([online('a'), auth])).toMatchObject({ level: 'error' });
    expect(fleetLevel([online('a'), online('b'), online('c'), dead], { errorShare: 0.5, important: ['db-1'] })).toEqual({ level: 'error', rule: 'important host down: db-1' });
    expect(fleetLevel([online('a'), online('b'), online('c'), dead], { errorShare: 0.25, important: [] }).level).toBe('error');
    expect(fleetLevel([{ alias: 'x', state: 'checking', layers: {}, checkedAt: 0 }]).level).toBe('ok');
  });
});
