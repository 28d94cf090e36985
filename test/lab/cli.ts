/**
 * npm run lab -- up   --hosts N --dir DIR [--plain] [--isolated] [--behind K] [--load lab-2=3.5,lab-3=0.2] [--mem lab-2=500000]
 * npm run lab -- load --dir DIR lab-2=3.5[:MEMKB] ...
 * npm run lab -- status --dir DIR
 * npm run lab -- stop-host --dir DIR ALIAS
 * npm run lab -- down --dir DIR [--clean]
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { labJsonPath, readLabState, setLabLoad, startLab, stopLab, stopLabHost } from './lab.js';
import { processGroupAlive } from './processes.js';

const USAGE = `usage:
  npm run lab -- up --hosts N --dir DIR [--plain] [--isolated] [--behind K] [--load ALIAS=L,...] [--mem ALIAS=KB,...]
  npm run lab -- load --dir DIR ALIAS=LOAD[:MEMKB] ...
  npm run lab -- status --dir DIR
  npm run lab -- stop-host --dir DIR ALIAS   (its sshd and sessions: the machine went down)
  npm run lab -- down --dir DIR [--clean]`;

function parseAssignments(text: string | undefined, flag: string): Record<string, number> {
  const result: Record<string, number> = {};
  for (const item of (text ?? '').split(',').filter(Boolean)) {
    const [alias, value] = item.split('=');
    const number = Number(value);
    if (!alias || value === undefined || !Number.isFinite(number)) throw new Error(`bad ${flag} item "${item}" (want ALIAS=NUMBER)`);
    result[alias] = number;
  }
  return result;
}

async function up(values: Record<string, string | boolean | undefined>): Promise<void> {
  const dir = resolve(String(values.dir));
  const hosts = Number(values.hosts ?? 3);
  const lab = await startLab({
    hosts,
    dir,
    plain: values.plain === true,
    isolated: values.isolated === true,
    behindBastion: values.behind === undefined ? undefined : Number(values.behind),
    load: parseAssignments(values.load as string | undefined, '--load'),
    memAvailableKb: parseAssignments(values.mem as string | undefined, '--mem'),
  });
  const state = await readLabState(dir);
  const normal = lab.info.hosts.filter((h) => /^lab-\d+$/.test(h.alias)).map((h) => h.alias);
  const special = lab.info.hosts.filter((h) => !/^lab-\d+$/.test(h.alias)).map((h) => `${h.alias}(${h.role})`);
  const range = normal.length > 1 ? `${normal[0]}..${normal[normal.length - 1]}` : normal[0];
  console.log(`Flotilla lab up in ${state.startSeconds.toFixed(1)} s: ${normal.length} hosts ${range} on ${lab.info.hosts[0]?.address.replace(/\.\d+$/, '.x')}:${lab.info.hosts[0]?.port}`);
  if (special.length > 0) console.log(`special aliases: ${special.join(' ')}`);
  console.log(`
  ssh -F ${lab.info.sshConfig} lab-1 cat /proc/loadavg
  SSH_AUTH_SOCK=${lab.info.agentSock} ssh-add -l
  groups file:   ${lab.info.groups}
  description:   ${labJsonPath(dir)}
  change load:   npm run lab -- load --dir ${dir} lab-2=3.5
  stop:          npm run lab -- down --dir ${dir}`);
}

async function down(dir: string, clean: boolean): Promise<void> {
  if (!existsSync(labJsonPath(dir))) {
    console.log(`no lab.json in ${dir}: nothing to stop`);
    return;
  }
  const state = await readLabState(dir);
  await stopLab(dir);
  const alive = state.pgids.filter(processGroupAlive);
  if (alive.length > 0) throw new Error(`process groups still alive: ${alive.join(' ')}`);
  console.log(`lab in ${dir} stopped (${state.pgids.length} process groups)`);
  if (clean) {
    await rm(dir, { recursive: true, force: true });
    console.log(`removed ${dir}`);
  }
}

async function setLoads(dir: string, items: string[]): Promise<void> {
  for (const item of items) {
    const match = /^([^=]+)=([\d.]+)(?::(\d+))?$/.exec(item);
    if (!match) throw new Error(`bad load item "${item}" (want ALIAS=LOAD[:MEMKB])`);
    const [, alias, load, mem] = match;
    await setLabLoad(dir, alias!, Number(load), mem === undefined ? undefined : Number(mem));
    console.log(`${alias}: load ${load}${mem ? `, MemAvailable ${mem} kB` : ''}`);
  }
}

async function status(dir: string): Promise<void> {
  const state = await readLabState(dir);
  const alive = state.pgids.filter(processGroupAlive).length;
  console.log(`${dir}: ${alive}/${state.pgids.length} process groups alive, started ${state.startedAt}`);
  for (const h of state.hosts) {
    console.log(`  ${h.alias.padEnd(12)} ${h.role.padEnd(14)} ${h.user}@${h.address}:${h.port} ${h.shell}${h.load === undefined ? '' : ` load ${h.load}`}`);
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      hosts: { type: 'string' },
      dir: { type: 'string' },
      plain: { type: 'boolean' },
      isolated: { type: 'boolean' },
      behind: { type: 'string' },
      load: { type: 'string' },
      mem: { type: 'string' },
      clean: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return;
  }
  if (!values.dir) throw new Error(`--dir is required\n${USAGE}`);
  const dir = resolve(values.dir);
  switch (command) {
    case 'up':
      return up(values);
    case 'down':
      return down(dir, values.clean === true);
    case 'load':
      return setLoads(dir, rest);
    case 'status':
      return status(dir);
    case 'stop-host':
      if (rest.length !== 1) throw new Error(`stop-host takes one ALIAS\n${USAGE}`);
      await stopLabHost(dir, rest[0]!);
      console.log(`${rest[0]}: sshd stopped`);
      return;
    default:
      throw new Error(`unknown command ${command}\n${USAGE}`);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
});
