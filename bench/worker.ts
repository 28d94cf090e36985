// The measuring process of `npm run bench` (started by lib.ts's pureJsWorker, ssh2's native binding blocked).
// Each op measures one round and returns its time, so the parent can alternate Flotilla and peer rounds.
// Peers written here: a minimal pooled raw-ssh2 exec loop (warm) and a raw ssh2 connect+auth+exec (cold),
// both with the `algorithms` Flotilla's connect passes for the host and with setNoDelay, as Flotilla does.
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { Session } from 'node:inspector';
import { connect as tcpConnect, type Socket } from 'node:net';
import { Client } from 'ssh2';
import { resolveHost } from '../src/core/config/sshConfig';
import { startRun, type RunRecord } from '../src/core/exec/run';
import { MetricsCache } from '../src/core/health/metrics';
import { checkFleet } from '../src/core/health/monitor';
import { connectionAlgorithms } from '../src/core/ssh/connect';
import { Pool } from '../src/core/ssh/pool';
import { buildRemoteCommand } from '../src/core/ssh/quote';
import { refusingPrompter } from '../src/core/types';

function benchPool(config: string, connectTimeoutMs = 10_000): Pool {
  return new Pool({ resolve: (a) => resolveHost(a, { configFile: config }), prompter: refusingPrompter, env: { SSH_AUTH_SOCK: undefined }, connectTimeoutMs });
}

function checkOk(rec: RunRecord): void {
  const bad = rec.results.filter((r) => r.state !== 'ok');
  if (bad.length) throw new Error(`not ok: ${bad.slice(0, 5).map((r) => `${r.host} ${r.state} ${r.reason ?? ''}`).join('; ')}`);
}

async function rawConnect(config: string, alias: string): Promise<Client> {
  const host = await resolveHost(alias, { configFile: config });
  const sock = await new Promise<Socket>((resolve, reject) => {
    const s = tcpConnect({ host: host.hostname, port: host.port });
    s.once('connect', () => { s.setNoDelay(true); resolve(s); });
    s.once('error', reject);
  });
  const client = new Client();
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
    client.connect({ sock, username: host.user, privateKey: readFileSync(host.identityFiles[0]!), algorithms: connectionAlgorithms(host), readyTimeout: 60_000 });
  });
  return client;
}

function rawExec(client: Client, command: string): Promise<void> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, ch) => {
      if (err) return reject(err);
      ch.on('close', (code: number) => (code === 0 ? resolve() : reject(new Error(`exit ${code}`))));
      ch.resume();
      ch.stderr.resume();
      ch.end();
    });
  });
}

const state: { pool?: Pool; raw?: Map<string, Client>; statusPool?: Pool; statusMetrics?: MetricsCache } = {};

const since = (t0: number) => performance.now() - t0;
/** CPU time every process on this machine has spent (user, nice, system, irq, softirq), ms. */
function machineBusyMs(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  return (f[0]! + f[1]! + f[2]! + f[5]! + f[6]!) * (1000 / 100);
}
const rss = () => { global.gc?.(); global.gc?.(); return process.memoryUsage().rss; };

