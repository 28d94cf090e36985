// `npm run bench [-- --only bundle,exec,health,status,mem,activation,push] [--cpu-prof DIR] [--lab-hosts N]`
// One lab of 500 hosts serves exec, health, status and activation (code-server + Chromium); push starts its
// own (isolated) lab afterwards. Output: one line per figure, `NAME: flotilla X UNIT, PEER Y UNIT, ratio Z`
// (ratio = flotilla ÷ peer; for absolute goals the peer column is the goal), plus `#` lines saying how.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runActivationBench } from './activation';
import { runBundleBench } from './bundle';
import { runExecBench } from './exec';
import { runHealthBench } from './health';
import { startLabRetry } from './lib';
import { runMemBench, runStatusBench } from './status';

const STEPS = ['bundle', 'exec', 'health', 'status', 'mem', 'activation', 'push'] as const;

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    console.error('bench: the lab fleet needs root');
    return 1;
  }
  const { values } = parseArgs({ options: { only: { type: 'string' }, 'cpu-prof': { type: 'string' }, 'lab-hosts': { type: 'string' } } });
  const only = new Set(values.only ? values.only.split(',') : STEPS);
  for (const s of only) if (!(STEPS as readonly string[]).includes(s)) throw new Error(`unknown step ${s}; steps: ${STEPS.join(',')}`);
  const log = (s: string) => console.log(s);
  log(`# ${new Date().toISOString()}; load average at start ${loadavg().map((l) => l.toFixed(1)).join(' ')} on this machine`);
  let failed = 0;
  const step = async (name: (typeof STEPS)[number], fn: () => Promise<void> | void) => {
    if (!only.has(name)) return;
    try {
      await fn();
    } catch (err) {
      failed++;
      console.error(`${name}: FAILED: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    }
  };
  // The CLI measured by status is dist/cli.js: build first.
  await step('bundle', () => runBundleBench(log));

  if (['exec', 'health', 'status', 'mem', 'activation'].some((s) => only.has(s))) {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-bench-'));
    // --lab-hosts N: a smaller lab for trying the bench out (status then probes N hosts, not 500).
    const hosts = Number(values['lab-hosts'] ?? (['status', 'mem', 'activation'].some((s) => only.has(s)) ? 500 : 50));
    const t0 = Date.now();
    const lab = await startLabRetry({ hosts, dir });
    log(`# lab: ${hosts} sshds on loopback up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    try {
      await step('exec', () => runExecBench(lab, dir, log, values['cpu-prof']));
      await step('health', () => runHealthBench(lab, dir, log));
      await step('status', () => runStatusBench(lab, dir, log));
      await step('mem', () => runMemBench(lab, dir, log));
      await step('activation', () => runActivationBench(lab, log));
    } finally {
      await lab.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  await step('push', async () => {
    const mod = (await import('./push')) as unknown as { runPushBench?: (cpuProf?: string) => Promise<unknown> };
    if (typeof mod.runPushBench !== 'function') throw new Error('bench/push.ts exports no runPushBench()');
    const lines = await mod.runPushBench(values['cpu-prof']);
    if (Array.isArray(lines)) for (const l of lines) log(String(l));
  });
  log(`# load average at end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  return failed ? 1 : 0;
}

main().then((code) => process.exit(code), (err) => { console.error(err); process.exit(1); });
