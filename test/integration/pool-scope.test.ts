// Per-connection disposal scopes on the lab fleet: what is added to a connection's scope is disposed when
// that connection closes (closed by us, dropped by the server, retired after new settings once idle),
// and never because of another connection to the same host.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execOn, startFleet, waitUntil, type TestFleet } from './fleet';

const canRunLab = process.getuid?.() === 0;

describe.skipIf(!canRunLab)('connection disposal scopes', () => {
  let fleet: TestFleet;
  beforeAll(async () => {
    fleet = await startFleet({ hosts: 1 });
  });
  afterAll(async () => {
    await fleet?.stop();
  });

  it('disposes the resources of a connection that is closed, and a new connection has a new scope', async () => {
    const pool = fleet.pool();
    const scope = await pool.scope('lab-1');
    let disposed = 0;
    scope.add({ dispose: () => disposed++ });
    const gone = scope.add({ dispose: () => disposed++ });
    gone.dispose(); // ended on its own: taken out, never disposed by the scope
    expect((await execOn(pool, 'lab-1', 'echo hi')).out).toBe('hi\n');
    expect(disposed).toBe(0);
    pool.close('lab-1');
    expect(disposed).toBe(1);
    expect(scope.closed).toBe(true);
    const next = await pool.scope('lab-1');
    expect(next).not.toBe(scope);
    expect(next.closed).toBe(false);
    let late = 0;
    scope.add({ dispose: () => late++ });
    expect(late).toBe(1); // added to a closed scope: disposed at once
    await pool.dispose();
    expect(next.closed).toBe(true);
  });

  it('disposes them when the server drops the connection', async () => {
    const pool = fleet.pool();
    const scope = await pool.scope('lab-1');
    let disposed = false;
    scope.add({ dispose: () => (disposed = true) });
    // The command's parent is the sshd process serving this connection: killing it drops the connection.
    await execOn(pool, 'lab-1', 'kill -9 $PPID').catch(() => undefined);
    await waitUntil(() => disposed, 10_000, 'the scope of the dropped connection closed');
    const again = await pool.scope('lab-1');
    expect(again.closed).toBe(false);
    expect((await execOn(pool, 'lab-1', 'echo back')).out).toBe('back\n');
  });

  it('keeps the scope of a retired connection while it serves a channel, and closes it once it is idle', async () => {
    const pool = fleet.pool({ idleCloseMs: 2000 });
    const old = await pool.scope('lab-1');
    const lease = await pool.exec('lab-1', 'sleep 1; echo done'); // a channel open on it
    let out = '';
    lease.channel.on('data', (d: Buffer) => (out += d.toString()));
    const busy = new Promise<void>((r) => lease.channel.once('close', () => r()));
    pool.reconfigure({ connectTimeoutMs: 4000 });
    const fresh = await pool.scope('lab-1');
    expect(fresh).not.toBe(old);
    expect(old.closed).toBe(false);
    await busy;
    expect(out).toBe('done\n');
    expect(fresh.closed).toBe(false);
    await waitUntil(() => old.closed, 10_000, 'the retired connection closed once idle');
    await pool.dispose();
  });
});
