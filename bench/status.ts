// status-500-cold: `flotilla hosts --status` (the built CLI, pure-JS ssh2) on 500 cold lab hosts against
// `parallel-ssh -p 500` running the same probe script, alternating. status-500-warm: the same checkFleet
// refresh on 500 pooled connections (what the Hosts view does every interval), against the goal.
// mem-500: RSS of a process with 500 connected hosts minus its RSS before connecting, per host.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { probeScript, SLOW_FACTS_MS } from '../src/core/health/metrics';
import type { Lab } from '../test/lab/lab';
import { aliases, benchConfig, line, median, PURE_JS_NOTE, pureJsWorker, spread, timeIt, writeNoNativePreload } from './lib';

const run = promisify(execFile);
const CLI = resolve(__dirname, '../dist/cli.js');
const COLD_ROUNDS = 3;
const WARM_ROUNDS = 5;
export const STATUS_WARM_GOAL_MS = 1500;
export const MEM_GOAL_MIB = 0.3;

function flotillaStatus(preload: string, config: string, groups: string, store: string): Promise<void> {
  return new Promise((res, rej) => {
    const args = ['--require', preload, CLI, '-F', config, '--groups', groups, '--store', store, '--json', 'hosts', 'fleet', '--status'];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', rej);
    child.on('close', (code) => {
      if (code === 0) return res();
      let bad = '';
      try {
        bad = (JSON.parse(out) as { hosts: { alias: string; state: string; reason: string | null }[] }).hosts
          .filter((h) => h.state !== 'online').slice(0, 5).map((h) => `${h.alias} ${h.state} ${h.reason}`).join('; ');
      } catch { /* not JSON */ }
      rej(new Error(`flotilla hosts --status exited ${code}: ${bad || err.slice(-500)}`));
    });
  });
}

export async function runStatusBench(lab: Lab, dir: string, log: (s: string) => void): Promise<void> {
  const hosts = aliases(Math.min(500, lab.info.hosts.filter((h) => /^lab-\d+$/.test(h.alias)).length));
  const config = benchConfig(lab, dir, 20);
  const hostsFile = join(dir, 'pssh-hosts-500');
  writeFileSync(hostsFile, hosts.join('\n') + '\n');
  const script = probeScript('~');
  const pssh = () => run('parallel-ssh', ['-p', '500', '-t', '60', '-h', hostsFile, '-x', `-F ${config} -o KexAlgorithms=curve25519-sha256 -o ControlMaster=no -o ControlPath=none`, script], { maxBuffer: 1 << 26 });
  const scratch = mkdtempSync(join(tmpdir(), 'flotilla-bench-status-'));
  const preload = writeNoNativePreload(scratch);
  let psshMs = NaN;
  try {
    const f: number[] = [], p: number[] = [];
    for (let i = 0; i < COLD_ROUNDS; i++) {
      const store = join(scratch, `store-${i}`);
      const ours = () => timeIt(() => flotillaStatus(preload, config, lab.info.groups, store));
      if (i % 2) { p.push(await timeIt(pssh)); f.push(await ours()); } else { f.push(await ours()); p.push(await timeIt(pssh)); }
    }
    log(`# status cold: \`flotilla hosts fleet --status --json\` (dist/cli.js, ${PURE_JS_NOTE}) vs parallel-ssh -p 500 -o KexAlgorithms=curve25519-sha256 ` +
      `running the same probe script (metrics.ts probeScript, includes a 0.25 s CPU sample); alternating, medians of ${COLD_ROUNDS}: flotilla ${spread(f)}, parallel-ssh ${spread(p)} (ms)`);
    log(line('status-500-cold', median(f), 'parallel-ssh', median(p)));
    psshMs = median(p);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }

  const worker = pureJsWorker();
  try {
    const floor = await worker.call<{ ms: number; selfMs: number; machineMs: number; cores: number }>('statusColdFloor', config, hosts);
    const hostSide = floor.machineMs - floor.selfMs;
    log(`# status cold floor: one cold checkFleet of ${hosts.length} hosts in the worker took ${floor.ms.toFixed(0)} ms; the machine spent ` +
      `${(floor.machineMs / 1000).toFixed(1)} s of CPU meanwhile, Flotilla's process ${(floor.selfMs / 1000).toFixed(1)} s of it; the rest, ` +
      `${(hostSide / 1000).toFixed(1)} s (sshd, login shells, the probe: the hosts' side, the same for any client), needs ` +
      `${(hostSide / floor.cores).toFixed(0)} ms on ${floor.cores} cores at least, ${(hostSide / floor.cores / psshMs).toFixed(2)}× parallel-ssh's median`);
    await worker.call('statusWarmSetup', config, hosts);
    const w: number[] = [], full: number[] = [];
    for (let i = 0; i < WARM_ROUNDS; i++) {
      w.push(await worker.call<number>('statusWarm', hosts));
      if (i < 3) full.push(await worker.call<number>('statusWarm', hosts, true));
    }
    await worker.call('statusTeardown');
    log(`# status warm: checkFleet on 500 pooled connections (rtt + probe per host, one metrics cache across rounds as the Hosts ` +
      `view keeps: a probe within ${SLOW_FACTS_MS / 60_000} min of a full one reuses its clock and disk, starts no program and is written to a shell kept on the connection, which the first such round opens), ` +
      `median of ${WARM_ROUNDS}: ${spread(w)} (ms); full probes (date, df, the 0.25 s CPU sample), median of ${full.length}: ${median(full).toFixed(0)} ms`);
    log(line('status-500-warm', median(w), 'goal', STATUS_WARM_GOAL_MS));
  } finally {
    await worker.stop();
  }
}

export async function runMemBench(lab: Lab, dir: string, log: (s: string) => void): Promise<void> {
  const hosts = aliases(Math.min(500, lab.info.hosts.filter((h) => /^lab-\d+$/.test(h.alias)).length));
  const config = benchConfig(lab, dir, 20);
  const memWorker = pureJsWorker();
  try {
    const m = await memWorker.call<{ idle: number; connected: number; live: number; perHost: number }>('memPerHost', config, hosts);
    await memWorker.call('assertPureJs');
    const mib = (b: number) => b / 1048576;
    log(`# mem: one pure-JS process, RSS after gc: idle ${mib(m.idle).toFixed(0)} MiB, ${m.live} hosts connected ${mib(m.connected).toFixed(0)} MiB`);
    log(line('mem-500', mib(m.perHost), 'goal', MEM_GOAL_MIB, 'MiB/host'));
  } finally {
    await memWorker.stop();
  }
}
