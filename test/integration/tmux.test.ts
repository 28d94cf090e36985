// Agents in tmux on real lab hosts (isolated: each host its own /home and /tmp, so its own tmux server).
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliInProcess } from './cliInProcess';
import type { Pool } from '../../src/core/ssh/pool';
import { countingChannels, parkedShellPid } from './countingPool';
import { AttachedSession, type AttachEnd } from '../../src/core/tmux/attach';
import { runScript } from '../../src/core/tmux/remote';
import {
  AGENTS_LISTING_SHELL, AgentError, broadcast, capturePane, listAgents, MissingDirectoryError, panesOf, SessionExistsError, sendText, spawnAgent,
  type AgentPane, type HostAgents,
} from '../../src/core/tmux/sessions';
import { startFleet, type TestFleet } from './fleet';

const FAKE_AGENT = readFileSync(new URL('./fixtures/fake-agent.sh', import.meta.url), 'utf8');

let fleet: TestFleet;
let pool: Pool;
let hosts: string[];
const serverPids: number[] = [];

async function sh(alias: string, script: string, stdin?: string): Promise<string> {
  const r = await runScript(pool, alias, script, { stdin });
  if (r.code !== 0) throw new Error(`${alias}: ${script} → ${r.code}: ${r.stderr}`);
  return r.stdout;
}

