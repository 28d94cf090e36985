// A pool that counts the exec and SFTP channels opened through it, and the parked channels it handed out
// again (`reused`): what a feature asks the host for, seen from the client.
import type { ClientChannel } from 'ssh2';
import type { Pool } from '../../src/core/ssh/pool';

export function countingChannels(pool: Pool): { counting: Pool; opened: { sftp: number; exec: number; reused: number }; commands: string[] } {
  const opened = { sftp: 0, exec: 0, reused: 0 };
  const commands: string[] = [];
  const counting = new Proxy(pool, {
    get(target, prop, receiver) {
      if (prop === 'sftp') return (...args: Parameters<Pool['sftp']>) => { opened.sftp++; return target.sftp(...args); };
      if (prop === 'exec') return (...args: Parameters<Pool['exec']>) => { opened.exec++; commands.push(args[1]); return target.exec(...args); };
      if (prop === 'reuse') {
        return (...args: Parameters<Pool['reuse']>) => {
          const lease = target.reuse(...args);
          if (lease) opened.reused++;
          return lease;
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { counting, opened, commands };
}

/** The pid of the shell of `kind` parked on the host's connection, asked of it; the shell is parked again. */
export async function parkedShellPid(pool: Pool, alias: string, kind: string): Promise<string> {
  const lease = pool.reuse<ClientChannel>(alias, kind);
  if (!lease) throw new Error(`no ${kind} parked on ${alias}`);
  const pid = await new Promise<string>((resolve) => {
    let out = '';
    const onData = (d: Buffer) => { out += d.toString(); if (out.endsWith('\n')) { lease.channel.removeListener('data', onData); resolve(out.trim()); } };
    lease.channel.on('data', onData);
    lease.channel.write('echo $$\n');
  });
  if (!pool.park(lease, kind, () => lease.channel.end())) throw new Error(`the ${kind} could not be parked again`);
  return pid;
}
