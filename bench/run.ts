// `npm run bench`: exec (warm/cold), health, and push when bench/push.ts exists. Each starts its own lab.
// Output: one line per figure, `NAME: flotilla X ms, PEER Y ms, ratio Z` (ratio = flotilla ÷ peer), plus
// `#` lines saying how it was measured.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runExecBench } from './exec';
import { runHealthBench } from './health';

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    console.error('bench: the lab fleet needs root');
    return 1;
  }
  let failed = 0;
  const step = async (name: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      failed++;
      console.error(`${name}: FAILED: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    }
  };
  await step('exec', () => runExecBench());
  await step('health', () => runHealthBench());
  if (existsSync(join(__dirname, 'push.ts'))) {
    await step('push', async () => {
      const mod = (await import('./push')) as unknown as { runPushBench?: () => Promise<unknown> };
      if (typeof mod.runPushBench !== 'function') throw new Error('bench/push.ts exports no runPushBench()');
      const lines = await mod.runPushBench(); // returns its figure lines (or prints them itself)
      if (Array.isArray(lines)) for (const l of lines) console.log(String(l));
    });
  }
  return failed ? 1 : 0;
}

main().then((code) => process.exit(code), (err) => { console.error(err); process.exit(1); });
