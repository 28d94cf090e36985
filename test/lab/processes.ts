import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { createConnection } from 'node:net';

export interface DetachedProcess {
  pid: number;
  /** The process leads its own group: pgid === pid. */
  pgid: number;
  /** Resolves with the exit code (or signal) if the process dies while we are still watching. */
  exited: Promise<string>;
}

/**
 * Starts a long-lived process in its own process group (and session), stdout/stderr appended to `logFile`,
 * not tied to this Node process: it keeps running after we exit.
 */
export function spawnDetached(file: string, args: readonly string[], logFile: string): DetachedProcess {
  const logFd = openSync(logFile, 'a');
  try {
    const child = spawn(file, args, { detached: true, stdio: ['ignore', logFd, logFd] });
    if (child.pid === undefined) throw new Error(`could not start ${file}`);
    const exited = new Promise<string>((resolve) => {
      child.once('exit', (code, signal) => resolve(signal ?? `exit ${code}`));
      child.once('error', (error) => resolve(error.message));
    });
    child.unref();
    return { pid: child.pid, pgid: child.pid, exited };
  } finally {
    closeSync(logFd);
  }
}

export interface ProcessEntry {
  pid: number;
  ppid: number;
  pgid: number;
  state: string;
  cmdline: string;
  /** Start time in clock ticks since boot (/proc/PID/stat field 22). */
  startTicks: number;
}

/** Every process visible in /proc (zombies included, state 'Z'). */
export function listProcesses(): ProcessEntry[] {
  const entries: ProcessEntry[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // "pid (comm) state ppid pgrp ..." — comm may contain spaces and parentheses.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      let cmdline = '';
      try {
        cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      } catch {
        // process vanished or kernel thread
      }
      entries.push({
        pid: Number(name),
        state: fields[0] ?? '?',
        ppid: Number(fields[1]),
        pgid: Number(fields[2]),
        startTicks: Number(fields[19]),
        cmdline,
      });
    } catch {
      // the process exited while we were reading
    }
  }
  return entries;
}

/** Command line of a live process ('' when gone). */
export function cmdlineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

/** "mnt:[4026531841]" of a process, or undefined when it is gone. */
export function mountNamespaceOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return undefined;
  }
}

/** Live (non-zombie) processes that belong to the lab: in one of its groups or namespaces, or descended from those. */
/** Clock ticks since boot now, comparable with ProcessEntry.startTicks (USER_HZ is 100 on Linux). */
export function nowTicks(): number {
  return Math.ceil(Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 100);
}

/**
 * `startedBy`: processes started later are never selected by namespace alone. A namespace freed while a lab
 * stops can get its inode number reused by a new one — another lab's sshd starting at that moment.
 */
export function labProcesses(pgids: readonly number[], mountNamespaces: readonly string[], listed = listProcesses(), startedBy = Infinity): ProcessEntry[] {
  const all = listed.filter((p) => p.state !== 'Z' && p.pid !== process.pid);
  const groups = new Set(pgids);
  // Never treat the namespace we (or init) live in as a lab namespace: that would select every process.
  const shared = new Set([mountNamespaceOf(process.pid), mountNamespaceOf(1)]);
  const namespaces = new Set(mountNamespaces.filter((ns) => !shared.has(ns)));
  const selected = new Map<number, ProcessEntry>();
  for (const p of all) {
    if (groups.has(p.pgid)) selected.set(p.pid, p);
    else if (namespaces.size > 0) {
      const ns = mountNamespaceOf(p.pid);
      if (ns !== undefined && namespaces.has(ns) && p.startTicks <= startedBy) selected.set(p.pid, p);
    }
  }
  // Descendants (e.g. per-connection sshd children, which call setsid()).
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of all) {
      if (!selected.has(p.pid) && selected.has(p.ppid)) {
        selected.set(p.pid, p);
        grew = true;
      }
    }
  }
  return [...selected.values()];
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** True while `kill(-pgid, 0)` succeeds and the group still has a non-zombie member. */
export function processGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  return listProcesses().some((p) => p.pgid === pgid && p.state !== 'Z');
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * SIGTERM to every group and every lab process, then SIGKILL to whatever is left after `graceMs`.
 * Resolves when nothing of the lab is alive; throws if something survives SIGKILL.
 */
export async function killLabProcesses(
  pgids: readonly number[],
  mountNamespaces: readonly string[],
  graceMs = 3000,
): Promise<void> {
  // One /proc scan per round, shared by both checks: a 500-host lab has 500 groups and thousands of processes.
  const groups = new Set(pgids);
  const startedBy = nowTicks() + 1;
  const scan = () => {
    const listed = listProcesses();
    const lab = labProcesses(pgids, mountNamespaces, listed, startedBy);
    const groupAlive = listed.some((p) => groups.has(p.pgid) && p.state !== 'Z');
    return { lab, alive: lab.length > 0 || groupAlive };
  };

  for (const sig of ['SIGTERM', 'SIGKILL'] as const) {
    for (const pgid of pgids) signal(-pgid, sig);
    for (const p of scan().lab) signal(p.pid, sig);
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline) {
      const now = scan();
      if (!now.alive) return;
      // Late children (a connection accepted during shutdown) get the same signal.
      for (const p of now.lab) signal(p.pid, sig);
      await sleep(50);
    }
  }
  const last = scan();
  const left = last.lab;
  if (last.alive) {
    throw new Error(`lab processes survived SIGKILL: ${left.map((p) => `${p.pid} ${p.cmdline}`).join('; ')}`);
  }
}

/** Polls until a TCP connect to address:port succeeds. Rejects early if `exited` settles first. */
export async function waitForTcp(
  address: string,
  port: number,
  timeoutMs: number,
  exited?: Promise<string>,
): Promise<void> {
  let exitReason: string | undefined;
  void exited?.then((reason) => {
    exitReason = reason;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exitReason !== undefined) throw new Error(`process exited (${exitReason}) before ${address}:${port} accepted`);
    if (await tryConnect(address, port)) return;
    await sleep(25);
  }
  throw new Error(`${address}:${port} did not accept connections within ${timeoutMs} ms`);
}

function tryConnect(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: address, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
