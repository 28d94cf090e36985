// JSON Schema (draft-07) of `flotilla report --json` (FleetReport in types.ts). Agents may validate
// against it; test/unit/report.test.ts keeps the two in step.
const num = { type: 'number' } as const;
const numOrNull = { type: ['number', 'null'] } as const;
const str = { type: 'string' } as const;
const strOrNull = { type: ['string', 'null'] } as const;
const strings = { type: 'array', items: str } as const;

const closed = (properties: Record<string, unknown>) => ({
  type: 'object', additionalProperties: false, required: Object.keys(properties), properties,
});

const windows = closed({ h1: numOrNull, h24: numOrNull, d7: numOrNull });
const alertKind = { enum: ['host-down', 'unusable', 'host-key', 'disk', 'memory', 'load', 'latency', 'clock', 'flapping', 'drift'] } as const;

const host = closed({
  alias: str,
  groups: strings,
  state: { enum: ['online', 'degraded', 'unusable', 'offline', 'unknown'] },
  condition: { enum: ['up', 'degraded', 'down', 'unknown'] },
  reason: strOrNull,
  layer: { enum: ['tcp', 'ssh', 'auth', 'hostkey', 'metrics', null] },
  lastChecked: numOrNull,
  lastSeenOnline: numOrNull,
  availability: windows,
  flapping: { type: 'boolean' },
  changesLastHour: num,
  latency: closed({
    rttMs: numOrNull, class: { enum: ['excellent', 'good', 'fair', 'poor', null] }, avgMs: numOrNull, minMs: numOrNull, maxMs: numOrNull, connectMs: numOrNull,
  }),
  resources: {
    oneOf: [
      { type: 'null' },
      closed({ cores: num, loadPerCore: num, cpuPercent: numOrNull, memoryPercent: num, diskPercent: num, diskPath: str }),
    ],
  },
  hostKey: { enum: ['unknown', 'changed', 'revoked', null] },
  tailscalePing: { oneOf: [{ type: 'null' }, closed({ ok: { type: 'boolean' }, ms: num, detail: strOrNull })] },
  clockSkewMs: numOrNull,
  timeline: { type: 'array', items: closed({ from: num, to: num, condition: { enum: ['up', 'degraded', 'down', 'mixed'] } }) },
});

const driftHost = {
  type: 'object',
  additionalProperties: false,
  required: ['host', 'state', 'different', 'missing', 'extra', 'inSync', 'syncPercent', 'paths'],
  properties: {
    host: str,
    state: { enum: ['in_sync', 'out_of_sync', 'unreachable', 'error'] },
    reason: str,
    different: num, missing: num, extra: num, inSync: num, syncPercent: num,
    paths: closed({ different: strings, missing: strings, extra: strings }),
  },
};

export const REPORT_JSON_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Flotilla fleet report (flotilla report --json)',
  ...closed({
    schema: { const: 'flotilla.report/1' },
    generatedAt: num,
    timeline: closed({ from: num, to: num }),
    thresholds: closed({ diskPercent: num, memoryPercent: num, loadPerCore: num, poorLatencyMs: num, clockSkewMs: num, downShare: num, availability24h: num }),
    overall: closed({ health: { enum: ['excellent', 'good', 'fair', 'poor'] }, rule: str }),
    summary: closed({ hosts: num, up: num, degraded: num, down: num, unusable: num, unknown: num, availability24h: numOrNull }),
    hosts: { type: 'array', items: host },
    groups: {
      type: 'array',
      items: closed({
        name: str, hosts: strings, up: num, down: num, availability: windows,
        average: closed({ loadPerCore: numOrNull, cpuPercent: numOrNull, memoryPercent: numOrNull, diskPercent: numOrNull }),
      }),
    },
    alerts: { type: 'array', items: closed({ severity: { enum: ['critical', 'warning'] }, kind: alertKind, host: str, message: str }) },
    recommendations: { type: 'array', items: closed({ host: strOrNull, text: str, because: { type: 'array', items: alertKind } }) },
    drift: { oneOf: [{ type: 'null' }, closed({ local: str, remote: str, hosts: { type: 'array', items: driftHost } })] },
    tailnet: {
      oneOf: [
        { type: 'null' },
        closed({
          peers: { type: 'array', items: closed({
            name: str, dnsName: strOrNull, os: strOrNull, online: { type: 'boolean' }, lastSeen: strOrNull, alias: strOrNull,
            link: { enum: ['direct', 'relay', 'idle', null] }, via: strOrNull,
          }) },
          reason: strOrNull,
        }),
      ],
    },
  }),
} as const;
