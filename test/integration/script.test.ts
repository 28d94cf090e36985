// runScript (src/core/ssh/script.ts) on a real lab host: the one exec-and-collect under push's hashing, a run's
// temp directory, the tmux commands and the full health probe.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pool } from '../../src/core/ssh/pool';
import { runScript } from '../../src/core/ssh/script';
import { pgrep, startFleet, waitUntil, type TestFleet } from './fleet';

const canRunLab = process.getuid?.() === 0;

describe.skipIf(!canRunLab)('runScript on a lab host', () => {
  let fleet: TestFleet;
  let pool: Pool;

  beforeAll(async () => {
    fleet = await startFleet({ hosts: 1 });
    pool = fleet.pool();
  });
  afterAll(async () => {
    // A closed channel does not stop its command on the host: the sleeps below are short, and waited for.
    await waitUntil(() => pgrep('sleep 3').length + pgrep('sleep 4').length === 0, 8000, 'the sleeps to end');
    await pool?.dispose();
    await fleet?.stop();
  });

  it('passes stdin through byte for byte and keeps stdout, stderr and the exit status apart', async () => {
    const bytes = Buffer.from([0, 1, 2, 0xff, 0xfe, 10, 0x27, 0x22, 0x5c, 0]);
    const started = Date.now();
    const r = await runScript(pool, 'lab-1', 'cat; printf "oops\\n" >&2; exit 7', { stdin: bytes });
    expect(r).toMatchObject({ code: 7, timedOut: false });
    expect(r.stdout.equals(bytes)).toBe(true);
    expect(r.stderr.toString()).toBe('oops\n');
    expect(r.firstOutputAt).toBeGreaterThanOrEqual(started);
  });

  it('reports a script killed by a signal as no exit status', async () => {
    const r = await runScript(pool, 'lab-1', 'kill -KILL $$');
    expect(r).toMatchObject({ code: null, timedOut: false });
  });

  it('keeps at most maxOutputBytes of each stream and still reads the script to its end', async () => {
    const r = await runScript(pool, 'lab-1', 'head -c 200000 /dev/zero; head -c 5000 /dev/zero >&2; exit 3', { maxOutputBytes: 1000 });
    expect(r.code).toBe(3);
    expect(r.stdout.length).toBe(1000);
    expect(r.stderr.length).toBe(1000);
  });

  it('gives up on a script that does not finish in time, with what it printed until then', async () => {
    const started = Date.now();
    const r = await runScript(pool, 'lab-1', 'echo early; exec sleep 3', { timeoutMs: 500 });
    expect(r.timedOut).toBe(true);
    expect(r.stdout.toString()).toBe('early\n');
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it('closes the channel on abort, before and during the run', async () => {
    const before = new AbortController();
    before.abort();
    const started = Date.now();
    expect((await runScript(pool, 'lab-1', 'exec sleep 3', { signal: before.signal })).code).toBe(null);
    expect(Date.now() - started).toBeLessThan(2500);
    const during = new AbortController();
    const running = runScript(pool, 'lab-1', 'exec sleep 4', { signal: during.signal });
    await waitUntil(() => pgrep('sleep 4').length > 0, 5000, 'the script to run on the host');
    const aborted = Date.now();
    during.abort();
    expect((await running).code).toBe(null);
    expect(Date.now() - aborted).toBeLessThan(2500);
  });

  it('gives each channel back: more runs in a row than sshd allows sessions on a connection all finish', async () => {
    for (let i = 0; i < 25; i++) expect((await runScript(pool, 'lab-1', `echo ${i}`)).stdout.toString()).toBe(`${i}\n`);
  });
});
