// health-50: checkFleet (what `flotilla hosts --status` runs) on 50 hosts, 10 of them dead (refused)
// or black-holed (TCP accepted, no SSH banner), against the configured ConnectTimeout: one dead host
// must never cost more than one timeout, so the ratio should stay ≤ 1.2. Measured in a pure-JS child.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricsCache } from '../src/core/health/metrics';
import { checkFleet } from '../src/core/health/probe';
import { assertPureJs, benchConfig, benchPool, line, median, pureJsChild, startLabRetry } from './exec';

const CONNECT_TIMEOUT_S = 2;

async function childMain(config: string, hostsCsv: string, rounds: number): Promise<void> {
  const hosts = hostsCsv.split(',');
  const times: number[] = [];
  let states: Record<string, number> = {};
  for (let i = 0; i < rounds; i++) {
    const pool = benchPool(config);
    const t0 = performance.now();
    const health = await checkFleet(pool, hosts, { connectTimeoutMs: CONNECT_TIMEOUT_S * 1000, metrics: new MetricsCache() });
    times.push(performance.now() - t0);
    states = {};
    for (const h of health) states[h.state] = (states[h.state] ?? 0) + 1;
    await pool.dispose();
  }
  assertPureJs();
  process.stdout.write(JSON.stringify({ median: median(times), states }) + '\n');
}

export async function runHealthBench(log: (s: string) => void = console.log): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-bench-health-'));
  const lab = await startLabRetry({ hosts: 40, dir });
  try {
    const clones: Record<string, string> = {};
    for (let i = 2; i <= 5; i++) {
      clones[`dead-${i}`] = 'dead';
      clones[`blackhole-${i}`] = 'blackhole';
    }
    const config = benchConfig(lab, dir, CONNECT_TIMEOUT_S, clones);
    const hosts = [
      ...Array.from({ length: 40 }, (_, i) => `lab-${i + 1}`),
      'dead', 'blackhole', ...Object.keys(clones),
    ];
    const r = await pureJsChild<{ median: number; states: Record<string, number> }>('health.ts', [config, hosts.join(','), '3']);
    log(`# ${r.note}; 40 live + 5 refused + 5 black-holed, ConnectTimeout ${CONNECT_TIMEOUT_S}; states ${JSON.stringify(r.result.states)}; median of 3`);
    log(line('health-50', r.result.median, 'connect-timeout', CONNECT_TIMEOUT_S * 1000));
  } finally {
    await lab.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const main = args[0] === '--child' ? childMain(args[1]!, args[2]!, Number(args[3])) : runHealthBench();
  main.then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
}