const ops: Record<string, (...args: never[]) => Promise<unknown>> = {
  async warmSetup(config: string, hosts: string[]) {
    state.pool = benchPool(config);
    await Promise.all(hosts.map((h) => state.pool!.connection(h)));
    state.raw = new Map(await Promise.all(hosts.map(async (h) => [h, await rawConnect(config, h)] as const)));
    for (let i = 0; i < 3; i++) {
      checkOk(await startRun(hosts, { command: 'true', origin: 'test' }, state.pool).done);
      await Promise.all([...state.raw.values()].map((c) => rawExec(c, 'true')));
    }
  },
  async warmFlotilla(hosts: string[]) {
    const t0 = performance.now();
    checkOk(await startRun(hosts, { command: 'true', origin: 'test' }, state.pool!).done);
    return since(t0);
  },
  /** The raw loop runs `true`, or with `flotillaForm` the exec string Flotilla sends for `true`. */
  async warmRaw(flotillaForm = false) {
    const command = flotillaForm ? buildRemoteCommand('true', { reportPgid: true }) : 'true';
    const t0 = performance.now();
    await Promise.all([...state.raw!.values()].map((c) => rawExec(c, command)));
    return since(t0);
  },
  /** `rounds` Flotilla warm rounds under the V8 profiler (only them); the .cpuprofile goes to `file`. */
  async warmProfile(hosts: string[], rounds: number, file: string) {
    const session = new Session();
    session.connect();
    const post = (method: string) => new Promise<unknown>((res, rej) => session.post(method, (err, r) => (err ? rej(err) : res(r))));
    await post('Profiler.enable');
    await post('Profiler.start');
    for (let i = 0; i < rounds; i++) checkOk(await startRun(hosts, { command: 'true', origin: 'test' }, state.pool!).done);
    const { profile } = (await post('Profiler.stop')) as { profile: unknown };
    session.disconnect();
    writeFileSync(file, JSON.stringify(profile));
  },
  async warmTeardown() {
    await state.pool?.dispose();
    for (const c of state.raw?.values() ?? []) c.end();
    state.pool = undefined;
    state.raw = undefined;
  },
  async coldFlotilla(config: string, hosts: string[]) {
    const pool = benchPool(config);
    const t0 = performance.now();
    checkOk(await startRun(hosts, { command: 'true', origin: 'test' }, pool).done);
    const ms = since(t0);
    await pool.dispose();
    return ms;
  },
  async coldRaw(config: string, hosts: string[]) {
    const t0 = performance.now();
    const clients = await Promise.all(hosts.map(async (h) => {
      const c = await rawConnect(config, h);
      await rawExec(c, 'true');
      return c;
    }));
    const ms = since(t0);
    for (const c of clients) c.end();
    return ms;
  },
  /** checkFleet (what `flotilla hosts --status` and the Hosts view refresh run) on fresh connections. */
  async health(config: string, hosts: string[], connectTimeoutMs: number) {
    const pool = benchPool(config, connectTimeoutMs);
    const t0 = performance.now();
    const health = await checkFleet(pool, hosts, { connectTimeoutMs, metrics: new MetricsCache() });
    const ms = since(t0);
    await pool.dispose();
    const states: Record<string, number> = {};
    for (const h of health) states[h.state] = (states[h.state] ?? 0) + 1;
    return { ms, states };
  },
  async statusWarmSetup(config: string, hosts: string[]) {
    state.statusPool = benchPool(config);
    // As the Hosts view's monitor keeps one cache: TTL 0 so every round probes, but what a probe may reuse
    // from the one before (clock, disk, the CPU baseline: metrics.ts probeParts) is kept.
    state.statusMetrics = new MetricsCache(0);
    await checkFleet(state.statusPool, hosts, { connectTimeoutMs: 10_000, metrics: state.statusMetrics });
  },
  /** `full`: a fresh cache, so every probe reads everything (date, df, the CPU sample) as a first one does. */
  async statusWarm(hosts: string[], full = false) {
    const t0 = performance.now();
    const health = await checkFleet(state.statusPool!, hosts, { connectTimeoutMs: 10_000, metrics: full ? new MetricsCache(0) : state.statusMetrics! });
    const ms = since(t0);
    const bad = health.filter((h) => h.state !== 'online');
    if (bad.length) throw new Error(`not online: ${bad.slice(0, 5).map((h) => `${h.alias} ${h.state} ${h.reason ?? ''}`).join('; ')}`);
    return ms;
  },
  async statusTeardown() {
    await state.statusPool?.dispose();
    state.statusPool = undefined;
  },
  /**
   * One cold checkFleet in this process, with the CPU the whole machine spent meanwhile (/proc/stat) and this
   * process's own: what is left is the hosts' side (sshd, login shells, the probe), which no client can avoid.
   */
  async statusColdFloor(config: string, hosts: string[]) {
    const pool = benchPool(config);
    const m0 = machineBusyMs();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const health = await checkFleet(pool, hosts, { connectTimeoutMs: 10_000, metrics: new MetricsCache() });
    const ms = since(t0);
    const c = process.cpuUsage(c0);
    const machine = machineBusyMs() - m0;
    await pool.dispose();
    const bad = health.filter((h) => h.state !== 'online');
    if (bad.length) throw new Error(`not online: ${bad.slice(0, 5).map((h) => `${h.alias} ${h.state} ${h.reason ?? ''}`).join('; ')}`);
    return { ms, selfMs: (c.user + c.system) / 1000, machineMs: machine, cores: cpus().length };
  },
  /** RSS with every host connected minus RSS before, after full GCs: bytes per connected host. */
  async memPerHost(config: string, hosts: string[]) {
    const pool = benchPool(config);
    await new Promise((r) => setTimeout(r, 200));
    const idle = rss();
    // 64 connects at a time, as checkFleet does: 500 at once overrun the connect timeout on a loaded machine.
    for (let i = 0; i < hosts.length; i += 64) await Promise.all(hosts.slice(i, i + 64).map((h) => pool.connection(h)));
    await new Promise((r) => setTimeout(r, 1000));
    const connected = rss();
    const live = hosts.filter((h) => pool.isConnected(h)).length;
    await pool.dispose();
    return { idle, connected, live, perHost: (connected - idle) / live };
  },
  async assertPureJs() {
    if (Object.keys(require.cache).some((k) => k.endsWith('sshcrypto.node'))) throw new Error('sshcrypto.node was loaded');
  },
};

process.on('message', (m: { id: number; op: string; args: never[] }) => {
  if (m.op === 'exit') {
    process.disconnect();
    return;
  }
  const op = ops[m.op];
  if (!op) return process.send!({ id: m.id, err: `unknown op ${m.op}` });
  op(...m.args).then(
    (ok) => process.send!({ id: m.id, ok }),
    (err: unknown) => process.send!({ id: m.id, err: err instanceof Error ? err.stack ?? err.message : String(err) }),
  );
});
