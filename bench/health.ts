// health-50: the health monitor asked once (what `flotilla hosts --status` runs) on 50 hosts, 10 of them dead (refused) or
// black-holed (TCP accepted, no SSH banner), against the configured ConnectTimeout: one dead host must never
// cost more than one timeout. Measured in the pure-JS worker.
import type { Lab } from '../test/lab/lab';
import { aliases, benchConfig, line, median, PURE_JS_NOTE, pureJsWorker } from './lib';

const CONNECT_TIMEOUT_S = 2;
const ROUNDS = 3;

export async function runHealthBench(lab: Lab, dir: string, log: (s: string) => void): Promise<void> {
  const clones: Record<string, string> = {};
  for (let i = 2; i <= 5; i++) {
    clones[`dead-${i}`] = 'dead';
    clones[`blackhole-${i}`] = 'blackhole';
  }
  const config = benchConfig(lab, dir, CONNECT_TIMEOUT_S, clones);
  const hosts = [...aliases(40), 'dead', 'blackhole', ...Object.keys(clones)];
  const worker = pureJsWorker();
  try {
    const times: number[] = [];
    let states: Record<string, number> = {};
    for (let i = 0; i < ROUNDS; i++) {
      const r = await worker.call<{ ms: number; states: Record<string, number> }>('health', config, hosts, CONNECT_TIMEOUT_S * 1000);
      times.push(r.ms);
      states = r.states;
    }
    await worker.call('assertPureJs');
    log(`# health: ${PURE_JS_NOTE}; 40 live + 5 refused + 5 black-holed, ConnectTimeout ${CONNECT_TIMEOUT_S}; states ${JSON.stringify(states)}; median of ${ROUNDS}`);
    log(line('health-50', median(times), 'connect-timeout', CONNECT_TIMEOUT_S * 1000));
  } finally {
    await worker.stop();
  }
}
