// exec-warm-50 / exec-warm-50-pssh / exec-cold-50: `true` on 50 lab hosts through startRun (core exec), in
// the pure-JS worker. Peers in the same run, rounds alternating with Flotilla's:
// - warm: a minimal pooled raw-ssh2 exec loop (worker.ts) and parallel-ssh over established ControlMasters;
// - cold: raw ssh2 connect+auth+exec with the same algorithms (worker.ts).
// The warm raw loop also runs Flotilla's exec string for `true` (`# exec-warm-50 floor`): what the hosts'
// side of that string costs, apart from Flotilla's own. What `--cpu-prof` showed on the warm rounds (issue #20,
// 50 lab hosts on 2 cores): ~55 % of samples in the socket's native writev (on loopback the write also runs
// the receiving sshd's side, and the writer waits for a core while 50 sshds and shells run), ssh2's cipher
// ~6 %, Flotilla's run engine ~5 % and pool ~2 % self time; the extra /bin/sh exec per host is most of the
// gap to raw `true`.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Lab } from '../test/lab/lab';
import { buildRemoteCommand } from '../src/core/ssh/quote';
import { topCosts } from './profile';
import { aliases, benchConfig, line, median, PURE_JS_NOTE, pureJsWorker, spread, timeIt } from './lib';

const run = promisify(execFile);
const WARM_ROUNDS = 15;
const COLD_ROUNDS = 5;

/** `cpuProf`: a directory; the warm Flotilla rounds are then also run under the profiler and its top costs printed. */
export async function runExecBench(lab: Lab, dir: string, log: (s: string) => void, cpuProf?: string): Promise<void> {
  const hosts = aliases(50);
  const config = benchConfig(lab, dir, 10);
  const hostsFile = join(dir, 'pssh-hosts-50');
  writeFileSync(hostsFile, hosts.join('\n') + '\n');
  const ctlPath = join(dir, 'cm-%C');
  const ssh = (args: string[]) => run('ssh', ['-F', config, '-o', `ControlPath=${ctlPath}`, ...args]);
  const pssh = () => run('parallel-ssh', ['-p', '50', '-t', '30', '-h', hostsFile, '-x', `-F ${config} -o ControlPath=${ctlPath} -o ControlMaster=no`, 'true'], { maxBuffer: 1 << 24 });
  const worker = pureJsWorker();
  let mastersUp = false;
  try {
    await worker.call('warmSetup', config, hosts);
    mastersUp = true;
    await Promise.all(hosts.map((h) => ssh(['-M', '-N', '-f', h])));
    await pssh();
    const f: number[] = [], raw: number[] = [], rawForm: number[] = [], ps: number[] = [];
    for (let i = 0; i < WARM_ROUNDS; i++) {
      const round = [
        async () => f.push(await worker.call<number>('warmFlotilla', hosts)),
        async () => raw.push(await worker.call<number>('warmRaw')),
        async () => rawForm.push(await worker.call<number>('warmRaw', true)),
        async () => ps.push(await timeIt(pssh)),
      ];
      for (let k = 0; k < round.length; k++) await round[(k + i) % round.length]!();
    }
    if (cpuProf) {
      const file = join(cpuProf, `exec-warm-50-${Date.now()}.cpuprofile`);
      await worker.call('warmProfile', hosts, 30, file);
      for (const l of topCosts(file)) log(`# profile: ${l}`);
    }
    await worker.call('warmTeardown');
    await Promise.all(hosts.map((h) => ssh(['-O', 'exit', h]).catch(() => {})));
    mastersUp = false;
    log(`# exec warm: ${PURE_JS_NOTE}; startRun('true') on 50 pooled connections; peers in the same worker / run, rounds interleaved; ` +
      `medians of ${WARM_ROUNDS}: flotilla ${spread(f)}, raw ssh2 ${spread(raw)}, parallel-ssh ${spread(ps)} (ms)`);
    log(line('exec-warm-50', median(f), 'raw-ssh2', median(raw)));
    log(`# exec-warm-50 floor: the same raw loop sending Flotilla's exec string for \`true\` (\`${buildRemoteCommand('true', { reportPgid: true })}\`: ` +
      `every run goes through /bin/sh whatever the login shell, and reports its process group for cancel) takes ${spread(rawForm)} ms, median ` +
      `${median(rawForm).toFixed(0)}: ${(median(rawForm) / median(raw)).toFixed(2)}× raw ssh2 \`true\` on the hosts' side alone; Flotilla is ` +
      `${(median(f) / median(rawForm)).toFixed(2)}× that loop`);
    log(line('exec-warm-50-pssh', median(f), 'parallel-ssh', median(ps)));
    log(`# exec-warm-50-pssh floor: the raw ssh2 loop itself is ${(median(raw) / median(ps)).toFixed(2)}× parallel-ssh on these hosts (the hosts' side of 50 execs)`);

    const cf: number[] = [], cr: number[] = [];
    for (let i = 0; i <= COLD_ROUNDS; i++) {
      const a = await worker.call<number>(i % 2 ? 'coldRaw' : 'coldFlotilla', config, hosts);
      const b = await worker.call<number>(i % 2 ? 'coldFlotilla' : 'coldRaw', config, hosts);
      if (i === 0) continue; // warms the JIT and the OS's caches
      (i % 2 ? cr : cf).push(a);
      (i % 2 ? cf : cr).push(b);
    }
    await worker.call('assertPureJs');
    log(`# exec cold: connect+auth+exec of 50 fresh connections; raw ssh2 gets the algorithms Flotilla's connect passes ` +
      `(kex curve25519-sha256 with these sshds); medians of ${COLD_ROUNDS}: flotilla ${spread(cf)}, raw ssh2 ${spread(cr)} (ms)`);
    log(line('exec-cold-50', median(cf), 'raw-ssh2', median(cr)));
  } finally {
    if (mastersUp) await Promise.all(hosts.map((h) => ssh(['-O', 'exit', h]).catch(() => {})));
    await worker.stop();
  }
}
