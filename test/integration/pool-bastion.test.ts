// 40 hosts through one bastion: one shared jump connection, every target reached, no drop surfaces.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveHost } from '../../src/core/config/sshConfig';
import { execOut as run, startFleet, type TestFleet } from './fleet';

const canRunLab = process.getuid?.() === 0;
const HOSTS = 40;

describe.skipIf(!canRunLab)('many hosts through one bastion', () => {
  let fleet: TestFleet;
  let config: string;
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown) => uncaught.push(e);

  beforeAll(async () => {
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    fleet = await startFleet({ hosts: HOSTS, behindBastion: 1 });
    const info = fleet.lab.info;
    const common = [`  IdentityFile ${info.identityFile}`, '  IdentitiesOnly yes', `  UserKnownHostsFile ${info.knownHosts}`, '  ConnectTimeout 5'];
    const bastion = info.hosts.find((h) => h.alias === 'bastion')!;
    const blocks = [[`Host bastion`, `  HostName ${bastion.address}`, `  Port ${bastion.port}`, `  User ${bastion.user}`, ...common].join('\n')];
    for (let i = 1; i <= HOSTS; i++) {
      const h = info.hosts.find((x) => x.alias === `lab-${i}`)!;
      blocks.push([`Host far-${i}`, `  HostName ${h.address}`, `  Port ${h.port}`, `  User ${h.user}`, '  ProxyJump bastion', ...common].join('\n'));
    }
    config = join(fleet.dir, 'bastion_config');
    writeFileSync(config, blocks.join('\n\n') + '\n');
  });
  afterAll(async () => {
    await fleet?.stop();
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
  });
  afterEach(() => expect(uncaught).toEqual([]));

  it(`reaches ${HOSTS} hosts at once through one shared bastion connection`, async () => {
    const pool = fleet.pool({ resolve: (alias) => resolveHost(alias, { configFile: config }) });
    const bastionLog = fleet.lab.info.hosts.find((h) => h.alias === 'bastion')!.sshdLog!;
    const before = readFileSync(bastionLog).length;
    const t0 = Date.now();
    const results = await Promise.all(Array.from({ length: HOSTS }, (_, i) => run(pool, `far-${i + 1}`, `echo far-${i + 1}`)));
    const ms = Date.now() - t0;
    results.forEach((r, i) => expect(r).toEqual({ out: `far-${i + 1}\n`, code: 0 }));
    const log = readFileSync(bastionLog).subarray(before).toString();
    expect(log.match(/Accepted publickey/g)?.length).toBe(1);
    expect(log.match(/server_request_direct_tcpip/g)?.length).toBeGreaterThanOrEqual(HOSTS);
    console.log(`${HOSTS} hosts through one bastion: ${ms} ms`);
    // A second round reuses every pooled connection.
    const again = await Promise.all(Array.from({ length: HOSTS }, (_, i) => run(pool, `far-${i + 1}`, 'true')));
    expect(again.every((r) => r.code === 0)).toBe(true);
    expect(readFileSync(bastionLog).subarray(before).toString().match(/Accepted publickey/g)?.length).toBe(1);
    await pool.dispose();
  });
});