async function until<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T;
  do {
    last = await probe();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 150));
  } while (Date.now() < end);
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last).slice(0, 2000)}`);
}

function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function pane(h: HostAgents, session: string): AgentPane {
  const found = panesOf(h).find((p) => p.target.startsWith(`${h.host}:${session}:`));
  if (!found) throw new Error(`no pane of ${session} in ${JSON.stringify(h).slice(0, 1000)}`);
  return found;
}

function collect(s: AttachedSession): { text: () => string } {
  let buf = '';
  s.onData((d) => { buf += d; });
  return { text: () => buf };
}

function ended(s: AttachedSession): Promise<AttachEnd> {
  return new Promise((resolve) => s.onExit(resolve));
}

beforeAll(async () => {
  fleet = await startFleet({ hosts: 3, plain: true, isolated: true });
  pool = fleet.pool();
  hosts = fleet.aliases('normal');
  for (const h of hosts.slice(0, 2)) {
    await sh(h, 'mkdir -p "$HOME/proj a" "$HOME/proj-b" && cat > "$HOME/fake-agent.sh" && chmod +x "$HOME/fake-agent.sh"', FAKE_AGENT);
  }
});

afterAll(async () => {
  if (!fleet) return;
  for (const h of hosts) {
    const pid = (await runScript(pool, h, 'tmux display-message -p "#{pid}" 2>/dev/null; tmux kill-server 2>/dev/null; true')).stdout.trim();
    if (pid) serverPids.push(Number(pid));
  }
  await fleet.stop();
  // The tmux servers (daemons outside sshd's process tree) must be gone too; they take a moment to exit.
  const alive = () => serverPids.filter(isRunning);
  await until('the tmux servers to exit', async () => alive(), (pids) => pids.length === 0);
});

describe('tmux agents on lab hosts', () => {
  it('reports no-server for a host whose tmux server is not running', async () => {
    const h = await listAgents(pool, hosts[2]!);
    expect(h.state).toBe('no-server');
  });

  it('lists in a shell kept on the connection: the next listing opens no channel; one the host ended is replaced', async () => {
    const alias = hosts[2]!;
    const { counting, opened, commands } = countingChannels(pool);
    expect((await listAgents(counting, alias)).state).toBe('no-server');
    const before = { ...opened };
    expect((await listAgents(counting, alias)).state).toBe('no-server');
    expect(opened).toEqual({ ...before, reused: before.reused + 1 });
    // The parked shell, killed on the host.
    const pid = await parkedShellPid(pool, alias, AGENTS_LISTING_SHELL);
    await sh(alias, `kill ${pid}`);
    commands.length = 0;
    expect((await listAgents(counting, alias)).state).toBe('no-server');
    expect(commands).toEqual(['exec /bin/sh -s']);
  });

  it('refuses to spawn into a directory that does not exist, saying where', async () => {
    const err = await spawnAgent(pool, hosts[0]!, { dir: '~/no/such/dir', command: 'sh', session: 'nowhere' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MissingDirectoryError);
    expect((err as Error).message).toMatch(new RegExp(`^directory does not exist on ${hosts[0]}: /.*/no/such/dir$`));
  });

  it('spawns on two hosts and lists them with cwd, command and attention', async () => {
    const [a, b] = hosts as [string, string];
    expect(await spawnAgent(pool, a, { dir: '~/proj a', command: 'sh', session: 'shell-a' })).toBe(`${a}:shell-a`);
    expect(await spawnAgent(pool, b, { dir: '~/proj-b', command: ['sh'], session: 'shell-b' })).toBe(`${b}:shell-b`);
    expect(await spawnAgent(pool, a, { dir: '~/proj a', command: '"$HOME/fake-agent.sh"', session: 'fake' })).toBe(`${a}:fake`);

    const la = await until('the shell prompt on A', () => listAgents(pool, a), (h) => h.state === 'ok' && /[$#] *$/.test(pane(h, 'shell-a').capture.trimEnd()));
    const shellA = pane(la, 'shell-a');
    // A plain shell at its prompt runs no agent: nothing is waiting for the user (issue 19, point 3).
    expect(shellA.attention).toBe('idle');
    expect(shellA).toMatchObject({ target: `${a}:shell-a:0`, command: 'sh', active: true, dead: false });
    expect(shellA.cwd).toMatch(/\/proj a$/);
    expect(la.state === 'ok' && la.sessions.map((s) => s.name).sort()).toEqual(['fake', 'shell-a']);
    const lb = await listAgents(pool, b);
    expect(lb.state).toBe('ok');
    expect(pane(lb, 'shell-b').cwd).toMatch(/\/proj-b$/);
    expect(panesOf(lb)).toHaveLength(1); // each host its own server
  });

  it('refuses an existing session name and reports a command that dies at once', async () => {
    await expect(spawnAgent(pool, hosts[0]!, { dir: '~', command: 'sh', session: 'shell-a' })).rejects.toBeInstanceOf(SessionExistsError);
    const err = await spawnAgent(pool, hosts[0]!, { dir: '~', command: 'no-such-agent-xyz --go', session: 'broken' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentError);
    expect((err as Error).message).toMatch(/no-such-agent-xyz: not found[\s\S]*status 127/);
    const l = await listAgents(pool, hosts[0]!);
    expect(panesOf(l).some((p) => p.target.includes(':broken:'))).toBe(false); // cleaned up, name free again
  });

  it('sends text to a pane and captures the result', async () => {
    const t = `${hosts[1]}:shell-b`;
    await sendText(pool, t, "echo 'it''s' hello-$((6*7))");
    const text = await until('the echo', () => capturePane(pool, t, 40), (c) => c.includes('\nits hello-42'));
    expect(text).toContain("echo 'it''s' hello-$((6*7))"); // typed literally, not interpreted by tmux or our shell
  });

  it('broadcasts to panes on both hosts', async () => {
    const targets = [`${hosts[0]}:shell-a`, `${hosts[1]}:shell-b:0`, `${hosts[1]}:missing`];
    const results = await broadcast(pool, targets, 'echo from-$((40+2))-broadcast');
    expect(results.slice(0, 2)).toEqual([{ target: targets[0], ok: true }, { target: targets[1], ok: true }]);
    expect(results[2]).toMatchObject({ target: targets[2], ok: false });
    for (const t of targets.slice(0, 2)) {
      await until(`broadcast on ${t}`, () => capturePane(pool, t), (c) => c.includes('\nfrom-42-broadcast'));
    }
  });

  it('classifies the scripted agent: waiting at its question, working after the answer, then idle', async () => {
    const a = hosts[0]!;
    const waiting = await until('the question', () => listAgents(pool, a), (h) => h.state === 'ok' && pane(h, 'fake').attention === 'waiting');
    expect(pane(waiting, 'fake').capture).toContain('Do you want to proceed? (y/n)');
    const again = await listAgents(pool, a, waiting);
    expect(pane(again, 'fake').attention).toBe('waiting'); // unchanged, still asking

    await sendText(pool, `${a}:fake`, 'y');
    await until('the work after the answer', () => capturePane(pool, `${a}:fake`), (c) => c.includes('All changes applied.'));
    const working = await listAgents(pool, a, again);
    expect(pane(working, 'fake').attention).toBe('working');
    const idle = await listAgents(pool, a, working);
    expect(pane(idle, 'fake').attention).toBe('idle');
    expect(pane(idle, 'fake').command).toBe('sleep');
    // Without a previous look, the in-command sample (as the CLI does) agrees.
    expect(pane(await listAgents(pool, a, undefined, { sampleMs: 300 }), 'fake').attention).toBe('idle');
  });

  it('attaches with a pty, resizes, detaches and re-attaches to the same session', async () => {
    const b = hosts[1]!;
    const first = await AttachedSession.open(pool, `${b}:shell-b`, { cols: 80, rows: 24 });
    const out1 = collect(first);
    first.write('echo hi-$((1+1))\r');
    await until('hi-2 on the data stream', async () => out1.text(), (t) => t.includes('hi-2'));

    first.resize(132, 50);
    const clients = () => sh(b, "tmux list-clients -F '#{client_width}x#{client_height}'");
    expect((await until('the new size', clients, (s) => s.trim() === '132x50')).trim()).toBe('132x50');

    const end1 = ended(first);
    first.detach();
    expect(await end1).toEqual({ reason: 'detached' });
    expect(first.isOpen).toBe(false);
    await until('the client to go', clients, (s) => s.trim() === '');
    expect(await sh(b, "tmux list-sessions -F '#{session_name}'")).toBe('shell-b\n');

    const second = await AttachedSession.open(pool, `${b}:shell-b`, { cols: 100, rows: 30 });
    const out2 = collect(second);
    second.write('echo again-$((2+2))\r');
    await until('again-4', async () => out2.text(), (t) => t.includes('again-4'));
    expect(await capturePane(pool, `${b}:shell-b`)).toContain('hi-2'); // earlier output kept
    const end2 = ended(second);
    second.detach();
    expect((await end2).reason).toBe('detached');
  });

  it('tells a dropped connection apart from a detach, and the session survives it', async () => {
    const b = hosts[1]!;
    const s = await AttachedSession.open(pool, `${b}:shell-b`, { cols: 80, rows: 24 });
    const out = collect(s);
    s.write('echo before-drop\r');
    await until('the echo', async () => out.text(), (t) => t.includes('before-drop'));
    const end = ended(s);
    pool.close(b);
    expect(await end).toEqual({ reason: 'connection-lost' });
    expect(await sh(b, "tmux list-sessions -F '#{session_name}'")).toBe('shell-b\n');
  });

  it('flotilla agents --json lists every host with attention, from a fresh process state', async () => {
    const r = await cliInProcess(['--ssh-config', fleet.lab.info.sshConfig, '--groups', fleet.lab.info.groups, '--json', 'agents', hosts.join(',')]);
    expect(r.code, r.stderr).toBe(0);
    const parsed = JSON.parse(r.stdout) as { hosts: { host: string; state: string; sessions: { target: string; session: string; window: number; command: string; cwd: string; attention: string }[] }[] };
    expect(parsed.hosts.map((h) => [h.host, h.state])).toEqual([[hosts[0], 'ok'], [hosts[1], 'ok'], [hosts[2], 'no-server']]);
    const shellA = parsed.hosts[0]!.sessions.find((x) => x.session === 'shell-a');
    expect(shellA).toMatchObject({ target: `${hosts[0]}:shell-a:0`, window: 0, command: 'sh', attention: 'idle' }); // a plain shell waits for nobody
    expect(shellA!.cwd).toMatch(/\/proj a$/);
  });

  it('creates a session on attach when asked, and reports the client exiting with the session', async () => {
    const c = hosts[2]!;
    const s = await AttachedSession.open(pool, `${c}:fresh`, { cols: 80, rows: 24, create: true });
    const out = collect(s);
    const listed = await until('the new session', () => listAgents(pool, c), (h) => h.state === 'ok' && panesOf(h).length === 1);
    expect(pane(listed, 'fresh').target).toBe(`${c}:fresh:0`);
    const end = ended(s);
    s.write('exit\r');
    expect(await end).toMatchObject({ reason: 'exited', code: 0 });
    expect(out.text()).toContain('exited');
    expect((await listAgents(pool, c)).state).toBe('no-server');
  });
});
